/* The clinic terminal through an outage (issue 25).

   While the server cannot be reached, terminal.js asks this module instead of the
   server (window.terminalOffline): the patient from a roster kept on this PC, the
   catalogue search, and the patient's payment — plain arithmetic in integer fen:
   a one-yuan programme patient pays the fees plus the self-pay parts of the lines at
   catalogue prices; a patient not on the roster pays the full amount for now.  The
   fund's and the district's shares are never computed here: the server does that
   when the visit is uploaded, and every figure shown offline says it is provisional.

   A save while offline goes to a queue in IndexedDB (idb-keyval), each visit with
   its Idempotency-Key, its capture time on the server's clock and the code printed
   on the provisional slip; the queue survives reloads, a closed browser and a
   reboot.  When the server answers again the queue is uploaded in capture order to
   visits.offline_sync (the normal recording path: a visit sent twice is recorded
   once, its receipt number is the server's).  A visit the server refuses stays in
   the queue with the reason and what the doctor can do; nothing is dropped unless
   the doctor discards it with a reason.  The ID number is kept only until the
   visit is recorded or discarded. */
(function () {
  "use strict";
  var form = document.getElementById("visit-form");
  var kv = window.idbKeyval;
  if (!form || !kv || !window.fetch || !window.indexedDB || !window.crypto ||
      !window.crypto.subtle || !window.TextEncoder) return;

  var S = JSON.parse(document.getElementById("offline-strings").textContent);
  var ME = form.dataset.user, CLINIC = form.dataset.clinic;
  var URLS = {
    bundle: form.dataset.offlineBundleUrl, token: form.dataset.offlineTokenUrl,
    sync: form.dataset.offlineSyncUrl, sw: form.dataset.serviceWorkerUrl,
    patient: form.dataset.patientUrl, items: form.dataset.itemsUrl, quote: form.dataset.quoteUrl,
    page: form.getAttribute("action")
  };
  var meta = kv.createStore("yiyuan-terminal", "meta");
  var queue = kv.createStore("yiyuan-queue", "visits");
  var MINUTE = 60000, HOUR = 60 * MINUTE, DAY = 24 * HOUR, SHANGHAI = 8 * HOUR;
  var BUNDLE_AGE = HOUR;  // refreshed at most hourly while online
  var UNSENT = "/visits/new?unsent";  // where the service worker keeps a dropped post
  var state = {
    bundle: null, fetchedAt: 0, offset: 0, down: false, csrf: null, syncing: false,
    needLogin: false, editing: null, restored: null, saved: null, patients: {}
  };
  var csrfInput = form.querySelector("input[name=csrf_token]");
  state.csrf = csrfInput ? csrfInput.value : "";

  function fmt(text, vars) {
    return text.replace(/%\((\w+)\)s/g, function (m, k) { return vars[k]; });
  }
  function byId(id) { return document.getElementById(id); }

  /* --- money: integer fen, yuan strings at the edges ------------------------------ */
  function fen(text) {
    var m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(text));
    return m ? Number(m[1]) * 100 + Number(((m[2] || "") + "00").slice(0, 2)) : null;
  }
  function yuan(f) {
    return Math.floor(f / 100) + "." + ("0" + (f % 100)).slice(-2);
  }
  function milli(text) {  // a quantity in thousandths, as the server reads it
    var m = /^(\d+)(?:\.(\d{0,3}))?$/.exec(String(text).trim());
    if (!m) return null;
    var v = Number(m[1]) * 1000 + Number(((m[2] || "") + "000").slice(0, 3));
    return v > 0 && v <= 9999999 ? v : null;
  }
  function ratio(text) {  // "0.1" → 1000 (ten-thousandths)
    var m = /^([01])(?:\.(\d{1,4}))?$/.exec(String(text));
    return m ? Number(m[1]) * 10000 + Number(((m[2] || "") + "0000").slice(0, 4)) : 0;
  }
  // round(n / d) half up for integers n ≥ 0, d > 0, exactly (ROUND_HALF_UP, as app.money).
  function divHalfUp(n, d) {
    var r = n % d, q = (n - r) / d;
    return 2 * r >= d ? q + 1 : q;
  }

  /* --- the server's clock and day ----------------------------------------------------- */
  function serverMs() { return Date.now() + state.offset; }
  function shanghaiIso(ms) { return new Date(ms + SHANGHAI).toISOString().slice(0, 19) + "+08:00"; }
  function takeClock(serverNow) {
    var t = Date.parse(serverNow);
    if (!isNaN(t)) state.offset = t - Date.now();
  }
  function dayNumber(iso) { return Math.round(Date.parse(iso.slice(0, 10) + "T00:00:00Z") / DAY); }

  /* --- the bundle: catalogue, fees, roster ---------------------------------------------- */
  function inWindow(day) {
    var b = state.bundle;
    return !!b && day >= b.window_from && day <= b.window_to;
  }
  function priceOn(item, day) {
    for (var i = 0; i < item.prices.length; i++) {
      var p = item.prices[i];
      if (p.valid_from <= day && (!p.valid_to || day <= p.valid_to)) return fen(p.price);
    }
    return null;
  }
  function policyOn(day) {
    var best = null;
    (state.bundle ? state.bundle.policies : []).forEach(function (p) {
      if (p.effective_from <= day && (!best || p.effective_from > best.effective_from)) best = p;
    });
    return best;
  }
  function itemByCode(code) {
    var items = state.bundle ? state.bundle.items : [];
    for (var i = 0; i < items.length; i++) if (items[i].code === code) return items[i];
    return null;
  }

  function hexBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }
  function toHex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  // The roster's key: HMAC-SHA256 of the ID number under this roster's salt, 64 bits.
  function rosterKey(id) {
    return crypto.subtle.importKey("raw", hexBytes(state.bundle.salt), { name: "HMAC", hash: "SHA-256" },
      false, ["sign"]).then(function (key) {
      return crypto.subtle.sign("HMAC", key, new TextEncoder().encode(id));
    }).then(function (sig) { return toHex(sig).slice(0, 16); });
  }

  // GB 11643: 17 digits and a check digit (or X).
  function validId(id) {
    if (!/^\d{17}[\dX]$/.test(id)) return false;
    var w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], sum = 0;
    for (var i = 0; i < 17; i++) sum += Number(id[i]) * w[i];
    return "10X98765432"[sum % 11] === id[17];
  }
  function maskId(id) { return id.slice(0, 4) + "**********" + id.slice(-4); }

  // true: in the programme on that day per the roster; null: cannot say offline.
  function standing(id, day) {
    if (!state.bundle || !inWindow(day)) return Promise.resolve(null);
    return rosterKey(id).then(function (key) {
      var days = state.bundle.roster[key];
      var n = dayNumber(day) - dayNumber(state.bundle.window_from);
      return days && n >= days[0] && n <= days[1] ? true : null;
    });
  }

  /* --- answers in the shape of the page's JSON ---------------------------------------- */
  function today() { return shanghaiIso(serverMs()).slice(0, 10); }
  function visitDay(body) {
    var when = body && body.visited_at;
    return when && /^\d{4}-\d{2}-\d{2}T/.test(when) ? when.slice(0, 10) : today();
  }

  function patientAnswer(body) {
    var id = String((body && body.id_number) || "").replace(/\s+/g, "").toUpperCase();
    if (!validId(id)) return Promise.resolve({ ok: false, errors: { id_number: S.badId } });
    return standing(id, today()).then(function (programme) {
      state.patients[id] = programme;
      var box = document.createElement("div");
      box.className = "patient offline " + (programme ? "is-programme" : "is-not");
      box.dataset.programme = programme ? "true" : "false";
      var head = document.createElement("p");
      head.className = "patient-head";
      var badge = document.createElement("span");
      badge.id = "programme-badge";
      badge.className = "badge big " + (programme ? "ok" : "no");
      badge.textContent = programme ? S.onRoster : "—";
      var masked = document.createElement("span");
      masked.className = "muted";
      masked.textContent = maskId(id);
      head.appendChild(badge); head.appendChild(document.createTextNode(" ")); head.appendChild(masked);
      var note = document.createElement("p");
      note.className = "muted small";
      note.textContent = !state.bundle ? S.noBundle : programme ? S.estimate : S.notOnRoster;
      box.appendChild(head); box.appendChild(note);
      return { ok: true, offline: true, programme: !!programme, html: box.outerHTML };
    });
  }

  function itemsAnswer(url) {
    var text = decodeURIComponent((/[?&]q=([^&]*)/.exec(url) || ["", ""])[1].replace(/\+/g, " ")).trim();
    var day = today(), up = text.toUpperCase(), low = text.toLowerCase(), hits = [];
    (state.bundle ? state.bundle.items : []).forEach(function (it) {
      var price = priceOn(it, day);
      if (price === null || !text) return;
      var code = it.code.toUpperCase();
      var rank = code === up ? 0 : code.indexOf(up) === 0 ? 1 : it.pinyin.indexOf(low) === 0 ? 2
        : it.name.indexOf(text) >= 0 ? 3 : -1;
      if (rank >= 0) hits.push([rank, it, price]);
    });
    hits.sort(function (a, b) { return a[0] - b[0] || (a[1].code < b[1].code ? -1 : 1); });
    return Promise.resolve({ ok: true, offline: true, items: hits.slice(0, 15).map(function (h) {
      var it = h[1];
      return { code: it.code, name: it.name, unit: it.unit, kind: it.kind, kind_label: it.kind_label,
               insurance_class: it.insurance_class, class_label: it.class_label, price: yuan(h[2]) };
    }) });
  }

  /* The patient's payment: SPEC §3 for a programme visit, the full amount otherwise. */
  function priceVisit(body) {
    var day = visitDay(body), errors = {}, lines = [];
    var id = String(body.patient_id_number || "");
    (body.lines || []).forEach(function (line, i) {
      var item = itemByCode(line.item), qty = milli(line.quantity);
      var price = item ? priceOn(item, day) : null;
      if (price === null) { errors["lines-" + i + "-item"] = S.noPrice; return; }
      if (qty === null) { errors["lines-" + i + "-quantity"] = S.badQuantity; return; }
      lines.push({ item: item, quantity: line.quantity, price: price, amount: divHalfUp(price * qty, 1000) });
    });
    if (Object.keys(errors).length) return Promise.resolve({ ok: false, offline: true, errors: errors });
    var known = id in state.patients ? Promise.resolve(state.patients[id]) : standing(id, day);
    return known.then(function (programme) {
      var policy = policyOn(day);
      programme = !!(programme && policy);
      var bp = policy ? ratio(policy.class_b_selfpay_ratio) : 0;
      var total = 0, selfPay = 0;
      lines.forEach(function (l) {
        var it = l.item, own = 0;
        if (it.kind === "service" || it.insurance_class === "C") own = l.amount;
        else if (it.kind !== "diagnosis" && it.insurance_class === "B" && policy &&
                 !policy.class_b_selfpay_backstopped) {
          own = l.amount - divHalfUp(l.amount * (10000 - bp), 10000);
        }
        l.self_pay = own;
        total += l.amount;
        selfPay += own;
      });
      var registration = programme ? fen(policy.registration_fee) : 0;
      var injection = programme && body.injection ? fen(policy.injection_fee) : 0;
      return {
        ok: true, offline: true, programme: programme, stale: !inWindow(day), day: day,
        lines: lines, registration: registration, injection: injection, self_pay: selfPay,
        total: total + registration + injection,
        patient: programme ? registration + injection + selfPay : total
      };
    });
  }

  function showQuote(d, rows) {
    function cell(name, text) { var el = byId("t-" + name); if (el) el.textContent = text; }
    var money = function (f) { return "¥" + yuan(f); };
    cell("patient", money(d.patient));
    cell("registration", money(d.registration));
    cell("injection", money(d.injection));
    cell("copay", d.programme ? money(0) : S.later);
    cell("selfpay", d.programme ? money(d.self_pay) : S.later);
    cell("fund", S.later);
    cell("fiscal", S.later);
    cell("total", money(d.total));
    var due = byId("due");
    due.textContent = fmt(d.programme ? S.dueProgramme : S.dueFull, { amount: yuan(d.patient) });
    due.hidden = false;
    byId("split-status").textContent = d.stale ? S.stale : S.estimate;
    var checks = byId("checks");
    if (checks) checks.hidden = true;
    (rows || []).forEach(function (tr, i) {
      var l = d.lines[i];
      if (!l) return;
      tr.querySelector(".price").textContent = money(l.price);
      tr.querySelector(".amount").textContent = money(l.amount);
    });
  }

  function answer(url, body) {
    if (!url) return null;
    var path = url.split("?")[0];
    var kept = ready.then(function () { return state.bundle ? null : loadKept(); });
    if (path === URLS.patient) return kept.then(function () { return patientAnswer(body); });
    if (path === URLS.items) return kept.then(function () { return itemsAnswer(url); });
    if (path === URLS.quote) return kept.then(function () { return priceVisit(body || {}); });
    return null;
  }

  /* --- the queue -------------------------------------------------------------------- */
  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return toHex(crypto.getRandomValues(new Uint8Array(16)));
  }
  function deviceId() {
    return kv.get("device", meta).then(function (d) {
      if (d) return d;
      var abc = "ABCDEFGHJKMNPQRSTUVWXYZ23456789", bytes = crypto.getRandomValues(new Uint8Array(4));
      d = Array.prototype.map.call(bytes, function (b) { return abc[b % abc.length]; }).join("");
      return kv.set("device", d, meta).then(function () { return d; });
    });
  }
  // L + yymmdd + device + the day's sequence on this PC: unique without the server.
  function newCode(captured) {
    var ymd = captured.slice(2, 4) + captured.slice(5, 7) + captured.slice(8, 10);
    return deviceId().then(function (device) {
      var counter = "seq:" + ymd;
      return kv.update(counter, function (n) { return (n || 0) + 1; }, meta).then(function () {
        return kv.get(counter, meta);
      }).then(function (n) { return "L" + ymd + "-" + device + "-" + ("0" + n).slice(-2); });
    });
  }
  function records() {
    return kv.values(queue).then(function (all) {
      return all.sort(function (a, b) {
        return a.captured_at < b.captured_at ? -1 : a.captured_at > b.captured_at ? 1 : a.code < b.code ? -1 : 1;
      });
    });
  }
  function put(rec) { return kv.set(rec.code, rec, queue); }
  function waiting(rec) { return rec.state === "pending" || rec.state === "sending" || rec.state === "conflict"; }

  function takesSave() { return isOffline() || !!state.editing || !!state.restored; }

  function save(payload) {
    var reason = byId("warning_reason");
    return ready.then(function () {
      var editing = state.editing, restored = state.restored;
      var captured = editing ? editing.captured_at
        : restored ? shanghaiIso(restored.failed_at + state.offset) : shanghaiIso(serverMs());
      var body = {
        clinic: payload.clinic, patient_id_number: payload.patient_id_number,
        injection: !!payload.injection, visited_at: payload.visited_at || null, lines: payload.lines
      };
      if (reason && reason.value.trim()) body.warning_reason = reason.value.trim();
      return priceVisit({ patient_id_number: body.patient_id_number, injection: body.injection,
                          visited_at: body.visited_at || captured, lines: body.lines }).then(function (d) {
        if (!d.ok) { byId("split-status").textContent = d.errors[Object.keys(d.errors)[0]]; return null; }
        var coded = editing ? Promise.resolve(editing.code) : newCode(captured);
        return coded.then(function (code) {
          body.offline = { captured_at: captured, code: code, expected_patient: yuan(d.patient),
                           expected_programme: d.programme };
          var rec = {
            // A restored form keeps its own token as the key: if its post reached the
            // server after all, the upload returns that visit instead of a second one.
            code: code, key: restored ? restored.token : newKey(), user: ME, clinic: CLINIC, captured_at: captured, state: "pending",
            body: body, masked: maskId(body.patient_id_number), codes: [], errors: null,
            slip: {
              programme: d.programme, patient: d.patient, total: d.total,
              registration: d.registration, injection: d.injection,
              lines: d.lines.map(function (l) {
                return { name: l.item.name, unit: l.item.unit, quantity: l.quantity, price: l.price, amount: l.amount };
              })
            }
          };
          state.editing = null;
          state.restored = null;
          byId("offline-editing").hidden = true;
          return put(rec).then(function () {
            state.saved = rec;
            showSlip(rec);
            render();
            if (!isOffline()) syncAll();
            return rec;
          });
        });
      });
    });
  }

  /* --- the provisional slip ------------------------------------------------------------ */
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function showSlip(rec) {
    var slip = byId("offline-slip"), body = byId("slip-body");
    body.textContent = "";
    body.appendChild(el("h2", null, S.slipTitle + " · " + form.dataset.clinicName));
    var dl = el("dl", "receipt-facts");
    [[S.slipCode, rec.code], [S.slipTime, rec.captured_at.slice(0, 16).replace("T", " ")],
     [S.slipPatient, rec.masked]].forEach(function (pair) {
      dl.appendChild(el("dt", null, pair[0]));
      dl.appendChild(el("dd", null, pair[1]));
    });
    body.appendChild(dl);
    var table = el("table", "receipt-lines");
    rec.slip.lines.forEach(function (l) {
      var tr = el("tr");
      tr.appendChild(el("td", null, l.name));
      tr.appendChild(el("td", "num", l.quantity + l.unit + " × ¥" + yuan(l.price)));
      tr.appendChild(el("td", "num", "¥" + yuan(l.amount)));
      table.appendChild(tr);
    });
    body.appendChild(table);
    var due = el("p", "due", fmt(rec.slip.programme ? S.dueProgramme : S.dueFull, { amount: yuan(rec.slip.patient) }));
    due.id = "slip-due";
    body.appendChild(due);
    body.appendChild(el("p", "small", S.slipNote));
    slip.hidden = false;
    byId("slip-saved").textContent = fmt(S.saved, { code: rec.code });
    var saveButton = byId("save");
    if (saveButton) saveButton.disabled = true;
    byId("print-slip").focus();
  }

  /* --- uploading ----------------------------------------------------------------------- */
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { state.needLogin = true; return null; }
        if (!r.ok || (r.headers.get("Content-Type") || "").indexOf("json") < 0) return null;
        return r.json();
      });
  }

  // The server answers again: a fresh token and clock, the bundle when it is old.
  function refresh(forceBundle) {
    var old = !state.bundle || Date.now() - state.fetchedAt > BUNDLE_AGE || forceBundle ||
      !inWindow(today());
    return getJSON(old ? URLS.bundle : URLS.token).then(function (d) {
      state.down = false;
      if (!d || !d.ok || d.user !== ME) return false;
      state.needLogin = false;
      state.csrf = d.csrf_token;
      takeClock(d.server_now);
      if (d.bundle) {
        state.bundle = d.bundle;
        state.fetchedAt = Date.now();
        return kv.set("bundle", { user: ME, clinic: CLINIC, fetchedAt: state.fetchedAt, offset: state.offset,
                                  bundle: d.bundle }, meta).then(function () { return true; });
      }
      return true;
    }, function () { state.down = true; return false; });
  }

  function send(rec) {
    rec.state = "sending";
    return put(rec).then(function () {
      render();
      return fetch(URLS.sync, {
        method: "POST", credentials: "same-origin", body: JSON.stringify(rec.body),
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRFToken": state.csrf, "Idempotency-Key": rec.key }
      });
    }).then(function (r) {
      return r.json().then(function (d) { return [r.status, d]; }, function () { return [r.status, null]; });
    }).then(function (answer) {
      var status = answer[0], d = answer[1];
      if (d && d.ok) {
        rec.state = "synced";
        rec.receipt = d.receipt_number;
        rec.receipt_url = d.receipt_url;
        rec.body = null;  // the ID number leaves this PC's storage once recorded
        return put(rec).then(function () { return "next"; });
      }
      if (d && d.codes && d.codes.length) {
        // A price or the roster changed on the server: take its bundle again.
        if (d.codes.indexOf("patient_differs") >= 0 || d.codes.indexOf("programme_differs") >= 0) {
          state.forceBundle = true;
        }
        rec.state = "conflict";
        rec.codes = d.codes;
        rec.errors = d.errors;
        rec.server = d.quote ? { patient: d.quote.totals.patient.total, programme: d.quote.programme } : null;
        rec.checks = d.checks || [];
        return put(rec).then(function () { return "next"; });
      }
      rec.state = "pending";
      if (status === 401) state.needLogin = true;
      return put(rec).then(function () { return status === 400 ? "token" : "stop"; });
    }, function () {
      rec.state = "pending";  // the answer may be lost, not the visit: resent with its key
      state.down = true;
      probeLater();
      return put(rec).then(function () { return "stop"; });
    });
  }

  function syncAll() {
    if (state.syncing) return Promise.resolve();
    state.syncing = true;
    var retried = false;
    function round() {
      return records().then(function (all) {
        var mine = all.filter(function (r) { return r.user === ME && (r.state === "pending" || r.state === "sending"); });
        var i = 0;
        function next() {
          if (i >= mine.length) return null;
          return send(mine[i++]).then(function (how) {
            if (how === "next") return next();
            if (how === "token" && !retried) {
              retried = true;
              return refresh(false).then(function (ok) { if (ok) { i--; return next(); } return null; });
            }
            return null;
          });
        }
        return next();
      });
    }
    return refresh(false).then(function (ok) { return ok ? round() : null; })
      .then(function () {
        if (!state.forceBundle) return null;
        state.forceBundle = false;
        return refresh(true);
      })
      .then(function () { state.syncing = false; render(); },
            function () { state.syncing = false; render(); });
  }

  /* --- the doctor's decisions on a refused visit ------------------------------------------ */
  function retry(rec) {
    rec.state = "pending";
    rec.codes = [];
    rec.errors = null;
    return put(rec).then(function () { render(); return syncAll(); });
  }
  function discard(rec, reason) {
    rec.state = "discarded";
    rec.discard_reason = reason;
    rec.discarded_at = shanghaiIso(serverMs());
    rec.body = null;
    return put(rec).then(render);
  }
  function loadIntoForm(rec) {
    var api = window.terminalForm;
    if (!api) return;
    state.editing = rec;
    fillForm(rec.body, visitDay(rec.body));
    byId("offline-editing").textContent = fmt(S.editing, { code: rec.code });
    byId("offline-editing").hidden = false;
    byId("id_number").focus();
  }

  // A form whose post the link dropped (kept by the service worker): back into the form.
  function restoreUnsent() {
    if (!window.caches) return Promise.resolve();
    return caches.open("terminal-v1").then(function (cache) {
      return cache.match(UNSENT).then(function (hit) {
        if (!hit) return null;
        return hit.json().then(function (kept) {
          return cache.delete(UNSENT).then(function () { return kept; });
        });
      });
    }).then(function (kept) {
      if (!kept || !window.terminalForm) return;
      var f = kept.fields, first = function (name) { return (f[name] || [""])[0]; };
      state.down = true;  // the server did not answer that post
      probeLater();
      state.restored = { token: first("token"), failed_at: kept.failed_at };
      var lines = (f.item || []).map(function (code, i) { return { item: code, quantity: (f.quantity || [])[i] || "1" }; });
      fillForm({ patient_id_number: first("id_number"), injection: first("injection") === "1",
                 visited_at: null, lines: lines }, today());
      var typed = byId("visited_at");
      if (typed && first("visited_at")) typed.value = first("visited_at");
      var reason = byId("warning_reason");
      if (reason) reason.value = first("warning_reason");
      byId("offline-editing").textContent = S.unsent;
      byId("offline-editing").hidden = false;
      byId("offline-banner").hidden = false;
    }).catch(function () { return null; });
  }

  function fillForm(body, day) {
    var api = window.terminalForm;
    var id = byId("id_number");
    id.value = body.patient_id_number;
    Array.prototype.forEach.call(document.querySelectorAll("#lines-body tr.line"), function (tr) { tr.remove(); });
    body.lines.forEach(function (line) {
      var it = itemByCode(line.item);
      if (!it) return;
      api.addLine({ code: it.code, name: it.name, kind: it.kind, unit: it.unit, kind_label: it.kind_label,
                    class_label: it.class_label, price: yuan(priceOn(it, day) || 0) });
      var rows = document.querySelectorAll("#lines-body tr.line");
      rows[rows.length - 1].querySelector("input[name=quantity]").value = line.quantity;
    });
    byId("injection").checked = !!body.injection;
    var visited = byId("visited_at");
    if (visited && body.visited_at) visited.value = body.visited_at.slice(0, 16).replace("T", " ");
    api.lookup(false);
  }

  /* --- what the doctor sees --------------------------------------------------------------- */
  function badge(count) {
    var b = byId("offline-badge");
    if (!b) {
      var who = document.querySelector(".topbar .who");
      if (!who) return;
      b = el("a", "badge");
      b.id = "offline-badge";
      b.href = "#offline-queue";
      who.insertBefore(b, who.firstChild);
    }
    b.textContent = fmt(S.queued, { n: count });
    b.className = "badge " + (count ? "no" : "muted");
  }

  function conflictBox(rec) {
    var box = el("div", "offline-conflict");
    var words = {};
    Object.keys(rec.errors || {}).forEach(function (k) { words[rec.errors[k]] = true; });
    var ul = el("ul", "offline-reasons");
    Object.keys(words).forEach(function (w) { ul.appendChild(el("li", null, w)); });
    (rec.checks || []).forEach(function (c) { ul.appendChild(el("li", "check-" + c.severity, c.label + " " + c.text)); });
    if (rec.server) ul.appendChild(el("li", null, fmt(S.serverSays, { amount: rec.server.patient })));
    if (rec.codes.indexOf("month_frozen") >= 0) ul.appendChild(el("li", null, S.monthFrozen));
    box.appendChild(ul);
    box.appendChild(el("p", "small", S.whatToDo));
    var actions = el("div", "offline-actions");
    function button(text, cls, onClick) {
      var b = el("button", cls, text);
      b.type = "button";
      b.addEventListener("click", onClick);
      actions.appendChild(b);
      return b;
    }
    function reasonInput(label, cls) {
      var id = cls + "-" + rec.code;
      var l = el("label", null, label);
      l.htmlFor = id;
      var input = el("input", cls);
      input.id = id;
      input.maxLength = 200;
      actions.appendChild(l);
      actions.appendChild(input);
      return input;
    }
    var needsReason = rec.codes.indexOf("warning_reason_required") >= 0;
    if (needsReason) {
      var why = reasonInput(S.reasonLabel, "offline-reason");
      button(S.addReason, "add-reason", function () {
        if (!why.value.trim()) { why.focus(); why.setAttribute("aria-invalid", "true"); return; }
        rec.body.warning_reason = why.value.trim();
        retry(rec);
      });
    }
    if (rec.server && (rec.codes.indexOf("patient_differs") >= 0 || rec.codes.indexOf("programme_differs") >= 0)) {
      button(fmt(S.acceptServer, { amount: rec.server.patient }), "accept-server", function () {
        rec.body.offline.expected_patient = rec.server.patient;
        rec.body.offline.expected_programme = rec.server.programme;
        rec.accepted = { slip: yuan(rec.slip.patient), server: rec.server.patient };
        retry(rec);
      });
    }
    var blocked = rec.codes.some(function (c) { return /^check_|unknown_item|no_price|not_number|not_positive/.test(c); });
    if ((blocked || needsReason || rec.server) && window.terminalForm && rec.codes.indexOf("month_frozen") < 0) {
      button(S.editItems, "edit-items", function () { loadIntoForm(rec); });
    }
    var gone = reasonInput(S.discardLabel, "discard-reason");
    button(S.discard, "discard", function () {
      if (!gone.value.trim()) {
        gone.setAttribute("aria-invalid", "true");
        gone.focus();
        return;
      }
      discard(rec, gone.value.trim());
    });
    box.appendChild(actions);
    return box;
  }

  function stateText(rec) {
    if (rec.user !== ME && waiting(rec)) return fmt(S.stateOtherUser, { user: rec.user });
    if (rec.state === "synced") return fmt(S.stateSynced, { receipt: rec.receipt });
    if (rec.state === "discarded") return fmt(S.stateDiscarded, { reason: rec.discard_reason });
    if (rec.state === "conflict") return S.stateConflict;
    return rec.state === "sending" ? S.stateSending : S.statePending;
  }

  var rendering = null;
  function render() {
    if (rendering) return rendering;
    rendering = records().then(function (all) {
      rendering = null;
      var count = all.filter(waiting).length;
      badge(count);
      var recent = all.filter(function (r) { return waiting(r) || r.captured_at >= shanghaiIso(serverMs() - DAY); });
      var section = byId("offline-queue"), list = byId("offline-list");
      list.textContent = "";
      recent.forEach(function (rec) {
        var li = el("li", "offline-visit state-" + rec.state);
        li.dataset.code = rec.code;
        var head = el("p", "offline-head");
        head.appendChild(el("strong", "nowrap", rec.code));
        head.appendChild(document.createTextNode(" " + rec.captured_at.slice(5, 16).replace("T", " ") + " · " +
          rec.masked + " · ¥" + yuan(rec.slip.patient) + " "));
        var st = el("span", "offline-state badge " + (rec.state === "synced" ? "ok" : rec.state === "conflict" ? "no" : "muted"),
                    stateText(rec));
        head.appendChild(st);
        li.appendChild(head);
        if (rec.state === "synced" && rec.receipt_url) {
          var a = el("a", "button receipt-link", S.printReceipt);
          a.href = rec.receipt_url;
          li.appendChild(a);
        }
        if (rec.state === "conflict" && rec.user === ME) li.appendChild(conflictBox(rec));
        list.appendChild(li);
      });
      section.hidden = recent.length === 0;
      var login = byId("offline-login");
      login.hidden = !(state.needLogin && count);
      byId("offline-banner").hidden = !isOffline();
    }, function () { rendering = null; });
    return rendering;
  }

  /* --- being offline ------------------------------------------------------------------------ */
  function isOffline() { return !navigator.onLine || state.down; }
  var probeTimer = null;
  // While the server does not answer, ask again every 20 seconds (and upload when it does).
  function probeLater() {
    clearInterval(probeTimer);
    probeTimer = setInterval(function () {
      if (!navigator.onLine) return;
      syncAll().then(function () { if (!state.down) clearInterval(probeTimer); });
    }, 20000);
  }
  function unreachable(url, body) {
    state.down = true;
    byId("offline-banner").hidden = false;
    probeLater();
    return answer(url, body);
  }
  window.addEventListener("online", function () { state.down = false; syncAll(); });
  window.addEventListener("offline", function () { render(); });

  /* --- start ------------------------------------------------------------------------------- */
  // The bundle this PC keeps (another tab may have stored a newer one meanwhile).
  function loadKept() {
    return kv.get("bundle", meta).then(function (kept) {
      if (kept && kept.user === ME && kept.clinic === CLINIC && kept.fetchedAt > state.fetchedAt) {
        state.bundle = kept.bundle;
        state.fetchedAt = kept.fetchedAt;
        state.offset = kept.offset;
      }
    }, function () { return null; });
  }
  var ready = loadKept();

  window.terminalOffline = {
    isOffline: isOffline, answer: answer, unreachable: unreachable, showQuote: showQuote,
    takesSave: takesSave, save: save, sync: syncAll, render: render
  };

  byId("print-slip").addEventListener("click", function () {
    document.body.classList.add("print-slip");
    window.print();
    document.body.classList.remove("print-slip");
  });
  byId("next-patient").addEventListener("click", function () { window.location.assign(URLS.page); });

  if ("serviceWorker" in navigator && URLS.sw) {
    navigator.serviceWorker.addEventListener("message", function (e) {
      if (!e.data || e.data.type !== "kept") return;
      window.__offlineKept = e.data;  // read by the browser test, stated in the README
      byId("offline-kept").textContent = fmt(S.kept, { kb: (e.data.bytes / 1024).toFixed(1) });
    });
    navigator.serviceWorker.register(URLS.sw, { scope: URLS.page.replace(/[^\/]*$/, "") }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      // The page itself only on the first load: afterwards each visit of it is kept.
      var urls = navigator.serviceWorker.controller ? [] : [URLS.page];
      Array.prototype.forEach.call(document.querySelectorAll("script[src], link[rel=stylesheet], link[rel=icon]"),
        function (node) { urls.push(node.src || node.href); });
      if (!isOffline()) registration.active.postMessage({ type: "keep", urls: urls });
    }).catch(function () { return null; });
  }

  ready.then(function () {
    render();
    // terminal.js runs after this script: restore a dropped post once it is there.
    setTimeout(function () {
      restoreUnsent().then(function () { if (navigator.onLine && !state.restored) syncAll(); });
    }, 0);
  });
})();
