"""Helpers for the keyboard-only journeys (issue 10): a counting keyboard, and ``look``,
which screenshots a screen and checks what every screen must be.

``look`` checks, on the page as the user has it:

* axe-core (run inside the page, no network): no violation at all of the WCAG 2 A/AA
  rules, which include ``label``, ``button-name``, ``color-contrast``, ``duplicate-id*``
  and the ``aria-*`` rules;
* no English: no browser date/month/time picker (it speaks the PC's language and shows
  11/29/2026 on an English PC); the visible text, placeholders, titles and accessible
  names hold no Latin word except the allowed tokens (PDF, CSV, Excel, ID …) and codes
  with digits; text marked ``lang="en"`` (the language switch) is not counted;
* no horizontal overflow at 1024 px, and no button, badge, number cell or receipt number
  broken over two lines;
* no focus trap, focus always visible: a copy of the page (a GET of its URL, in another
  tab) is walked with Tab; every Tab moves the focus to another element, the walk reaches
  the end of the page, and every focused element draws an outline.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.browser.conftest import screenshot

PICKERS_REFUSED = True  # the month and date boxes are plain text (issue 10, item 10)
ALLOWED_WORDS = {
    *("PDF", "CSV", "Excel", "ID", "QR"),  # names of formats, read as such in Chinese offices
    *("Ctrl", "Enter", "Alt", "Tab", "Esc"),  # the keys' own labels in the keyboard hints
    *("amxl", "zs", "jxs"),  # pinyin initials given as examples of what to type
    *("doctor", "doctor2", "reviewer", "town_reviewer", "finance"),  # the test users' names
}

VISIBLE_TEXT = """() => {
  const out = [];
  const hidden = el => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      if (e.closest('[lang="en"]')) return true;
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden') return true;
      if (e.tagName === 'SCRIPT' || e.tagName === 'STYLE' || e.tagName === 'TEMPLATE') return true;
    }
    return false;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.textContent.trim() && !hidden(n.parentElement)) out.push(n.textContent.trim());
  }
  for (const el of document.querySelectorAll('[placeholder], [title], [aria-label], [alt]')) {
    if (hidden(el)) continue;
    for (const a of ['placeholder', 'title', 'aria-label', 'alt']) {
      const v = el.getAttribute(a);
      if (v) out.push(v);
    }
  }
  for (const el of document.querySelectorAll('input[type=submit], input[type=button]')) {
    if (!hidden(el)) out.push(el.value);
  }
  out.push(document.title);
  return out;
}"""

BROKEN_LINES = """() => {
  const lines = el => {
    const r = document.createRange(); r.selectNodeContents(el);
    const mids = Array.from(r.getClientRects()).filter(x => x.width > 1 && x.height > 1)
                      .map(x => (x.top + x.bottom) / 2).sort((a, b) => a - b);
    let n = mids.length ? 1 : 0;  // a new line: a middle more than 8px below the last
    for (let i = 1; i < mids.length; i++) if (mids[i] - mids[i - 1] > 8) n++;
    return n;
  };
  const sel = 'button, a.button, .badge, th, td.num, td.nowrap, .nowrap, '
            + '.st-figures dd, .figures dd, .receipt-facts dd, #daily-totals td, '
            + '[data-receipt] > td:nth-child(2), #receipt-number';
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    if (!el.offsetParent || el.querySelector('br')) continue;  // a <br> breaks on purpose
    if (lines(el) > 1) out.push(el.outerHTML.slice(0, 160));
  }
  return out;
}"""

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  const shadow = s.boxShadow && s.boxShadow !== 'none';
  const path = [];
  for (let e = el; e && e !== document.body; e = e.parentElement) {
    path.unshift(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                 + ':nth-child(' + (Array.from(e.parentNode.children).indexOf(e) + 1) + ')');
  }
  return {path: path.join('>'), visible: outline || shadow,
          html: el.outerHTML.slice(0, 120)};
}"""


class Keys:
    """The only way the journeys act on a page: keys, each press counted."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.presses: list[str] = []
        self._cdp: Any = None

    def type(self, text: str) -> None:
        self.presses.extend(text)
        self.page.keyboard.type(text)

    def press(self, key: str) -> None:
        self.presses.extend(key.split("+"))
        self.page.keyboard.press(key)

    def summary(self) -> str:
        """All the presses, and how many of them only moved the focus (Tab, Shift+Tab)."""
        tabs = self.presses.count("Tab")
        return f"{len(self.presses)} keys, {tabs} of them Tab, {self.presses.count('Enter')} Enter"

    def access(self, letter: str) -> None:
        """Alt+letter, the access key as Chromium takes it on Windows and Linux.

        Playwright's ``press("Alt+n")`` sends the key without its character, and
        Chromium matches access keys on the character: so the same key events go
        through the DevTools protocol with the character, as a real keyboard sends them.
        """
        self.presses.extend(["Alt", letter])
        if self._cdp is None:
            self._cdp = self.page.context.new_cdp_session(self.page)
        code = {
            "key": letter,
            "code": f"Key{letter.upper()}",
            "modifiers": 1,
            "windowsVirtualKeyCode": ord(letter.upper()),
        }
        self.page.keyboard.down("Alt")
        self._cdp.send(
            "Input.dispatchKeyEvent",
            {"type": "keyDown", "text": letter, "unmodifiedText": letter, **code},
        )
        self._cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", **code})
        self.page.keyboard.up("Alt")

    def focused(self, selector: str) -> bool:
        return bool(
            self.page.evaluate(
                "s => !!document.activeElement && document.activeElement.matches(s)", selector
            )
        )

    def wait_focus(self, selector: str) -> None:
        self.page.wait_for_function(
            "s => !!document.activeElement && document.activeElement.matches(s)", arg=selector
        )

    def tab_to(self, selector: str, limit: int = 40, *, back: bool = False) -> int:
        """Tab (or Shift+Tab) until the focus is on ``selector``; the presses it took."""
        for n in range(limit + 1):
            if self.focused(selector):
                return n
            self.press("Shift+Tab" if back else "Tab")
        raise AssertionError(f"{selector} not reached in {limit} Tabs from {self.page.url}")


def english_words(page: Any) -> list[str]:
    words: list[str] = []
    for text in page.evaluate(VISIBLE_TEXT):
        text = re.sub(r"https?://\S+", "", text)  # addresses are not words
        for word in re.findall(r"[A-Za-z][A-Za-z0-9_-]*", text):
            if word in ALLOWED_WORDS or re.search(r"\d", word):
                continue
            if re.fullmatch(r"[A-Z]+(-[A-Z]+)+", word):  # a receipt check code: NWC-FNCH-FDCT
                continue
            words.append(word)
    return words


def axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            "resultTypes": ["violations"],
        },
    )
    found: list[str] = []
    for violation in results.response["violations"]:
        for node in violation["nodes"]:
            found.append(f"{violation['id']}: {node['html'][:160]} {node['failureSummary']}")
    return found


def tab_walk(page: Any, url: str, limit: int = 80) -> list[str]:
    """Problems met walking a fresh copy of ``url`` with Tab: traps and invisible focus."""
    other = page.context.new_page()
    problems: list[str] = []
    try:
        other.goto(url)
        other.wait_for_load_state()
        # Start from the top of the page, whatever an autofocus did.
        other.evaluate(
            "() => { const b = document.body; b.tabIndex = -1; b.focus();"
            " b.removeAttribute('tabindex'); }"
        )
        seen: list[str] = []
        previous = None
        stay = 0
        for _ in range(limit):
            other.keyboard.press("Tab")
            now = other.evaluate(FOCUSED)
            if now is None:  # past the last element: the focus left the page, no trap
                break
            if previous is not None and now["path"] == previous["path"]:
                stay += 1  # the browser's own date box moves through its parts first
                if stay > 5:
                    problems.append(f"Tab stays on {now['html']}")
                    break
                continue
            stay = 0
            if not now["visible"]:
                problems.append(f"no visible focus on {now['html']}")
            if now["path"] in seen:  # cycled back to the start: the page ended
                break
            seen.append(now["path"])
            previous = now
        else:
            problems.append(f"Tab never reached the end in {limit} presses")
        if not seen:
            problems.append("nothing focusable")
    finally:
        other.close()
    return problems


def look(page: Any, name: str, *, full_page: bool = True, walk: bool = True) -> Path:
    """Screenshot this screen (to look at) and check it as the module docstring says."""
    page.wait_for_load_state()
    target = screenshot(page, name, full_page=full_page)
    problems: list[str] = []
    problems += [f"axe {v}" for v in axe_violations(page)]
    pickers = (
        []
        if not PICKERS_REFUSED
        else page.eval_on_selector_all(
            "input[type=date], input[type=month], input[type=datetime-local], input[type=time]",
            "els => els.map(e => e.outerHTML.slice(0, 120))",
        )
    )
    problems += [f"the browser's own picker (English on an English PC): {p}" for p in pickers]
    words = english_words(page)
    if words:
        problems.append(f"English on the page: {sorted(set(words))}")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 0:
        problems.append(f"the page is {overflow}px wider than the window")
    problems += [f"wraps: {html}" for html in page.evaluate(BROKEN_LINES)]
    if walk:
        problems += tab_walk(page, page.url)
    assert not problems, f"{name} ({page.url}):\n" + "\n".join(problems)
    return target
