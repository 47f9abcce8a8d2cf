"""A run directory survives its writer being killed: results.json is whole
(old or new) at every instant, a torn journal line is cut off before more
are appended, and temporary files a killed writer left are removed."""
import json
import random
import subprocess
import sys
import time

from bench.run.rundir import JOURNAL, RESULTS, RunDir, read_journal, write_atomic

WRITER = """
import json, sys
from pathlib import Path
from bench.run.rundir import write_atomic
path, i = Path(sys.argv[1]), 0
while True:
    write_atomic(path, json.dumps({"i": i, "pad": "x" * 4_000_000}))
    i += 1
"""


def test_results_json_is_never_half_written_when_the_writer_is_killed(tmp_path):
    target = tmp_path / RESULTS
    write_atomic(target, json.dumps({"i": -1}))
    rng = random.Random(7)
    seen = set()
    for _ in range(8):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)])
        time.sleep(rng.uniform(0.2, 0.6))
        writer.kill()                       # SIGKILL: no finally block runs
        writer.wait()
        seen.add(json.loads(target.read_text())["i"])   # whole, never torn
    assert max(seen) >= 0                   # the writer did replace it meanwhile
    RunDir(tmp_path.parent, tmp_path.name).reopen()
    assert [p.name for p in tmp_path.iterdir()] == [RESULTS]


def test_a_torn_journal_line_is_cut_off_before_appending(tmp_path):
    rd = RunDir(tmp_path, "run")
    rd.create()
    write_atomic(rd.path / RESULTS, "{}")
    rd.append_trial({"seq": 0})
    with open(rd.path / JOURNAL, "a") as f:
        f.write('{"seq": 1, "stat')           # a crash in the middle of a line
    assert [t["seq"] for t in read_journal(rd.path)] == [0]
    rd.reopen().append_trial({"seq": 1})
    assert [t["seq"] for t in read_journal(rd.path)] == [0, 1]
    assert (rd.path / JOURNAL).read_text() == '{"seq": 0}\n{"seq": 1}\n'


def test_reopen_refuses_a_directory_that_is_no_run(tmp_path):
    import pytest

    from bench.errors import InputError
    with pytest.raises(InputError, match="holds no results.json; is this a run directory?"):
        RunDir(tmp_path.parent, tmp_path.name).reopen()
