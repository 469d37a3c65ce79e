"""The course book as a reader gets it: every page read in headless Chromium, nothing loaded from the internet.

Run by ``make test-book``, which builds both editions of the book first (pyproject.toml keeps
``tests/browser`` out of ``make test``, and ``make test-browser`` leaves this file out); the
``browser`` fixture (Debian's headless Chromium) is conftest.py's.  The built site
(book/_build/html) is served from 127.0.0.1; every request to another host is blocked and
recorded.  For each chapter page: no request left the machine, no page error, every equation
typeset by MathJax (none left as raw ``$...$``, no MathJax error), every figure loaded, one
"Show solution" toggle per exercise of the source notebook (each opens and shows code), the
explorers drawn from their saved state with the sentence that they react on Binder, and a
launch link to the chapter's student notebook.  Over the whole site: no line of a hidden test
and no nbgrader marker.  The edition without solutions (book/_build/html-none): no line of a
solution or a model answer.
The screenshots go to tests/browser/screenshots/book/ (ignored by git).
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import re
import threading
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "book" / "_build" / "html"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots" / "book"
CHAPTERS = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", flags=re.S)
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN SOLUTION", "END SOLUTION", "hidden_check(")


def _source(name: str):
    return nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)


def _exercises(name: str) -> int:
    return sum(bool(c.metadata.get("nbgrader", {}).get("solution")) for c in _source(name).cells)


def _secret_lines() -> set[str]:
    """Lines of the hidden tests that appear nowhere else in the source notebooks (long enough to be telling)."""
    hidden, public = set(), set()
    for name in CHAPTERS:
        for cell in _source(name).cells:
            for block in HIDDEN.findall(cell.source):
                hidden |= {ln.strip() for ln in block.splitlines() if len(ln.strip()) >= 12}
            public |= {ln.strip() for ln in HIDDEN.sub("", cell.source).splitlines()}
    return hidden - public


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no book in {SITE}: run `make book` first (make test-book does)")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Reading:
    """One page read with every request off 127.0.0.1 blocked: what it asked for and what went wrong."""

    def __init__(self, browser, url: str):
        self.outside, self.errors = [], []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("console", lambda msg: msg.type == "error" and "Failed to load resource" not in msg.text
                     and self.errors.append(f"console: {msg.text}"))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(f"{r.status}: {r.url}"))
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def _route(self, route):
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def close(self):
        self.context.close()


def _typeset(page) -> None:
    """Wait until MathJax has typeset the page, where the page loads it (Sphinx adds it to pages with math)."""
    if page.locator("script[src*='vendor/mathjax/']").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        page.evaluate("() => MathJax.startup.promise")


@pytest.mark.parametrize("name", CHAPTERS)
def test_a_chapter_page_reads_offline_with_its_equations_figures_and_toggles(site, browser, name):
    reading = Reading(browser, f"{site}/chapters/{name}/{name}.html")
    page = reading.page
    try:
        _typeset(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
        assert reading.outside == [], f"requests that left the machine: {reading.outside[:5]}"
        assert reading.errors == [], "\n".join(reading.errors[:10])

        # equations: typeset, none left raw, no MathJax error
        math = page.locator("mjx-container").count()
        raw = page.evaluate(r"""() => {
            const walker = document.createTreeWalker(document.querySelector('main') || document.body,
                                                     NodeFilter.SHOW_TEXT);
            const out = [];
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                if (n.parentElement.closest('pre, code, script, style, mjx-container, .highlight')) continue;
                if (/\$[^$\s][^$]*\$/.test(n.textContent) || /\\\(|\\\[/.test(n.textContent)) out.push(n.textContent);
            }
            return out;
        }""")
        assert raw == [], f"equations left untypeset: {raw[:3]}"
        assert page.locator("mjx-merror, .MathJax_Error").count() == 0
        has_math = any("$" in c.source for c in _source(name).cells if c.cell_type == "markdown")
        assert (math > 0) == has_math, f"{math} typeset equations; the source has math: {has_math}"

        # figures: every image loaded
        images = page.eval_on_selector_all("main img", "els => els.map(e => [e.src, e.complete && e.naturalWidth])")
        broken = [src for src, width in images if not width]
        assert broken == [], f"figures that did not load: {broken}"
        plots = sum("plot" in c.source or "plt." in c.source for c in _source(name).cells if c.cell_type == "code")
        assert len(images) >= (1 if plots else 0), f"{len(images)} figures on a page whose code draws {plots}"

        # one solution toggle per exercise, each opens onto code
        toggles = page.locator("details.hide summary", has_text="Show solution")
        assert toggles.count() == _exercises(name)
        for i in range(toggles.count()):
            summary = toggles.nth(i)
            summary.scroll_into_view_if_needed()
            summary.click()
            details = summary.locator("xpath=..")
            assert details.get_attribute("open") is not None
            assert details.locator(".highlight pre").first.is_visible()

        # explorers: drawn from the saved state, with the sentence that they react live elsewhere
        source = "\n".join(c.source for c in _source(name).cells if c.cell_type == "code")
        if "_explorer(" in source:
            page.wait_for_function("() => Array.from(document.querySelectorAll('.jupyter-widgets .widget-slider, "
                                   ".jupyter-widgets .widget-toggle-buttons, .jupyter-widgets .widget-dropdown'))"
                                   ".some(e => e.offsetHeight > 0)", timeout=30_000)  # an explorer's controls
            assert page.get_by_text("Error displaying widget").count() == 0
            assert page.get_by_text("its controls do not react in the book").count() >= 1

        # the launch link opens this chapter's student notebook
        launch = page.locator("a", has_text="Open the student notebook on Binder").get_attribute("href")
        assert launch.endswith(f"urlpath=lab/tree/notebooks/{name}/{name}.ipynb")
        assert (ROOT / "notebooks" / name / f"{name}.ipynb").is_file()
        download = page.locator("a", has_text="Download the student notebook").get_attribute("href")
        downloaded = (SITE / "chapters" / name / download).resolve()
        assert json.loads(downloaded.read_text()) == json.loads((ROOT / "notebooks" / name / f"{name}.ipynb")
                                                                .read_text())
        assert reading.errors == [], "\n".join(reading.errors[:10])
    finally:
        reading.close()


def test_the_index_page_reads_offline_and_maps_every_chapter(site, browser):
    reading = Reading(browser, f"{site}/index.html")
    try:
        assert reading.outside == [] and reading.errors == []
        links = reading.page.eval_on_selector_all("main a", "els => els.map(e => e.getAttribute('href'))")
        for name in CHAPTERS:
            assert f"chapters/{name}/{name}.html" in links
        for heading in ("Who this book is for", "How to use it", "How the exercises are checked"):
            assert reading.page.get_by_role("heading", name=heading).count() == 1
    finally:
        reading.close()


def test_every_page_states_the_licences_and_the_version():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no book in {SITE}: run `make book` first (make test-book does)")
    for name, text in _pages(SITE).items():
        if name.startswith(("_static", "genindex", "search")):
            continue
        assert "CC BY 4.0" in text and "BSD-3-Clause" in text, f"{name}: no licence in the footer"
        assert f"Built from te_course {VERSION}" in text, name


SOLUTION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", flags=re.S)


def _answer_lines() -> set[str]:
    """Lines of the solutions and model answers that the student notebooks do not have (long enough to tell)."""
    answers, given = set(), set()
    for name in CHAPTERS:
        for cell in _source(name).cells:
            blocks = SOLUTION.findall(cell.source)
            if "model-answer" in cell.metadata.get("tags", []):
                blocks.append(cell.source)
            for block in blocks:
                answers |= {ln.strip() for ln in block.splitlines() if len(ln.strip()) >= 25}
        release = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
        given |= {ln.strip() for c in release.cells for ln in c.source.splitlines()}
    return answers - given


def _pages(site: Path) -> dict[str, str]:
    """The text of every page, tags removed (highlighted code reads as its source line again)."""
    return {str(p.relative_to(site)): html.unescape(re.sub(r"<[^>]+>", "", p.read_text(errors="replace")))
            for p in site.rglob("*.html")}


def test_the_edition_without_solutions_has_no_solution_and_no_model_answer():
    """``make book BOOK_SOLUTIONS=none`` (make test-book builds it into book/_build/html-none)."""
    none = SITE.parent / "html-none"
    assert (none / "index.html").is_file(), "make test-book builds this edition first"
    pages, answers = _pages(none), _answer_lines()
    assert len(answers) > 39
    leaks = [f"{page}: {line}" for page, text in pages.items() for line in answers if line in text]
    assert leaks == [], "\n".join(leaks[:10])
    assert not any("Show solution" in text for text in pages.values())
    assert "leaves out the solutions" in pages["index.html"]
    with_solutions = _pages(SITE)
    shown = sum(any(line in text for text in with_solutions.values()) for line in answers)
    assert shown >= len(answers) // 2, "the edition with solutions shows them (a check that can fail)"


def test_no_hidden_test_and_no_solution_marker_anywhere_in_the_site():
    secret = _secret_lines()
    assert len(secret) > 39, "every exercise has hidden tests to look for"
    found = []
    for path in SITE.rglob("*"):
        if not path.is_file() or path.suffix not in (".html", ".ipynb", ".txt", ".js", ".json", ".md", ".py"):
            continue
        if "vendor" in path.relative_to(SITE).parts:
            continue  # MathJax, require.js, the widget manager: third-party files copied from npm
        text = path.read_text(errors="replace")
        found += [f"{path.relative_to(SITE)}: {m}" for m in MARKERS if m in text]
        found += [f"{path.relative_to(SITE)}: {s}" for s in secret if s in text]
    assert found == [], "\n".join(found[:10])


def test_every_link_inside_the_site_leads_to_a_file_of_the_site():
    broken = []
    pages = [p for p in SITE.rglob("*.html") if "_static" not in p.relative_to(SITE).parts]  # not the theme's macros
    assert len(pages) > len(CHAPTERS)
    for page in pages:
        for href in re.findall(r'(?:href|src)="([^"#?]+)', page.read_text(errors="replace")):
            if re.match(r"^[a-z]+:", href) or href.startswith("//"):
                continue  # another site (Binder, the references): followed only when the reader clicks
            target = (page.parent / href).resolve()
            if not (target.is_file() or (target / "index.html").is_file()):
                broken.append(f"{page.relative_to(SITE)} -> {href}")
    assert broken == [], "\n".join(sorted(set(broken))[:10])
