"""Guards over the test suite itself (issue 31): a test function must
check something, and a test outside tests/perf must not assert on a
wall-clock duration (speed goals are benchmarks comparing ratios)."""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# Calls that check by themselves: pytest.raises, .fail, .warns, .approx's use
# is inside an assert anyway.
CHECKING_CALLS = {"raises", "fail", "warns", "deprecated_call"}
CLOCKS = {"monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "time", "time_ns",
          "process_time", "process_time_ns"}


def modules() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(), str(p)) for p in sorted(TESTS.rglob("*.py"))}


def functions(tree: ast.AST):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _called(node: ast.AST) -> str | None:
    func = node.func if isinstance(node, ast.Call) else None
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _uses(fn: ast.AST, names: set[str]) -> bool:
    """fn calls one of `names`, or hands it on (benchmark.pedantic(bulk_once, ...))."""
    return any(_called(n) in names or (isinstance(n, ast.Name) and n.id in names)
               for n in ast.walk(fn))


def _checks_directly(fn: ast.AST) -> bool:
    return any(isinstance(n, ast.Assert) or _called(n) in CHECKING_CALLS for n in ast.walk(fn))


def checking_helpers(trees) -> set[str]:
    """Names of functions in tests/ that assert, directly or through one
    another (rootns.assert_unchanged, one_sentence, ...)."""
    fns = [f for t in trees for f in functions(t)]
    names = {f.name for f in fns if _checks_directly(f)}
    while True:
        more = {f.name for f in fns if _uses(f, names)} - names
        if not more:
            return names
        names |= more


def assertion_free(mods) -> list[str]:
    helpers = checking_helpers(mods.values())
    return [f"{path.relative_to(TESTS)}::{fn.name}"
            for path, tree in mods.items() for fn in functions(tree)
            if fn.name.startswith("test_") and not _checks_directly(fn)
            and not _uses(fn, helpers)]


def test_every_test_function_checks_something():
    assert assertion_free(modules()) == []


def test_the_assertion_guard_finds_an_assertion_free_test():
    tree = ast.parse("def helper(x):\n    assert x\n\n"
                     "def test_checks():\n    helper(1)\n\n"
                     "def test_raises():\n    with pytest.raises(ValueError):\n        int('x')\n\n"
                     "def test_nothing():\n    int('1')\n")
    assert assertion_free({TESTS / "fake.py": tree}) == ["fake.py::test_nothing"]


# -- wall-clock ------------------------------------------------------------
def _is_clock(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _called(node) in CLOCKS and (
        not isinstance(node.func, ast.Attribute)
        or getattr(node.func.value, "id", None) == "time")


def _mentions(expr: ast.AST, clocked: set[str]) -> bool:
    return any(_is_clock(n) or (isinstance(n, ast.Name) and n.id in clocked)
               for n in ast.walk(expr))


def _elapsed(expr: ast.AST, clocked: set[str], durations: set[str]) -> bool:
    """Whether expr holds a wall-clock duration: a difference of clock
    readings, or a name assigned one."""
    return any((isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub)
                and (_mentions(n.left, clocked) or _mentions(n.right, clocked)))
               or (isinstance(n, ast.Name) and n.id in durations) for n in ast.walk(expr))


def timed_asserts(fn: ast.AST) -> list[int]:
    """Lines of asserts comparing a wall-clock duration in fn."""
    clocked: set[str] = set()
    durations: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign):
            names = {t.id for t in node.targets if isinstance(t, ast.Name)}
            if _elapsed(node.value, clocked, durations):
                durations |= names
            elif _mentions(node.value, clocked):
                clocked |= names
    return sorted({node.lineno for node in ast.walk(fn) if isinstance(node, ast.Assert)
                   for cmp in ast.walk(node.test) if isinstance(cmp, ast.Compare)
                   and any(_elapsed(e, clocked, durations) for e in [cmp.left, *cmp.comparators])})


def wall_clock_asserts(mods) -> list[str]:
    return [f"{path.relative_to(TESTS)}:{line}" for path, tree in mods.items()
            if "perf" not in path.relative_to(TESTS).parts[:1]
            for fn in functions(tree) if fn.name.startswith("test_")
            for line in timed_asserts(fn)]


def test_no_wall_clock_assertion_outside_the_benchmarks():
    assert wall_clock_asserts(modules()) == []


def test_the_wall_clock_guard_finds_durations_not_deadlines():
    tree = ast.parse(
        "def test_x():\n"
        "    t0 = time.monotonic()\n"
        "    deadline = time.monotonic() + 5\n"
        "    while time.monotonic() < deadline:\n"
        "        pass\n"
        "    assert time.monotonic() < deadline or True\n"   # a timeout, not a speed goal
        "    assert time.monotonic() - t0 < 0.2\n"
        "    took = time.perf_counter() - t0\n"
        "    assert took < 10\n"
        "    assert 0.09 <= applied[0][1] - t0 < 0.2\n")
    assert wall_clock_asserts({TESTS / "unit" / "fake.py": tree}) == [
        "unit/fake.py:7", "unit/fake.py:9", "unit/fake.py:10"]
    assert wall_clock_asserts({TESTS / "perf" / "fake.py": tree}) == []


def test_no_two_test_modules_share_a_name():
    """pytest imports test modules by their basename (rootdir-relative
    'prepend' import): two tiers with a test_x.py each collide at collection,
    as test_hosts.py once did."""
    seen: dict[str, list[str]] = {}
    for p in sorted(TESTS.rglob("*.py")):
        if p.name != "__init__.py" and p.name != "conftest.py":
            seen.setdefault(p.name, []).append(str(p.relative_to(TESTS)))
    assert {n: ps for n, ps in seen.items() if len(ps) > 1} == {}
