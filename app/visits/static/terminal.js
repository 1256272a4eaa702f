/* The new-visit page, enhanced: patient panel, catalogue search with the keyboard,
   and the live split.  Without this script the form still works: every button
   posts the form and the server re-renders it.  All figures come from the
   server (visits.quote = the API's quote); nothing is priced here. */
(function () {
  "use strict";
  var form = document.getElementById("visit-form");
  if (!form || !window.fetch || !window.JSON) return;

  var S = JSON.parse(document.getElementById("terminal-strings").textContent);
  function $(sel) { return form.querySelector(sel); }
  var idInput = $("#id_number"), idError = $("#id_number-error"), panel = $("#patient-panel");
  var q = $("#q"), list = $("#q-results"), qError = $("#q-error");
  var body = $("#lines-body"), linesError = $("#lines-error"), empty = $("#lines-empty");
  var tpl = document.getElementById("line-template");
  var injection = $("#injection"), visitedAt = $("#visited_at"), visitedAtError = $("#visited_at-error");
  var save = $("#save"), status = $("#split-status"), due = $("#due");
  var csrf = $("input[name=csrf_token]").value;
  var saveLabel = save.textContent;

  function fmt(text, vars) {
    return text.replace(/%\((\w+)\)s/g, function (m, k) { return vars[k]; });
  }
  function normId(v) { return (v || "").replace(/\s+/g, "").toUpperCase(); }

  function getJSON(url, opts) {
    opts = opts || {};
    // Offline (issue 25): the answer from what this PC keeps (offline/terminal-offline.js).
    var off = window.terminalOffline;
    var local = off && off.isOffline() ? off.answer(url, opts.body) : null;
    if (local) return local;
    var headers = { "Accept": "application/json" };
    if (opts.body) { headers["Content-Type"] = "application/json"; headers["X-CSRFToken"] = csrf; }
    return fetch(url, {
      method: opts.body ? "POST" : "GET", credentials: "same-origin",
      headers: headers, body: opts.body ? JSON.stringify(opts.body) : undefined
    }).then(function (r) {
      if ((r.headers.get("Content-Type") || "").indexOf("application/json") < 0) {
        throw { login: true };
      }
      return r.json().then(function (data) {
        if (r.status === 401) throw { login: true };
        return data;
      });
    }).catch(function (err) {
      var answer = off && err instanceof TypeError ? off.unreachable(url, opts.body) : null;
      if (answer) return answer;
      throw err;
    });
  }

  function netFail(err) {
    status.textContent = err && err.login ? S.loginAgain : S.offline;
  }

  function setError(el, input, text) {
    if (!el) return;
    el.textContent = text || "";
    if (input) {
      if (text) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", el.id); }
      else { input.removeAttribute("aria-invalid"); }
    }
  }

  /* --- patient ------------------------------------------------------------ */
  var patientOk = !!panel.querySelector(".patient");
  var lastLooked = patientOk ? normId(idInput.value) : "";
  var lookupTimer = null, lookupSeq = 0;

  function lookup(moveOn) {
    clearTimeout(lookupTimer);
    var v = normId(idInput.value);
    idInput.value = v;
    if (!v) return;
    var seq = ++lookupSeq;
    lastLooked = v;
    // POST: an ID number never travels in a URL (URLs end up in logs).
    getJSON(form.dataset.patientUrl, { body: { id_number: v } }).then(function (d) {
      if (seq !== lookupSeq) return;
      if (d.ok) {
        panel.innerHTML = d.html;
        panel.classList.remove("stale");
        setError(idError, idInput, "");
        patientOk = true;
        requote();
        if (moveOn) dq.focus();
      } else {
        patientOk = false;
        panel.innerHTML = "";
        setError(idError, idInput, d.errors.id_number || d.errors._ || "");
        clearSplit(S.needPatient);
        idInput.focus();
        idInput.select();
      }
    }).catch(netFail);
  }

  idInput.addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); lookup(true); }
  });
  idInput.addEventListener("input", function () {
    if (/x/.test(idInput.value)) idInput.value = idInput.value.replace(/x/g, "X");
    var v = normId(idInput.value);
    if (v !== lastLooked) {
      patientOk = false;
      panel.classList.add("stale");
      clearSplit(S.needPatient);
    }
    clearTimeout(lookupTimer);
    if (v.length === 18 && v !== lastLooked) {
      lookupTimer = setTimeout(function () { lookup(false); }, 400);
    }
  });

  /* --- catalogue search ------------------------------------------------------ */
  var results = [], active = -1, searchTimer = null, searchSeq = 0, shownFor = "";

  function closeList() {
    shownFor = "";
    list.hidden = true;
    list.innerHTML = "";
    q.setAttribute("aria-expanded", "false");
    q.removeAttribute("aria-activedescendant");
  }

  function renderList() {
    list.innerHTML = "";
    if (!results.length) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = S.noMatch;
      list.appendChild(none);
    }
    results.forEach(function (it, i) {
      var li = document.createElement("li");
      li.id = "q-opt-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      var name = document.createElement("span");
      name.className = "opt-name";
      name.textContent = it.name;
      var meta = document.createElement("span");
      meta.className = "opt-meta";
      meta.textContent = it.code + " · " + (it.kind === "drug" || it.kind === "material" ? it.class_label : it.kind_label);
      var price = document.createElement("span");
      price.className = "opt-price";
      price.textContent = "¥" + it.price + "/" + it.unit;
      li.appendChild(name); li.appendChild(meta); li.appendChild(price);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
      list.appendChild(li);
    });
    list.hidden = false;
    q.setAttribute("aria-expanded", "true");
    if (active >= 0) {
      q.setAttribute("aria-activedescendant", "q-opt-" + active);
      var el = document.getElementById("q-opt-" + active);
      if (el && el.scrollIntoView) el.scrollIntoView({ block: "nearest" });
    } else {
      q.removeAttribute("aria-activedescendant");
    }
  }

  function search() {
    clearTimeout(searchTimer);
    searchTimer = null;
    var text = q.value.trim();
    var seq = ++searchSeq;
    if (!text) { closeList(); return Promise.resolve(); }
    return getJSON(form.dataset.itemsUrl + "?q=" + encodeURIComponent(text)).then(function (d) {
      if (seq !== searchSeq) return;
      shownFor = text;
      results = d.items || [];
      active = results.length ? 0 : -1;
      renderList();
    }).catch(netFail);
  }

  function pick(i) {
    var item = results[i];
    if (!item) return;
    q.value = "";
    shownFor = "";
    results = [];
    closeList();
    addLine(item);
  }

  q.addEventListener("input", function () {
    setError(qError, null, "");
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 120);
  });
  q.addEventListener("keydown", function (e) {
    var open = !list.hidden && results.length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!open) { search(); return; }
      var n = results.length;
      active = e.key === "ArrowDown" ? (active + 1) % n : (active - 1 + n) % n;
      renderList();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (!q.value.trim()) { closeList(); injection.focus(); return; }
      if (searchTimer || shownFor !== q.value.trim()) {
        // What is listed is not (yet) for what was typed: ask, then pick.
        search().then(function () { if (active >= 0) pick(active); });
      } else if (active >= 0) {
        pick(active);
      }
    } else if (e.key === "Escape") {
      closeList();
    }
  });
  q.addEventListener("blur", function () {
    // Late, so a click on an option lands first; and only if the focus has not come
    // back: a letter typed in a quantity box returns it here at once, and the list
    // for that letter must not be closed by the blur of the pick before it.
    setTimeout(function () { if (document.activeElement !== q) closeList(); }, 150);
  });

  /* --- diagnoses: the same search, by pinyin initials, code or name ------------------ */
  var dq = $("#dq"), dlist = $("#dq-results"), chosen = $("#diagnoses-chosen");
  var dError = $("#diagnoses-error"), dtpl = document.getElementById("diagnosis-template");
  var dResults = [], dActive = -1, dTimer = null, dSeq = 0, dShownFor = "";

  function chosenCodes() {
    return Array.prototype.map.call(chosen.querySelectorAll("li"), function (li) { return li.dataset.code; });
  }
  function markMain() {
    Array.prototype.forEach.call(chosen.querySelectorAll("li"), function (li, i) {
      var badge = li.querySelector(".dx-main");
      if (badge) badge.hidden = i !== 0;
      var rm = li.querySelector("button.remove");
      if (rm) { rm.type = "button"; rm.value = String(i); }
    });
  }
  function closeDiagnoses() {
    dShownFor = "";
    dlist.hidden = true;
    dlist.innerHTML = "";
    dq.setAttribute("aria-expanded", "false");
    dq.removeAttribute("aria-activedescendant");
  }
  function renderDiagnoses() {
    dlist.innerHTML = "";
    if (!dResults.length) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = S.noDiagnosis;
      dlist.appendChild(none);
    }
    dResults.forEach(function (d, i) {
      var li = document.createElement("li");
      li.id = "dq-opt-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === dActive ? "true" : "false");
      var name = document.createElement("span");
      name.className = "opt-name";
      name.textContent = d.name;
      var meta = document.createElement("span");
      meta.className = "opt-meta";
      meta.textContent = d.code;
      li.appendChild(name); li.appendChild(meta);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); pickDiagnosis(i); });
      dlist.appendChild(li);
    });
    dlist.hidden = false;
    dq.setAttribute("aria-expanded", "true");
    if (dActive >= 0) dq.setAttribute("aria-activedescendant", "dq-opt-" + dActive);
  }
  function searchDiagnoses() {
    clearTimeout(dTimer);
    dTimer = null;
    var text = dq.value.trim();
    var seq = ++dSeq;
    if (!text) { closeDiagnoses(); return Promise.resolve(); }
    return getJSON(form.dataset.diagnosesUrl + "?q=" + encodeURIComponent(text)).then(function (d) {
      if (seq !== dSeq) return;
      dShownFor = text;
      dResults = d.diagnoses || [];
      dActive = dResults.length ? 0 : -1;
      renderDiagnoses();
    }).catch(netFail);
  }
  function pickDiagnosis(i) {
    var d = dResults[i];
    if (!d) return;
    dq.value = "";
    dResults = [];
    closeDiagnoses();
    setError(dError, dq, "");
    if (chosenCodes().indexOf(d.code) < 0) {
      if (chosenCodes().length >= +chosen.dataset.max) {
        setError(dError, dq, S.tooManyDiagnoses);
        return;
      }
      var li = dtpl.content.querySelector("li").cloneNode(true);
      li.dataset.code = d.code;
      li.querySelector("input").value = d.code;
      li.querySelector(".dx-code").textContent = d.code;
      li.querySelector(".dx-name").textContent = d.name;
      li.querySelector("button.remove").setAttribute("aria-label", S.remove + " " + d.code);
      chosen.appendChild(li);
      markMain();
      requote();
    }
    // One diagnosis is the usual visit: straight on to the items.
    q.focus();
  }
  dq.addEventListener("input", function () {
    setError(dError, dq, "");
    clearTimeout(dTimer);
    dTimer = setTimeout(searchDiagnoses, 120);
  });
  dq.addEventListener("keydown", function (e) {
    var open = !dlist.hidden && dResults.length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!open) { searchDiagnoses(); return; }
      var n = dResults.length;
      dActive = e.key === "ArrowDown" ? (dActive + 1) % n : (dActive - 1 + n) % n;
      renderDiagnoses();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (!dq.value.trim()) { closeDiagnoses(); q.focus(); return; }
      if (dTimer || dShownFor !== dq.value.trim()) {
        searchDiagnoses().then(function () { if (dActive >= 0) pickDiagnosis(dActive); });
      } else if (dActive >= 0) {
        pickDiagnosis(dActive);
      }
    } else if (e.key === "Escape") {
      closeDiagnoses();
    }
  });
  dq.addEventListener("blur", function () {
    setTimeout(function () { if (document.activeElement !== dq) closeDiagnoses(); }, 150);
  });
  chosen.addEventListener("click", function (e) {
    var rm = e.target.closest ? e.target.closest("button.remove") : null;
    if (!rm) return;
    e.preventDefault();
    rm.closest("li").remove();
    markMain();
    requote();
    dq.focus();
  });
  markMain();

  /* --- lines --------------------------------------------------------------------- */
  function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr.line")); }

  function reindex() {
    rows().forEach(function (tr, i) {
      tr.querySelector("button.remove").value = String(i);
      tr.querySelector("[data-error-for=item]").id = "lines-" + i + "-item-error";
      tr.querySelector("[data-error-for=quantity]").id = "lines-" + i + "-quantity-error";
    });
    empty.hidden = rows().length > 0;
  }

  function addLine(item) {
    var existing = rows().filter(function (tr) { return tr.dataset.code === item.code; })[0];
    if (existing) {
      var had = existing.querySelector("input[name=quantity]");
      if (had.readOnly) {
        // The consultation fee is put on every visit already: say so and stay in
        // the search box, so what is typed next is the next item's initials.
        status.textContent = S.alreadyThere;
        q.focus();
        return;
      }
      had.focus();
      had.select();
      return;
    }
    var tr = tpl.content.querySelector("tr").cloneNode(true);
    tr.dataset.code = item.code;
    tr.dataset.kind = item.kind;
    tr.querySelector("input[name=item]").value = item.code;
    tr.querySelector(".item-name").textContent = item.name;
    tr.querySelector(".code").textContent = item.code;
    tr.querySelector(".cls").textContent =
      item.kind === "drug" || item.kind === "material" ? item.class_label : item.kind_label;
    tr.querySelector(".price").textContent = "¥" + item.price;
    tr.querySelector(".amount").textContent = "";
    tr.querySelector(".unit").textContent = item.unit;
    var qty = tr.querySelector("input[name=quantity]");
    qty.value = "1";
    qty.readOnly = item.kind === "consultation";
    qty.setAttribute("aria-label", fmt(S.quantityOf, { name: item.name }));
    var rm = tr.querySelector("button.remove");
    rm.setAttribute("aria-label", S.remove + " " + item.name);
    body.appendChild(tr);
    reindex();
    setError(linesError, null, "");
    // An injectable drug is given by injection: tick it (F2 unticks it).
    if (item.injectable) injection.checked = true;
    requote();
    if (qty.readOnly) { q.focus(); } else { qty.focus(); qty.select(); }
  }

  body.addEventListener("click", function (e) {
    var rm = e.target.closest ? e.target.closest("button.remove") : null;
    if (!rm) return;
    e.preventDefault();
    rm.closest("tr").remove();
    reindex();
    requote();
    q.focus();
  });
  body.addEventListener("keydown", function (e) {
    if (e.target.name !== "quantity" || e.ctrlKey || e.altKey || e.metaKey) return;
    if (e.key === "Enter") { e.preventDefault(); q.focus(); return; }
    if (/^[a-zA-Z]$/.test(e.key)) {
      // A quantity is never a letter: a letter starts the next item's search.
      e.preventDefault();
      q.focus();
      q.value = e.key.toLowerCase();
      q.dispatchEvent(new Event("input"));
    }
  });
  body.addEventListener("input", function (e) {
    if (e.target.name === "quantity") scheduleQuote(300);
  });

  injection.addEventListener("change", function () { requote(); });
  /* Shortcuts anywhere on the form: F2 toggles the injection, F9 or Ctrl+Enter saves. */
  document.addEventListener("keydown", function (e) {
    if (e.key === "F2") {
      e.preventDefault();
      injection.checked = !injection.checked;
      requote();
    } else if (e.key === "F9" || (e.key === "Enter" && (e.ctrlKey || e.metaKey))) {
      e.preventDefault();
      closeList();
      if (form.requestSubmit) { form.requestSubmit(save); } else { save.click(); }
    }
  });
  injection.addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); save.focus(); }
  });
  if (visitedAt) visitedAt.addEventListener("change", function () { requote(); });

  /* --- the split ------------------------------------------------------------------ */
  var quoteTimer = null, quoteSeq = 0;
  var cells = ["patient", "registration", "injection", "copay", "selfpay", "fund", "fiscal", "total"];

  function setCell(name, yuan) {
    var el = document.getElementById("t-" + name);
    if (el) el.textContent = yuan === null ? "—" : "¥" + yuan;
  }

  function clearSplit(message) {
    cells.forEach(function (c) { setCell(c, null); });
    due.hidden = true;
    status.textContent = message || "";
  }

  function scheduleQuote(delay) {
    clearTimeout(quoteTimer);
    quoteTimer = setTimeout(requote, delay);
  }

  function clearLineErrors() {
    Array.prototype.forEach.call(body.querySelectorAll(".field-error"), function (p) { p.textContent = ""; });
    Array.prototype.forEach.call(body.querySelectorAll("input[aria-invalid]"), function (i) { i.removeAttribute("aria-invalid"); });
    setError(linesError, null, "");
    setError(dError, dq, "");
    setError(visitedAtError, visitedAt, "");
  }

  function showErrors(errors) {
    var all = rows();
    Object.keys(errors).forEach(function (key) {
      var m = /^lines-(\d+)-(item|quantity)$/.exec(key);
      if (m && all[+m[1]]) {
        var tr = all[+m[1]];
        setError(tr.querySelector("[data-error-for=" + m[2] + "]"),
                 m[2] === "quantity" ? tr.querySelector("input[name=quantity]") : null, errors[key]);
      } else if (key === "id_number") {
        patientOk = false;
        setError(idError, idInput, errors[key]);
      } else if (key === "lines") {
        setError(linesError, null, errors[key]);
      } else if (key === "visited_at") {
        setError(visitedAtError, visitedAt, errors[key]);
      } else if (key === "diagnoses") {
        setError(dError, dq, errors[key]);
      } else {
        status.textContent = errors[key];
      }
    });
  }

  // The checks at recording, in the page's words from the server (never worded here).
  function showChecks(list) {
    var box = document.getElementById("checks");
    if (!box) return;
    var ul = document.getElementById("checks-list");
    ul.textContent = "";
    list.forEach(function (c) {
      var li = document.createElement("li"), badge = document.createElement("span");
      li.className = "check-" + c.severity;
      badge.className = "badge";
      badge.textContent = c.label;
      li.appendChild(badge);
      li.appendChild(document.createTextNode(" " + c.text));
      ul.appendChild(li);
    });
    box.hidden = list.length === 0;
  }

  // The visit time box is plain text (no browser picker): 2026-11-29 09:30,
  // 2026/11/29 9:30 or 2026-11-29T09:30 (Asia/Shanghai).  What is not one goes
  // as typed and the server names the visit time in its refusal.
  function typedMinute(text) {
    var m = /^(\d{4})(?:([-\/.])(\d{1,2})\2(\d{1,2})|(\d{2})(\d{2}))[ T]+(\d{1,2})[:\uff1a]?(\d{2})$/.exec(text);
    if (!m) return text;
    var two = function (n) { return ("0" + n).slice(-2); };
    var month = m[2] ? m[3] : m[5], day = m[2] ? m[4] : m[6];
    return m[1] + "-" + two(month) + "-" + two(day) + "T" + two(m[7]) + ":" + m[8] + ":00+08:00";
  }

  // The API's request shape (VisitInSchema); the typed visit time is Asia/Shanghai.
  function visitPayload() {
    var when = visitedAt ? visitedAt.value.trim() : "";
    return {
      clinic: form.dataset.clinic,
      patient_id_number: normId(idInput.value),
      injection: injection.checked,
      visited_at: when ? typedMinute(when) : null,
      diagnoses: chosenCodes(),
      lines: rows().map(function (tr) {
        return { item: tr.dataset.code, quantity: tr.querySelector("input[name=quantity]").value };
      })
    };
  }

  function requote() {
    clearTimeout(quoteTimer);
    var all = rows();
    empty.hidden = all.length > 0;
    if (!patientOk) { clearSplit(S.needPatient); return; }
    if (!all.length) { clearSplit(S.needLines); return; }
    var payload = visitPayload();
    var seq = ++quoteSeq;
    status.textContent = S.updating;
    getJSON(form.dataset.quoteUrl, { body: payload }).then(function (d) {
      if (seq !== quoteSeq) return;
      clearLineErrors();
      if (!d.ok) {
        // The first reason in the split itself: a refusal is seen before saving.
        var errs = d.errors || {};
        var first = Object.keys(errs)[0];
        clearSplit(first ? errs[first] : "");
        status.classList.toggle("refused", !!first);
        showErrors(errs);
        return;
      }
      if (d.offline && window.terminalOffline) {  // provisional figures, said so
        status.classList.remove("refused");
        window.terminalOffline.showQuote(d, all);
        return;
      }
      var t = d.quote.totals;
      setCell("patient", t.patient.total);
      setCell("registration", t.patient.registration);
      setCell("injection", t.patient.injection);
      setCell("copay", t.patient.copay);
      setCell("selfpay", t.patient.self_pay);
      setCell("fund", t.fund);
      setCell("fiscal", t.fiscal);
      setCell("total", t.total);
      due.textContent = fmt(d.quote.programme ? S.programmeDue : S.due, { amount: t.patient.total });
      due.hidden = false;
      status.textContent = d.status || "";  // a check that needs a reason, said before saving
      status.classList.remove("refused");
      showChecks(d.checks || []);
      all.forEach(function (tr, i) {
        var line = d.quote.lines[i];
        if (!line) return;
        tr.querySelector(".price").textContent = "¥" + line.unit_price;
        tr.querySelector(".amount").textContent = "¥" + line.amount;
      });
    }).catch(function (err) { if (seq === quoteSeq) netFail(err); });
  }

  /* --- buttons and saving ---------------------------------------------------------- */
  var submitting = false, lastButton = null;
  form.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button") : null;
    if (!b) return;
    lastButton = b;
    if (b.id === "lookup") { e.preventDefault(); lookup(true); }
  });
  form.addEventListener("submit", function (e) {
    var sub = e.submitter || lastButton;
    lastButton = null;
    if (submitting) { e.preventDefault(); return; }
    if (sub && sub.id === "save" && window.terminalOffline && window.terminalOffline.takesSave()) {
      e.preventDefault();  // offline: into this PC's queue (offline/terminal-offline.js)
      window.terminalOffline.save(visitPayload());
      return;
    }
    if (sub && sub.id === "save") {
      // One save per page: a second click does nothing (the server's token
      // would make it harmless anyway).
      submitting = true;
      save.textContent = S.saving;
      save.setAttribute("aria-busy", "true");
      setTimeout(function () { save.disabled = true; }, 0);
      return;
    }
    if (!sub || sub.id === "lookup") { e.preventDefault(); lookup(true); }
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) {
      submitting = false;
      save.disabled = false;
      save.removeAttribute("aria-busy");
      save.textContent = saveLabel;
    }
  });

  if (idInput.value && !patientOk) lookup(false);
  // What the offline module needs to put a refused queued visit back into the form.
  window.terminalForm = { addLine: addLine, lookup: lookup, requote: requote };

  /* A refused save comes back rendered by the server: the first reason is in
     the status line; the focus goes to the first bad field. */
  var bad = form.querySelector("[aria-invalid=true]");
  if (bad) {
    var det = bad.closest ? bad.closest("details") : null;
    if (det) det.open = true;
    bad.focus();
    if (bad.select) bad.select();
  }
})();
