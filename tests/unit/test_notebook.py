"""notebooks/analysis.ipynb runs top to bottom on a real run, comparing it
with another, and notebooks/history.ipynb on the committed history store of
real runs (parameters injected after their `parameters` cell)."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOK = NOTEBOOKS / "analysis.ipynb"


@pytest.mark.parametrize("name", ["analysis.ipynb", "history.ipynb"])
def test_notebook_is_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])]


def _execute(path: Path, parameters: str) -> tuple[nbformat.NotebookNode, str]:
    nb = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(parameters))
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/markdown", ""))
                     + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    return nb, text


def test_notebook_executes_on_a_fixture_run(data_dir):
    nb, text = _execute(NOTEBOOK, f"RUN_DIR = {str(data_dir / 'runs' / 'quick-b')!r}\n"
                                  f"BASE_DIR = {str(data_dir / 'runs' / 'quick-a')!r}")
    assert "run 20261129-001014-faa8: 8 trials" in text
    assert "**aggregate-2x**: MPTCP goodput ×" in text
    assert "gate passed" in text
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) == 3


def test_history_notebook_executes_on_the_committed_store():
    store = NOTEBOOKS.parent / "reports" / "baselines" / "history-gate-calibration"
    nb, text = _execute(NOTEBOOKS / "history.ipynb", f"STORE = {str(store)!r}")
    assert "history-gate-calibration: 20 run(s)" in text
    assert "calib-2x · MPTCP · native · goodput (Mbit/s)" in text
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) == 1


def test_the_notebook_uses_only_the_public_api():
    """Notebooks import bench.analysis and bench.report and use only their
    __all__ names, so modules behind them can move."""
    import json
    import re

    from bench import analysis, history, report
    code = "\n".join("".join(c["source"]) for name in ("analysis.ipynb", "history.ipynb")
                     for c in json.loads((NOTEBOOKS / name).read_text())["cells"]
                     if c["cell_type"] == "code")
    imports = set(re.findall(r"^\s*(?:from|import) (bench\S*)", code, re.M))
    assert imports == {"bench"}, imports
    used = {(m, n) for m, n in re.findall(r"\b(analysis|report|history)\.(\w+)", code)}
    public = {"analysis": set(analysis.__all__), "report": set(report.__all__),
              "history": set(history.__all__)}
    assert {(m, n) for m, n in used if n not in public[m]} == set()
