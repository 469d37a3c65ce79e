"""The explorers (te_course.widgets): how long a student waits after moving a slider.

Each explorer is built headless (no browser, no kernel: ipywidgets' models only), then its
first three sliders are moved to 30 % and 70 % of their range, in turn, ``CYCLES`` times
(``2 * 3 * CYCLES`` updates).  An update is timed from setting the slider's ``value`` to the
end of the refresh it triggers (which, headless, runs synchronously): the solve, the drawing
and the PNG the browser receives.  The build is the explorer's constructor, timed after one
untimed build (imports and caches warm).  The first pass of the sliders is also reported on
its own: an explorer that keeps what it computed (the EV explorer keeps each setting's study)
answers a setting seen before faster, and the first pass shows the wait for a new one.  For
scale, the same run times a plain line chart (24 points, a new figure) rendered to PNG,
median of 21.

Targets (issue 21): every explorer's median update under 200 ms and its slowest under
400 ms on the 2-core machine of this project, about 3 and 6 times the plain chart.
"""

from __future__ import annotations

import statistics
import time

from timing import median_time

EXPLORERS = ("auction", "battery", "coordination", "cournot", "dlmp", "ev", "fairness", "hosting", "misreport")
CYCLES = {"full": 4, "quick": 1}
TARGET_MEDIAN_S, TARGET_MAX_S = 0.200, 0.400


def _sliders(app) -> list:
    import ipywidgets as W

    return [w for w in app.controls.values() if isinstance(w, (W.FloatSlider, W.IntSlider, W.FloatLogSlider))][:3]


def _at(slider, fraction: float):
    """The value at ``fraction`` of the slider's track (a log slider's ends are exponents)."""
    import ipywidgets as W

    value = slider.min + fraction * (slider.max - slider.min)
    if isinstance(slider, W.FloatLogSlider):
        return slider.base ** value
    return int(round(value)) if isinstance(slider.value, int) else value


def plain_chart_s(repeats: int = 21) -> float:
    from te_course.plots import new_axes, to_png

    def once():
        ax = new_axes(pyplot=False)
        ax.plot(range(24), [(h - 12) ** 2 for h in range(24)])
        return to_png(ax.figure)

    return median_time(once, repeats)[0]


def measure(name: str, cycles: int) -> dict:
    from te_course import widgets

    build = getattr(widgets, f"{name}_explorer")
    build()  # imports and caches warm
    t0 = time.perf_counter()
    app = build()
    build_s = time.perf_counter() - t0
    sliders = _sliders(app)
    times, first_pass = [], None
    for _ in range(cycles):
        if times:
            first_pass = first_pass or list(times)
        for slider in sliders:
            for fraction in (0.3, 0.7):
                target = _at(slider, fraction)
                t0 = time.perf_counter()
                slider.value = target
                times.append(time.perf_counter() - t0)
    first_pass = first_pass or list(times)
    return {"explorer": name, "sliders": [s.description for s in sliders], "build_s": build_s,
            "median_s": statistics.median(times), "max_s": max(times), "updates": len(times),
            "first_median_s": statistics.median(first_pass), "first_max_s": max(first_pass)}


def run(mode: str, seed: int, log) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    out = {"plain_chart_s": plain_chart_s(), "explorers": []}
    for name in EXPLORERS:
        log(f"widgets: {name}")
        out["explorers"].append(measure(name, CYCLES[mode]))
    return out


def report(out: dict, fmt_time, fmt_n) -> str:
    plain = out["plain_chart_s"]
    lines = [
        "**Explorers** (`te_course.widgets`, built headless; a slider moved to 30 % and 70 % of its range, first "
        "three sliders; "
        f"a plain line chart's PNG takes {plain * 1e3:.0f} ms in the same run; targets: median under "
        f"{TARGET_MEDIAN_S * 1e3:.0f} ms, max under {TARGET_MAX_S * 1e3:.0f} ms)",
        "",
        "| explorer | build | update, median | update, max | updates | median / plain chart | target met "
        "| first pass, median | first pass, max |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for e in out["explorers"]:
        met = "yes" if e["median_s"] < TARGET_MEDIAN_S and e["max_s"] < TARGET_MAX_S else "**no**"
        lines.append(f"| {e['explorer']} | {e['build_s'] * 1e3:,.0f} ms | {e['median_s'] * 1e3:,.0f} ms "
                     f"| {e['max_s'] * 1e3:,.0f} ms | {e['updates']} | {e['median_s'] / plain:.1f} | {met} "
                     f"| {e['first_median_s'] * 1e3:,.0f} ms | {e['first_max_s'] * 1e3:,.0f} ms |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    result = run(sys.argv[1] if len(sys.argv) > 1 else "quick", 0, lambda m: print(m, file=sys.stderr))
    print(report(result, None, None))
