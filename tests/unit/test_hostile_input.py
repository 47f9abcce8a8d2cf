"""Hostile input of any shape: a scenario file of any bytes, any CLI value,
a damaged or hand-made run directory.  Each gives exit status 2 and one
sentence (or, where the input is valid, works), never a traceback, and
writes nothing.  Property-based (hypothesis), bounded in examples and time."""
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.catalog import MAX_DURATION_S, MAX_REPEAT, MAX_WARMUP
from bench.cli import main, parser

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
SCENARIO = '[scenario.x]\ndescription = "d"\nlinks = [{ rate_mbit = 10 }]\n'


def one_sentence(capsys, starts: str = "error: ") -> str:
    err = capsys.readouterr().err
    assert err.startswith(starts) and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def files(*roots: Path) -> set[Path]:
    return {p for root in roots for p in root.rglob("*")}


def refused_or_fine(capsys, status: int, starts: str = "error: ") -> None:
    """Valid input works (0); anything else is exit 2 and one sentence."""
    assert status in (0, 2), status
    if status == 2:
        one_sentence(capsys, starts)


@pytest.fixture(autouse=True)
def in_empty_dir(tmp_path, monkeypatch):
    """Each test runs in its own empty directory: what it finds there after
    is what the command wrote."""
    monkeypatch.chdir(tmp_path)


def list_with(tmp_path, content: bytes) -> int:
    path = tmp_path / "defs.toml"
    path.write_bytes(content)
    before = files(tmp_path, Path.cwd())
    status = main(["list", "--scenario-file", str(path)])
    assert files(tmp_path, Path.cwd()) == before, "list wrote a file"
    return status


@FAST
@given(st.binary(max_size=2048))
def test_a_definitions_file_of_any_bytes(tmp_path, capsys, content):
    refused_or_fine(capsys, list_with(tmp_path, content))


@FAST
@given(st.text(alphabet=st.sampled_from('[]{}="\'.,#\n abcx0123-_\\'), max_size=300))
def test_a_definitions_file_of_toml_like_text(tmp_path, capsys, text):
    refused_or_fine(capsys, list_with(tmp_path, (SCENARIO + text).encode()))


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12)
SCENARIO_KEYS = ["description", "links", "workload", "mptcp", "cpu", "protocols", "sysctls",
                 "server_protocol", "middlebox", "events", "expect", "family", "name"]


def _toml_value(v) -> str:
    """A TOML rendering of a JSON-ish value (None has no TOML form: a string)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(v), repr(v))
    if isinstance(v, list):
        return "[" + ", ".join(map(_toml_value, v)) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps("" if v is None else v)


@FAST
@given(st.dictionaries(st.sampled_from(SCENARIO_KEYS) | st.text(max_size=8), JSONISH,
                       max_size=6),
       st.text(max_size=70))
def test_a_scenario_of_any_shape_and_name(tmp_path, capsys, table, name):
    body = "\n".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items())
    refused_or_fine(capsys, list_with(tmp_path, f"[scenario.{json.dumps(name)}]\n{body}\n".encode()))


@pytest.mark.parametrize("content, fragment", [
    (b"\xff\xfe" + "[scenario.x]".encode("utf-16-le"), "not UTF-8 text"),
    (b"a = " + b"[" * 50_000, "nested too deeply"),
    (b"# " + b"x" * (2 << 20), "larger than 1 MiB"),
    (b"[scenario.x]\n[scenario.x]\n", "not valid TOML"),            # duplicated table
    (SCENARIO.encode() + b'description = "again"\n', "not valid TOML"),   # duplicated key
    (b"", "no [scenario.<name>] or [suite.<name>] table in it"),
    (b"scenario = 3\n", "must be a table of [scenario.<name>] tables"),
    (SCENARIO.replace("x]", '"../../etc"]').encode(), "scenario name '../../etc' is not allowed"),
    (SCENARIO.replace("x]", '".hidden"]').encode(), "scenario name '.hidden' is not allowed"),
    (SCENARIO.encode() + b'sysctls = { "kernel/panic" = 7 }\n', "sysctls.kernel/panic"),
    (SCENARIO.encode() + b'sysctls = { "net.core.rmem_max" = "1\\n2" }\n', "one line"),
    (SCENARIO.replace("rate_mbit = 10", "rate_mbit = nan").encode(), "rate_mbit"),
    (SCENARIO.replace("rate_mbit = 10", "delay_ms = inf").encode(), "delay_ms"),
])
def test_hand_picked_definitions(tmp_path, capsys, content, fragment):
    assert list_with(tmp_path, content) == 2
    assert fragment in one_sentence(capsys)


BOUNDS = {"--repeat": (1, MAX_REPEAT), "--warmup": (0, MAX_WARMUP),
          "--duration": (0, MAX_DURATION_S), "--vm-timeout": (0, 7 * 86400)}


@FAST
@given(st.sampled_from(sorted(BOUNDS)),
       st.one_of(st.text(max_size=12), st.floats().map(repr), st.integers(-2**70, 2**70).map(str)))
def test_any_cli_number(capsys, option, text):
    try:
        args = parser().parse_args(["run", f"{option}={text}"])
    except SystemExit as exc:
        assert exc.code == 2
        one_sentence(capsys)
        return
    value = getattr(args, option[2:].replace("-", "_"))
    low, high = BOUNDS[option]
    assert low <= value <= high and (value > 0 or option in ("--warmup",))


@pytest.mark.parametrize("args", [
    ["run", "--duration", "nan"], ["run", "--duration", "inf"], ["run", "--duration", "0"],
    ["run", "--repeat", "1e3"], ["run", "--repeat", "99999999999999999999"],
    ["run", "--warmup", "-1"], ["run", "--out", ""], ["run", "--resume", " "],
    ["run", "--ke", "auto"], ["run", "--dur", "3"], ["report", ""],
    ["gate", "a", "b", "--max-regression", "goodput_bps=nan"],
    ["gate", "a", "b", "--max-regression", "goodput_bps=1e999"],
])
def test_hand_picked_cli_values(tmp_path, capsys, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    one_sentence(capsys)
    assert not list(tmp_path.iterdir())


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("mptcp-bench ")


# -- run directories ---------------------------------------------------------
@pytest.fixture
def run_copy(tmp_path, data_dir):
    def copy(results: bytes | None = None):
        run = tmp_path / "run"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(data_dir / "runs" / "quick-a", run)
        (run / "trials.csv").unlink()       # the reader must fall back to results.json
        if results is not None:
            (run / "results.json").write_bytes(results)
        return run
    return copy


def compare_exit(run_copy, capsys, results: bytes, data_dir) -> int:
    run = run_copy(results)
    before = files(run.parent, Path.cwd())
    status = main(["compare", str(data_dir / "runs" / "quick-a"), str(run), "--json"])
    # Damaged input is an error; runs that differ in what they measured are
    # "cannot compare" (exit 2 too, docs/analysis.md): one sentence either way.
    refused_or_fine(capsys, status, starts="")
    assert files(run.parent, Path.cwd()) == before, "compare wrote a file"
    return status


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_truncated_results_file(run_copy, capsys, data_dir, data):
    whole = (data_dir / "runs" / "quick-a" / "results.json").read_bytes()
    cut = data.draw(st.integers(0, len(whole) - 2))
    assert compare_exit(run_copy, capsys, whole[:cut], data_dir) == 2


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_results_file_with_one_value_replaced(run_copy, capsys, data_dir, data):
    doc = json.loads((data_dir / "runs" / "quick-a" / "results.json").read_text())
    node, path = doc, []
    while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(node) if isinstance(node, dict)
                                        else range(len(node))))
        path.append(key)
        node = node[key]
    if not path:
        return
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = data.draw(JSONISH)
    assert compare_exit(run_copy, capsys, json.dumps(doc).encode(), data_dir) in (0, 2)


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d.update(schema_version=99), "written by a newer mptcp-bench"),
    (lambda d: d.update(run_id="../../x"), "run_id is missing or not a run name"),
    (lambda d: d.update(trials="x"), "`trials` is not a list"),
    (lambda d: d["trials"].append([1]), "lacks a scenario name, protocol or known status"),
    (lambda d: d["scenarios"].update({"../x": {}}), "scenario name '../x' is not allowed"),
])
def test_hand_picked_run_directories(run_copy, capsys, data_dir, mutate, fragment):
    doc = json.loads((data_dir / "runs" / "quick-a" / "results.json").read_text())
    mutate(doc)
    run = run_copy(json.dumps(doc).encode())
    assert main(["report", str(run)]) == 2
    assert fragment in one_sentence(capsys)
    assert not (run / "report.md").exists() and not (run / "plots").exists()
