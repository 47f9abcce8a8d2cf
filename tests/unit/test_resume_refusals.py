"""README: `--resume` refuses when the kernel changed since the run began,
and refuses a run that is still going — one sentence, exit 2, the run
directory untouched.  A committed run, made resumable (interrupted, its
plan recorded, this kernel), is the material."""
import json
import os
import platform
import shutil

import pytest

from bench.catalog import Catalog
from bench.cli import main
from bench.run import resume
from harness import ownership

RUN_ID = "20261129-000920-a1bc"     # tests/data/runs/quick-a


@pytest.fixture
def interrupted(tmp_path, data_dir, monkeypatch):
    run = tmp_path / RUN_ID
    shutil.copytree(data_dir / "runs" / "quick-a", run)
    doc = json.loads((run / "results.json").read_text())
    suite = doc["metadata"]["suite"]
    catalog = Catalog()
    suite["definitions"] = {n: catalog.scenarios[n].model_dump(mode="json")
                            for n in suite["scenarios"]}
    suite.update(drivers=[suite["driver"]], explicit=False, scenario_files=[])
    doc["state"] = "interrupted"
    doc["metadata"]["kernel"]["release"] = platform.uname().release
    (run / "results.json").write_text(json.dumps(doc))
    # Never run trials here if a refusal were missing: fail at once instead.
    monkeypatch.setattr(resume, "Run", lambda *a, **kw: pytest.fail("the resume went ahead"))
    monkeypatch.setattr(ownership, "RUNS_DIR", str(tmp_path / "registry"))
    return run


def contents(run) -> dict:
    return {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*") if p.is_file()}


def set_kernel(run, release: str) -> None:
    doc = json.loads((run / "results.json").read_text())
    doc["metadata"]["kernel"]["release"] = release
    (run / "results.json").write_text(json.dumps(doc))


def test_the_material_is_resumable_when_nothing_stands_in_the_way(interrupted):
    """The control: the refusals below come from the kernel and the live run."""
    plan, doc, _ = resume.load(interrupted)
    assert plan.name == doc["metadata"]["suite"]["name"] and doc["state"] == "interrupted"


def test_resume_refuses_a_run_made_on_another_kernel(interrupted, capsys):
    set_kernel(interrupted, "6.1.0-57-amd64")
    files = contents(interrupted)
    assert main(["run", "--resume", str(interrupted)]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot resume {interrupted}: it ran on kernel 6.1.0-57-amd64, this is "
        f"{platform.uname().release}; one run measures one kernel, so start a new run\n")
    assert contents(interrupted) == files


def test_resume_refuses_a_run_that_is_still_going(interrupted, capsys):
    files = contents(interrupted)
    with ownership.owning(RUN_ID, out=str(interrupted)):      # as the running run holds it
        assert main(["run", "--resume", str(interrupted)]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot resume {interrupted}: run {RUN_ID} is still going "
        f"(pid {os.getpid()}); stop it first\n")
    assert contents(interrupted) == files
