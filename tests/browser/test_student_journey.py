"""The student's journey in a real browser: JupyterLab (as ``make lab`` starts it) in headless Chromium.

1. ``make lab`` lands on ``notebooks/00_start_here``, whose course map opens Chapter 1.
2. Run All on the untouched student notebook of Chapter 1 stops at the first exercise's
   test cell with ``NotImplementedError``, as a student sees it; nothing after it runs.
3. Run All on the same chapter with the answers filled in (the solution notebook, in the
   server's scratch copy) runs every cell; the auction explorer renders as a widget, moving
   its k slider one step redraws the chart and updates the summary, and nbgrader's Validate
   button reports success.

Selectors and waits follow the measured notes (shared notes, browser-testing.md).
Screenshots of each step go to tests/browser/screenshots/ (ignored by git).
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHAPTER = "01_double_auction"
START_HERE = "notebooks/00_start_here/00_start_here.ipynb"
STUDENT = f"notebooks/{CHAPTER}/{CHAPTER}.ipynb"
ANSWERED = f"solutions/{CHAPTER}/{CHAPTER}.ipynb"
FIRST_TEST_CELL = '"""Check that count_trades'
WIDGET_CELL = "tc.widgets.auction_explorer()"

ACTIVE = "#jp-main-dock-panel .jp-NotebookPanel:not(.lm-mod-hidden)"
KERNEL_IDLE = "Python 3 (ipykernel) | Idle"
NUMBERED = re.compile(r"^\[\d+\]:$")

# Each code cell of the active notebook: its source, its prompt ("[3]:", "[*]:", "[ ]:") and output text.
CELLS_JS = """panel => [...panel.querySelectorAll('.jp-Notebook .jp-Cell.jp-CodeCell')].map(c => ({
    source: [...c.querySelectorAll('.jp-InputArea-editor .cm-line')].map(l => l.textContent).join('\\n'),
    prompt: (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
    output: (c.querySelector('.jp-OutputArea') || {}).textContent || '',
}))"""


def wait_for_kernel_idle(page: Page, timeout: float = 90_000) -> None:
    # The toolbar's execution indicator reads idle before a kernel exists; the status bar does not.
    page.locator("#jp-main-statusbar .jp-StatusBar-TextItem", has_text=KERNEL_IDLE).wait_for(timeout=timeout)


def open_notebook(page: Page, url: str, path: str):
    """Open ``path`` alone (``?reset`` drops restored tabs), wait for its kernel; return the notebook panel."""
    page.goto(f"{url}/lab/tree/{path}?reset")
    panel = page.locator(ACTIVE)
    panel.locator(".jp-Cell").first.wait_for()
    wait_for_kernel_idle(page)
    return panel


def code_cells(panel) -> list[dict]:
    return panel.evaluate(CELLS_JS)


def run_all(page: Page, panel, attempts: int = 3) -> None:
    """Run > Run All Cells, retried until a prompt shows that execution started."""
    for _ in range(attempts):
        page.locator(".lm-MenuBar-item").filter(has_text=re.compile(r"^Run$")).click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
        try:
            page.wait_for_function(
                "sel => [...document.querySelector(sel).querySelectorAll('.jp-InputArea-prompt')]"
                ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))", arg=ACTIVE, timeout=10_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"Run All did not start executing after {attempts} attempts")


def wait_until_settled(page: Page, panel, timeout: float = 180_000) -> list[dict]:
    """Wait until no cell is running or queued ([*]) and the kernel is idle; return the code cells."""
    page.wait_for_function(
        "sel => ![...document.querySelector(sel).querySelectorAll('.jp-InputArea-prompt')]"
        ".some(p => p.textContent.includes('*'))", arg=ACTIVE, timeout=timeout)
    wait_for_kernel_idle(page)
    return code_cells(panel)


def scroll_to(locator, tries: int = 10) -> None:
    """Scroll ``locator`` into view; cells off screen are laid out lazily, so repeat until it stays."""
    for _ in range(tries):
        locator.evaluate("el => el.scrollIntoView({block: 'center'})")
        try:
            expect(locator).to_be_in_viewport(timeout=500)
            return
        except AssertionError:
            continue
    expect(locator).to_be_in_viewport(timeout=500)


def index_of(cells: list[dict], start: str) -> int:
    hits = [i for i, c in enumerate(cells) if c["source"].startswith(start)]
    assert len(hits) == 1, f"expected one code cell starting with {start!r}, found {len(hits)}"
    return hits[0]


def assert_widget_rendered(cell) -> None:
    """The cell shows a live widget: not an error, not the text repr of a VBox."""
    try:
        cell.locator(".jupyter-widgets").first.wait_for(timeout=20_000)
    except PlaywrightTimeout:
        shown = cell.locator(".jp-OutputArea").inner_text()[:300]
        raise AssertionError(f"no widget rendered (widget manager missing?); the cell shows: {shown!r}") from None
    text = cell.locator(".jp-OutputArea").inner_text()
    assert "Error displaying widget" not in text, text
    assert "VBox(children" not in text, f"the widget shows as a bare text repr: {text[:200]}"


def test_make_lab_lands_on_start_here_whose_map_opens_chapter_1(page, lab, shoot):
    page.goto(lab.url + "/")  # what `make lab` opens: its --LabApp.default_url
    panel = page.locator(ACTIVE)
    panel.get_by_role("heading", name="Start here: how this course works").wait_for()
    assert page.url.split("?")[0].endswith("/lab/tree/" + START_HERE), page.url
    current_tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
    assert current_tab.inner_text() == "00_start_here.ipynb"
    shoot("1-start-here")

    panel.get_by_role("link", name="1. Double auctions").click()
    page.locator(ACTIVE).get_by_role("heading", name=re.compile(r"^Chapter 1: Double auctions")).wait_for()
    assert current_tab.inner_text() == f"{CHAPTER}.ipynb"
    wait_for_kernel_idle(page)
    shoot("2-chapter-1-opened-from-the-map")


def test_run_all_on_the_student_notebook_stops_at_the_first_exercise(page, lab, shoot):
    panel = open_notebook(page, lab.url, STUDENT)
    run_all(page, panel)
    cells = wait_until_settled(page, panel)
    shoot("3-student-run-all-stopped")

    stop = index_of(cells, FIRST_TEST_CELL)
    failed = [i for i, c in enumerate(cells) if "Traceback" in c["output"]]
    assert failed == [stop], f"expected one traceback, in the first exercise's test cell {stop}; got {failed}"
    assert "NotImplementedError" in cells[stop]["output"], cells[stop]["output"][:500]
    assert all(NUMBERED.match(c["prompt"]) for c in cells[: stop + 1]), [c["prompt"] for c in cells[: stop + 1]]
    assert all(c["prompt"] == "[ ]:" for c in cells[stop + 1:]), "cells after the failing one must not run"
    # What the student sees: the error is on screen, in the cell that stopped the run.
    error = panel.locator(".jp-CodeCell").nth(stop).locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    scroll_to(error)
    assert "NotImplementedError" in error.inner_text()
    shoot("4-student-sees-NotImplementedError")
    # The cells before the first exercise ran for real: the explorer is a live widget.
    assert_widget_rendered(panel.locator(".jp-CodeCell").nth(index_of(cells, WIDGET_CELL)))
    assert panel.locator(".jp-NotebookPanel-toolbar .validate-button").is_visible()


def test_answered_chapter_runs_and_its_widget_responds_and_validates(page, lab, shoot):
    panel = open_notebook(page, lab.url, ANSWERED)
    run_all(page, panel)
    cells = wait_until_settled(page, panel)
    assert all(NUMBERED.match(c["prompt"]) for c in cells), [c["prompt"] for c in cells]
    assert not [i for i, c in enumerate(cells) if "Traceback" in c["output"]], "an answered notebook raised"

    cell = panel.locator(".jp-CodeCell").nth(index_of(cells, WIDGET_CELL))
    scroll_to(cell.locator(".jp-OutputArea"))
    assert_widget_rendered(cell)
    chart = cell.locator(".widget-image")
    summary = cell.locator(".widget-html-content")
    chart.wait_for()
    src_before, summary_before = chart.get_attribute("src"), summary.inner_text()
    assert src_before, "the chart has no image"
    assert "price (k = 0.5)" in summary_before and "8.5" in summary_before, summary_before
    shoot("5-answered-widget-before")

    # In typed mode the only visible slider is k (the random-market sliders are hidden).
    slider = cell.locator(".widget-slider").locator("visible=true")
    assert slider.count() == 1, f"expected the k slider alone, found {slider.count()} visible sliders"
    assert slider.locator(".widget-readout").inner_text().strip() == "0.50"
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")  # one step of 0.05
    page.wait_for_function("([el, old]) => el.getAttribute('src') !== old", arg=[chart.element_handle(), src_before])
    assert slider.locator(".widget-readout").inner_text().strip() == "0.55"
    # k = 0.55 on the interval [8, 9]: price 8 + 0.55 * (9 - 8) = 8.55, the welfare 7 + 3 = 10 unchanged.
    summary.filter(has_text="8.55").wait_for()
    summary_after = summary.inner_text()
    assert summary_after != summary_before and "price (k = 0.55)" in summary_after, summary_after
    assert re.search(r"welfare\s+10\b", summary_after), summary_after
    shoot("6-answered-widget-after-ArrowRight")

    # A drag across the track: the explorer refreshes once, at release (sliders do not update while dragged),
    # so the chart shows the released value within a second, with no backlog of intermediate values after it.
    handle = slider.locator(".noUi-handle")
    src_before_drag = chart.get_attribute("src")
    track = slider.locator(".noUi-base").bounding_box()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    goal = track["x"] + 0.9 * track["width"]
    for i in range(1, 21):  # towards 90 % of the track, in 20 moves
        x = box["x"] + box["width"] / 2 + (goal - box["x"] - box["width"] / 2) * i / 20
        page.mouse.move(x, box["y"] + box["height"] / 2)
    page.mouse.up()
    released = time.monotonic()
    k = float(slider.locator(".widget-readout").inner_text().strip())
    assert k > 0.6, f"the drag moved k to {k} only"
    summary.filter(has_text=f"price (k = {k:g})").wait_for(timeout=1000)
    # the same refresh then sends the chart (the table is set first)
    page.wait_for_function("([el, old]) => el.getAttribute('src') !== old",
                           arg=[chart.element_handle(), src_before_drag], timeout=1000)
    settled_in = time.monotonic() - released
    src_settled = chart.get_attribute("src")
    page.wait_for_timeout(1000)
    assert chart.get_attribute("src") == src_settled, "the chart changed again after it showed the released value"
    assert f"price (k = {k:g})" in summary.inner_text()
    print(f"\nchart settled {settled_in * 1000:.0f} ms after the drag's release (k = {k:g})")
    shoot("6b-answered-widget-after-drag")

    validate = panel.locator(".jp-NotebookPanel-toolbar .validate-button")
    assert validate.is_visible(), "nbgrader's Validate button is missing from the notebook toolbar"
    validate.click()  # saves the notebook, then nbgrader's server extension runs it in a fresh kernel
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".jp-Dialog-header", has_text="Validation Results").wait_for(timeout=180_000)
    body = dialog.locator(".jp-Dialog-body").inner_text()
    shoot("7-answered-validate")
    assert "Success! Your notebook passes all the tests." in body, body
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
