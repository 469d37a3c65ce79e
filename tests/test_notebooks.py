"""The grading pipeline: solutions -> release -> validate -> autograde, and leaks.

Every solution notebook is executed once per session, top to bottom in a fresh kernel
(tests/executed.py, shared through the ``executed_notebook`` fixture of tests/conftest.py):
``test_solution_passes_its_own_tests`` proves from that one execution that no cell raises
and every visible and hidden test passes, which is what ``make test`` ran nbval for.  The
other tests here execute other notebooks (the student release, solutions whose answers call
the package, nbgrader's autograded copies), which no execution of the solution can stand for.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from te_course.grading import assignments, release, validate

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = assignments(ROOT)
SOLUTIONS = sorted(ROOT.glob("solutions/*/*.ipynb"))
RELEASED = sorted(ROOT.glob("notebooks/*/*.ipynb"))
GRADED = [a for a in ASSIGNMENTS if any(
    c.metadata.get("nbgrader", {}).get("grade")
    for nb in (ROOT / "solutions" / a).glob("*.ipynb")
    for c in nbformat.read(nb, as_version=4).cells
)]


def _read(path):
    return nbformat.read(path, as_version=4)


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A scratch copy of the course with a fresh release made by nbgrader."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "solutions", root / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    release(root, db_url=f"sqlite:///{root / 'gradebook.db'}")
    return root


def test_every_chapter_has_a_solution_and_a_student_notebook():
    assert "00_start_here" in ASSIGNMENTS and "01_double_auction" in ASSIGNMENTS
    assert [p.relative_to(ROOT / "solutions") for p in SOLUTIONS] == [
        p.relative_to(ROOT / "notebooks") for p in RELEASED
    ], "notebooks/ and solutions/ must hold the same notebooks: run `make release`"
    for name in ASSIGNMENTS:
        assert re.fullmatch(r"\d\d_[a-z_]+", name), name


@pytest.mark.parametrize("path", SOLUTIONS + RELEASED, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_notebooks_have_no_outputs(path):
    for cell in _read(path).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a code cell carries outputs; clear them before committing"
            assert cell.execution_count is None, f"{path.name}: a code cell carries an execution count"


def test_release_is_up_to_date(course):
    """notebooks/ must be exactly what nbgrader generates from solutions/."""
    for fresh in sorted((course / "notebooks").glob("*/*.ipynb")):
        rel = fresh.relative_to(course / "notebooks")
        committed = ROOT / "notebooks" / rel
        assert committed.exists(), f"notebooks/{rel} is missing: run `make release`"
        assert json.loads(committed.read_text()) == json.loads(fresh.read_text()), (
            f"notebooks/{rel} differs from what `make release` generates from solutions/{rel}; "
            "edit the solution and run `make release` (never edit notebooks/ by hand)"
        )


REGIONS = [
    re.compile(re.escape(begin) + r"(.*?)" + re.escape(end), flags=re.S)
    for begin, end in (("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
]


def _solution_lines(nb):
    """Lines found only between solution or hidden-test markers (not elsewhere in the notebook)."""
    secret, public = set(), []
    for cell in nb.cells:
        source = cell.source
        for region in REGIONS:
            for block in region.findall(source):
                secret |= {ln.strip() for ln in block.splitlines() if len(ln.strip()) > 12}
            source = region.sub("", source)
        public.append(source)
    public_text = "\n".join(public)
    return sorted(ln for ln in secret if ln not in public_text)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_release_leaks_no_solution_and_no_hidden_test(name):
    for sol_path in (ROOT / "solutions" / name).glob("*.ipynb"):
        student = _read(ROOT / "notebooks" / name / sol_path.name)
        text = "\n".join(c.source for c in student.cells)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "package_disabled"):
            assert marker not in text, f"{name}: the student notebook contains {marker!r}"
        for line in _solution_lines(_read(sol_path)):
            assert line not in text, f"{name}: solution or hidden-test line leaked into the release: {line!r}"


@pytest.mark.parametrize("name", GRADED)
def test_every_graded_cell_has_id_points_and_a_check_docstring(name):
    for path in (ROOT / "solutions" / name).glob("*.ipynb"):
        nb = _read(path)
        ids = [_nbgrader(c)["grade_id"] for c in nb.cells if "grade_id" in _nbgrader(c)]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate grade ids"
        tests = [c for c in nb.cells if _nbgrader(c).get("grade")]
        assert tests, f"{path.name} has no graded cell"
        for cell in tests:
            assert _nbgrader(cell).get("points", 0) > 0 and _nbgrader(cell).get("locked")
            assert cell.source.startswith('"""Check that'), f"{_nbgrader(cell)['grade_id']}: start with a docstring"
            assert "### BEGIN HIDDEN TESTS" in cell.source, f"{_nbgrader(cell)['grade_id']} has no hidden test"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.parent.name)
def test_solution_passes_its_own_tests(path, executed_notebook):
    """The solution runs top to bottom in a fresh kernel; no cell raises; every graded cell passes."""
    from executed import problems

    nb = executed_notebook(path)
    assert [c for c in nb.cells if c.cell_type == "code" and c.execution_count is not None], "nothing ran"
    assert problems(nb) == []


def test_each_solution_notebook_is_executed_once_per_session(executed_notebook):
    """Asking again for an executed solution reads the shared copy instead of running it again."""
    import executed

    key = executed.fingerprint(SOLUTIONS[0])
    first = executed_notebook(SOLUTIONS[0])
    before = len(executed.EXECUTIONS)
    again = executed_notebook(SOLUTIONS[0])
    if executed.fingerprint(SOLUTIONS[0]) != key:
        pytest.skip("the package or the notebook changed during the test: it had to run again")
    assert again == first and len(executed.EXECUTIONS) == before


def test_two_processes_share_one_execution_and_an_edit_runs_afresh(tmp_path):
    """Two workers asking at once: one runs the notebook, the other waits for it; an edited notebook runs again."""
    import subprocess
    import sys

    from nbformat.v4 import new_code_cell, new_notebook

    runs = tmp_path / "runs.txt"  # outside the notebook's folder, which is part of the fingerprint
    nb_path = tmp_path / "course" / "x.ipynb"
    nb_path.parent.mkdir()
    cell = f"import time\nopen({str(runs)!r}, 'a').write('ran\\n')\ntime.sleep(1)\nprint('{{}}')"
    nbformat.write(new_notebook(cells=[new_code_cell(cell.format("first"))]), nb_path)
    ask = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); from executed import executed; "
           "print(executed(Path(sys.argv[2]), Path(sys.argv[3])).cells[0].outputs[0].text.strip())")
    command = [sys.executable, "-c", ask, str(ROOT / "tests"), str(nb_path), str(tmp_path / "shared")]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    assert [w.communicate(timeout=300)[0].strip() for w in workers] == ["first", "first"]
    assert runs.read_text() == "ran\n"
    nbformat.write(new_notebook(cells=[new_code_cell(cell.format("second"))]), nb_path)
    assert subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip() == "second"
    assert runs.read_text() == "ran\nran\n"


def test_problems_reports_a_cell_that_raises_a_failing_graded_cell_and_a_cell_that_did_not_run():
    from executed import problems
    from nbformat.v4 import new_code_cell, new_output

    ok, raises, graded = new_code_cell("1"), new_code_cell("1 / 0"), new_code_cell('"""Check that x."""\nassert x')
    ok.execution_count, raises.execution_count, graded.execution_count = 1, 2, 3
    raises.outputs = [new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]
    graded.outputs = [new_output("stream", name="stderr", text="assert failed")]
    graded.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "t"}
    nb = nbformat.v4.new_notebook(cells=[ok, raises, graded, new_code_cell("never = 1")])
    found = problems(nb)
    assert len(found) == 3, found
    assert "ZeroDivisionError" in found[0] and "scored 0 of 2.0" in found[1] and "did not run" in found[2]
    assert problems(nbformat.v4.new_notebook(cells=[ok])) == []


@pytest.mark.parametrize("name", GRADED)
def test_untouched_student_notebook_fails_every_test(name):
    for path in (ROOT / "notebooks" / name).glob("*.ipynb"):
        assert validate(path, invert=True) == []


# Bodies that call the package instead of doing the work; the hidden tests must fail them.
CHEATS = {
    "01_double_auction": {
        "count_trades": "return int(round(tc.clear_double_auction(bids, asks).quantity))",
        "clearing_interval": (
            "from te_course.auction import clear_double_auction as cda\n"
            "    return cda(bids, asks).price_interval"
        ),
        "welfare": "return tc.welfare_max_clearing(bids, asks).welfare",
        "lp_clearing": (
            "import pandas as pd\n"
            "    r = tc.welfare_max_clearing(pd.DataFrame({'price': bid_prices, 'quantity': bid_quantities}),\n"
            "                                pd.DataFrame({'price': ask_prices, 'quantity': ask_quantities}))\n"
            "    return r.welfare, r.price"
        ),
    },
    "02_prosumers": {
        "two_step_profit": (
            "b = tc.Battery(e_max_kwh, p_max_kw, eta_charge, eta_discharge)\n"
            "    s = tc.schedule(tc.Prosumer([0.0, 0.0], [b]), [p_lo, p_hi], [p_lo, p_hi], dt_h=dt_h)\n"
            "    return -s.cost"
        ),
        "idle_below": "return p_lo * tc.breakeven_price_ratio(eta_charge, eta_discharge)",
        "smart_charging": (
            "if e_target_kwh > min(e_max_kwh, e0_kwh + eta * p_max_kw * dt_h * sum(available)):\n"
            "        raise ValueError('the target is out of reach')\n"
            "    car = tc.Battery(e_max_kwh, p_max_kw, eta, 1.0, soc0_kwh=e0_kwh, soc_end_kwh=e_target_kwh)\n"
            "    s = tc.schedule(tc.Prosumer([0.0] * len(price), [car]), price, None, dt_h=dt_h, exclusive=True,\n"
            "                    import_max_kw=[p_max_kw * bool(a) for a in available], export_max_kw=0.0)\n"
            "    return s.table.battery_charge_kw.to_numpy(), s.cost"
        ),
    },
    "04_power_flow": {
        "lindistflow_chain": (
            "n = len(p_kw)\n"
            "    buses = pd.DataFrame({'p_kw': np.r_[0.0, p_kw], 'q_kvar': np.r_[0.0, q_kvar]})\n"
            "    lines = pd.DataFrame({'from_bus': range(n), 'to_bus': range(1, n + 1),\n"
            "                          'r_ohm': r_ohm, 'x_ohm': np.maximum(x_ohm, 1e-9)})\n"
            "    f = tc.Feeder(buses, lines, v_base_kv=v_base_kv, s_base_kva=1000.0, substation=0)\n"
            "    return tc.lindistflow(f, v_source_pu=v0_pu).v_pu.to_numpy()[1:]"
        ),
        "sweep_power_flow": (
            "r = tc.ac_power_flow(feeder, v_source_pu=v0_pu, tol=tol, max_iter=max_iter)\n"
            "    return r.v_pu, r.total_loss_kw"
        ),
        "hosting_capacity": (
            "model = 'ac' if power_flow is tc.ac_power_flow else 'lindistflow'\n"
            "    return tc.hosting_capacity(feeder, bus, model=model, v_max_pu=v_max_pu)"
        ),
    },
    "05_dlmp": {
        "mlf_finite_difference": "return float(tc.marginal_loss_factors(feeder)[bus])",
        "dc_opf_prices": (
            "r = tc.dc_opf_lmp(network, generators, load_kw=load_kw)\n"
            "    return {'lmp': r.lmp, 'dispatch_kw': r.dispatch.to_numpy(), 'congestion_rent': r.congestion_rent}"
        ),
        "lindistflow_opf": (
            "r = tc.dlmp(feeder, price_substation=price_substation, ders=ders, v_min_pu=v_min_pu,\n"
            "                v_max_pu=v_max_pu, model='lindistflow')\n"
            "    return {'dlmp': r.prices['total'], 'dispatch_kw': r.dispatch.to_numpy(), 'cost': r.cost}"
        ),
    },
    "06_mechanism_design": {
        "profitable_lie": (
            "for j in range(len(costs)):\n"
            "        gain, report = tc.max_misreport_gain(tc.uniform_price, values, costs, side='seller', index=j)\n"
            "        if gain > 0:\n"
            "            return j, report\n"
            "    return None"
        ),
        "audit": (
            "out = {}\n"
            "    for side, n in (('buyer', len(values)), ('seller', len(costs))):\n"
            "        found = [tc.max_misreport_gain(mechanism, values, costs, side=side, index=i, reports=reports)\n"
            "                 for i in range(n)]\n"
            "        out[side + '_gain'] = np.array([f[0] for f in found])\n"
            "        out[side + '_report'] = np.array([f[1] for f in found])\n"
            "    o = mechanism(values, costs)\n"
            "    ub, us = tc.mechanisms.utilities(o, values, costs)\n"
            "    out['incentive_compatible'] = not (out['buyer_gain'].any() or out['seller_gain'].any())\n"
            "    out['individually_rational'] = bool(min(ub.min(), us.min()) >= -tol)\n"
            "    out['budget_surplus'] = float(o.budget_surplus)\n"
            "    out['weakly_budget_balanced'] = bool(o.budget_surplus >= -tol)\n"
            "    return out"
        ),
        "vcg_payments": "o = tc.mechanisms.vcg(values, costs)\n    return o.buyer_pays, o.seller_gets",
        "mcafee": (
            "o = tc.trade_reduction(values, costs)\n"
            "    n = int(np.sum(o.buyer_trades))\n"
            "    if n == 0:\n"
            "        return 0, float('nan'), float('nan')\n"
            "    return n, float(o.buyer_pays[o.buyer_trades][0]), float(o.seller_gets[o.seller_trades][0])"
        ),
    },
    "07_strategic_behaviour": {
        "cournot_quantities": "return tc.cournot_equilibrium(a, b, costs).quantities",
        "cournot_dynamics": (
            "if order not in ('sequential', 'simultaneous'):\n"
            "        raise ValueError(order)\n"
            "    br = tc.cournot_best_responses(a, b, costs, capacities_kw=capacities)\n"
            "    try:\n"
            "        r = tc.best_response_dynamics(br, list(start), order=order, tol=tol, max_iter=max_rounds)\n"
            "    except tc.ConvergenceError as err:\n"
            "        raise RuntimeError(f'{err.reason} after {err.iterations} rounds') from None\n"
            "    return r.strategies, r.iterations"
        ),
        "dashboard": (
            "q = np.asarray(quantities, float)\n"
            "    price = a - b * q.sum()\n"
            "    eps = tc.demand_elasticity(a, b, price)\n"
            "    return tc.hhi(q), tc.lerner_index(price, marginal_costs), tc.lerner_cournot(q / q.sum(), eps)"
        ),
        "best_offer": (
            "return tc.withholding(intercept=a, slope=b, line_kw=line_kw, marginal_cost=marginal_cost,\n"
            "                          capacity_kw=capacity_kw, price_import=price_import).offer_kw"
        ),
    },
    "08_fairness": {
        "share_one_resource": (
            "return {r: tc.fair_allocation([np.ones(len(weights))], [capacity], weights=weights, rule=r).x.to_numpy()\n"
            "            for r in ('utilitarian', 'max_min', 'proportional')}"
        ),
        "buyer_envy": (
            "t = np.asarray(trades, bool)\n"
            "    o = tc.Outcome(t, t, np.asarray(pays, float), np.zeros(t.size), float(np.sum(pays)))\n"
            "    return tc.envy(o, values=values, costs=np.zeros(t.size)).to_numpy()[:t.size, :t.size]"
        ),
        "fairness_measures": (
            "return tc.jain_index(utilities), tc.price_of_fairness(float(np.sum(utilities)),\n"
            "                                                    float(np.sum(utilitarian_utilities)))"
        ),
        "progressive_filling": "return tc.fair_allocation(usage, capacity, rule='max_min').x.to_numpy()",
    },
    "03_coordination": {
        "best_response": "return tc.QuadraticAgents(a, b, p_min_kw, p_max_kw).best_response(price)",
        "admm_exchange": (
            "agents = tc.QuadraticAgents(a, b, p_min_kw, p_max_kw)\n"
            "    h = tc.admm(agents, rho=rho, tol=1e-10, max_iter=100_000).history\n"
            "    done = np.flatnonzero((h['primal_residual'] <= tol) & (h['dual_residual'] <= tol))\n"
            "    if done.size == 0 or done[0] >= max_iter:\n"
            "        raise RuntimeError('no convergence')\n"
            "    return float(h['price'][done[0]]), tc.centralized_dispatch(agents).dispatch, int(done[0]) + 1"
        ),
        "balance_price": (
            "try:\n"
            "        agents = tc.QuadraticAgents(a, b, p_min_kw, p_max_kw)\n"
            "        return tc.price_iteration(agents, step=step, tol=1e-9, max_iter=max_iter).price\n"
            "    except tc.ConvergenceError as err:\n"
            "        raise RuntimeError(str(err)) from None"
        ),
        "fee_welfare_loss": (
            "agents = tc.QuadraticAgents(a, b, -10.0, 10.0)\n"
            "    t = np.asarray(trades, float)\n"
            "    fees = 0.5 * float(np.sum(np.asarray(trading_cost, float) * np.abs(t)))\n"
            "    return -agents.cost(np.asarray(pool_dispatch, float)).sum() + agents.cost(t.sum(axis=1)).sum() + fees"
        ),
    },
    "09_applications": {
        "two_stage_battery": (
            "b = tc.Battery(e_max_kwh, p_max_kw, eta_charge=1.0, eta_discharge=1.0, soc0_kwh=soc0_kwh, "
            "soc_end_kwh=soc0_kwh)\n"
            "    v = tc.stochastic_value(tc.Prosumer(load_kw, [b]), buy_price, sell_price, pv_kw, probabilities)\n"
            "    net = lambda plan: (plan['battery_charge_kw'] - plan['battery_discharge_kw']).to_numpy()\n"
            "    return {'rp': v.rp, 'ws': v.ws, 'eev': v.eev, 'evpi': v.evpi, 'vss': v.vss, "
            "'plan': net(v.recourse.plan), 'mean_value_plan': net(v.expected_value.plan)}"
        ),
        "first_congestion": (
            "z = loading.iloc[:, 0]\n"
            "    t = tc.DayFlows(loading, loading, loading, z, z).to_frame()\n"
            "    over = t[t['loading_max'] > limit]\n"
            "    return None if over.empty else (over.index[0], over['loading_max_line'].iloc[0])"
        ),
        "robust_z_score": "return tc.robust_z(values)",
        "attack_damage": (
            "r = tc.mitigate_false_bids(bids, asks, fake_asks=fake_asks or None, z_max=z_max)\n"
            "    return r.damage, r.honest.welfare - r.mitigated.welfare"
        ),
    },
}


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_hidden_tests_cannot_be_passed_by_calling_the_package(name, tmp_path):
    """Replace solutions by calls to te_course: the visible checks pass, the hidden tests do not."""
    path = next((ROOT / "solutions" / name).glob("*.ipynb"))
    nb = _read(path)
    cheats = dict(CHEATS[name])
    for cell in nb.cells:
        m = re.search(r"^def (\w+)\(", cell.source, flags=re.M)
        if _nbgrader(cell).get("solution") and m and m.group(1) in cheats:
            body = cheats.pop(m.group(1))
            start, end = cell.source.index("### BEGIN SOLUTION"), cell.source.index("### END SOLUTION")
            cell.source = cell.source[:start] + body + cell.source[end + len("### END SOLUTION"):]
    assert not cheats, f"no answer cell defines {sorted(cheats)}"
    cheat = tmp_path / path.name
    nbformat.write(nb, cheat)
    failed = validate(cheat)
    for fn in CHEATS[name]:
        assert any(f"Check that {fn}" in msg for msg in failed), f"calling te_course passed the tests of {fn}"
    assert all("switched off while it is graded" in msg for msg in failed), failed


def _scores(course_root, assignment, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}", "te_course") as gb:
        sub = gb.find_submission_notebook(assignment, assignment, student)  # notebook, assignment, student
        return {g.name: (g.score, g.max_score) for g in sub.grades if g.max_score > 0}


# The instructor's journey (tests/test_instructor.py) autogrades the same two notebooks of every
# chapter, the solution (alice) and the untouched release (carol), with the same nbgrader_config.py,
# through the course's own command, and checks the same scores.  When it runs in the session, as in
# `make test`, the test below would only grade them a second time; it runs when the journey does not,
# as in `make test-latest` (NOTEBOOK_TESTS).
JOURNEY = "tests/test_instructor.py::test_exported_grades_are_the_expected_scores"


@pytest.mark.parametrize("name", GRADED)
def test_autograde_gives_full_marks_to_the_solution_and_zero_to_the_blank(course, name, request):
    if any(item.nodeid == JOURNEY for item in request.session.items):
        pytest.skip("the instructor's journey in this session autogrades the solution and the blank of every chapter")
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from te_course.grading import _course_config

    for student, src in (("perfect", course / "solutions" / name), ("blank", course / "notebooks" / name)):
        dest = course / "submitted" / student / name
        dest.mkdir(parents=True)
        for nb in src.glob("*.ipynb"):
            shutil.copy(nb, dest / nb.name)
    config = _course_config(course)
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    for student in ("perfect", "blank"):
        result = api.autograde(name, student, force=True, create=True)
        assert result["success"], result.get("log")

    perfect = _scores(course, name, "perfect")
    blank = _scores(course, name, "blank")
    assert perfect and set(perfect) == set(blank)
    total = sum(m for _, m in perfect.values())
    assert total >= 5
    assert all(s == m for s, m in perfect.values()), f"the solution lost points: {perfect}"
    assert all(s == 0 for s, _ in blank.values()), f"the untouched release earned points: {blank}"


def test_validate_reports_a_cell_that_raises_and_a_failing_test(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("1 / 0"), new_code_cell('"""Check that nothing."""\nassert False')])
    nb.cells[1].metadata["nbgrader"] = {
        "grade": True, "solution": False, "locked": True, "points": 1, "grade_id": "t", "schema_version": 3,
    }
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    problems = validate(path)
    assert len(problems) == 2 and "ZeroDivisionError" in problems[0] and "Check that nothing" in problems[1]
    assert validate(path, invert=True) == []


# -- exercises that build models, hints and model answers (issue 16) ----------------------------

HINT = re.compile(r"<details>\s*<summary>\s*(<b>)?\s*Hint", flags=re.I)
MODELLING_CHAPTERS = [a for a in GRADED if "02" <= a[:2] <= "09"]


def _exercises(nb):
    """(points, solution code lines, cells since the previous exercise) of each graded test cell."""
    found, since = [], []
    for cell in nb.cells:
        since.append(cell)
        meta = _nbgrader(cell)
        if meta.get("grade") and not meta.get("solution"):
            code = []
            for c in since:
                if _nbgrader(c).get("solution") and c.cell_type == "code":
                    for m in REGIONS[0].finditer(c.source):
                        code += [ln for ln in m.group(1).splitlines() if ln.strip() and not ln.strip().startswith("#")]
            found.append((meta["grade_id"], meta["points"], code, since))
            since = []
    return found


@pytest.mark.parametrize("name", GRADED)
def test_every_exercise_has_a_hint_the_student_can_open(name):
    for path in (ROOT / "notebooks" / name).glob("*.ipynb"):
        for grade_id, _, _, cells in _exercises(_read(path)):
            assert any(c.cell_type == "markdown" and HINT.search(c.source) for c in cells), (
                f"{grade_id}: no hint (a markdown cell with <details><summary>Hint ...</summary> ... </details>) "
                "between the previous exercise and its test cell")


@pytest.mark.parametrize("name", MODELLING_CHAPTERS)
def test_each_chapter_has_an_exercise_that_builds_its_model(name):
    for path in (ROOT / "solutions" / name).glob("*.ipynb"):
        big = [(g, p, len(code)) for g, p, code, _ in _exercises(_read(path)) if p >= 4 and len(code) >= 12]
        assert big, f"{name}: no exercise of at least 4 points whose solution has at least 12 lines"


@pytest.mark.parametrize("name", GRADED)
def test_no_exercise_of_two_points_or_more_is_a_one_liner(name):
    for path in (ROOT / "solutions" / name).glob("*.ipynb"):
        for grade_id, points, code, _ in _exercises(_read(path)):
            assert points < 2 or len(code) > 1, f"{grade_id}: {points} points for a one-line solution"


@pytest.mark.parametrize("name", GRADED)
def test_every_explore_section_has_a_model_answer_kept_from_students(name):
    from te_course.grading import is_model_answer

    path = next((ROOT / "solutions" / name).glob("*.ipynb"))
    sections, current = {}, None
    for cell in _read(path).cells:
        heading = re.match(r"##\s+(.*)", cell.source) if cell.cell_type == "markdown" else None
        if heading:
            current = heading.group(1)
            sections[current] = False
        elif current and is_model_answer(cell):
            sections[current] = True
    explore = {title: has for title, has in sections.items() if "Explore" in title}
    assert explore, f"{name} has no Explore section"
    assert all(explore.values()), f"{name}: Explore sections without a model answer: {explore}"
    released = next((ROOT / "notebooks" / name).glob("*.ipynb"))
    assert not any(is_model_answer(c) for c in _read(released).cells), "a model answer reached the student notebook"
