"""The trial record is a declared type (results_format.TrialRecord): every
record the builders make from captured raw trials holds its columns and no
undeclared key, and docs/format.md documents exactly the declared fields."""
import copy
import json
import re
from pathlib import Path

import pytest

from bench import results_format as rf
from bench.catalog import Catalog
from bench.record import trial

DOCS = Path(__file__).parents[2] / "docs" / "format.md"
SCENARIO = {"rr": "rr", "crr": "crr", "rr_under_load": "rr-under-load", "bulk": "single-link"}


def _records(data_dir):
    cat = Catalog()
    raw = json.loads((data_dir / "raw-trials.json").read_text())
    for proto in ("tcp", "mptcp"):
        yield trial.build(copy.deepcopy(raw[proto]), cat.scenario("aggregate-2x"), proto,
                          run_id="r", repeat=0, seq=0)
    engine = json.loads((data_dir / "raw-engine-trials.json").read_text())
    for name, r in engine.items():
        if name != "kernel":
            yield trial.build(copy.deepcopy(r), cat.scenario(SCENARIO[r["params"]["workload"]]),
                              r["params"]["protocol"], run_id="r", repeat=0, seq=0)
    iperf3 = json.loads((data_dir / "iperf3" / "raw-trials.json").read_text())
    for case, r in iperf3.items():
        yield trial.build(copy.deepcopy(r), cat.scenario("aggregate-2x"),
                          "tcp" if case == "tcp" else "mptcp", run_id="r", repeat=0, seq=0)


def test_built_records_hold_the_declared_keys_only(data_dir):
    records = list(_records(data_dir))
    assert len(records) > 10
    declared = set(rf.TrialRecord.__annotations__)
    for rec in records:
        assert set(rf.CORE_COLUMNS) <= set(rec)
        assert set(rec) <= declared, set(rec) - declared
        rf.check_trials([rec], "built")       # and each column of its declared type


def test_a_misspelt_column_is_refused():
    rec = dict.fromkeys(rf.COLUMN_TYPES) | {"scenario": "s", "protocol": "tcp", "status": "ok"}
    rec["goodput_bps"] = "fast"
    with pytest.raises(Exception, match="goodput_bps"):
        rf.check_trials([rec], "x")


def test_the_format_page_documents_exactly_the_declared_fields():
    text = DOCS.read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| (str|int|float|bool) \|", text, re.M))
    assert rows == {c: t.__name__ for c, t in rf.COLUMN_TYPES.items()}
    nested = text.split("### Nested fields", 1)[1].split("\n## ", 1)[0]
    # Each item names its fields in backticks before its colon.
    names = {n for item in re.findall(r"^- (.*?):", nested, re.M)
             for n in re.findall(r"`(\w+)", item)}
    assert names == set(rf.NESTED_FIELDS)
