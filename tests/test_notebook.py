"""examples/quickstart.ipynb runs from top to bottom (nbclient, a fresh kernel), so the notebook a
researcher opens first cannot rot: the Python API's headline run, its curves, a task defined in a
cell, and the results table."""

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


@pytest.mark.slow
def test_the_quickstart_notebook_runs_and_shows_what_it_promises(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.chdir(tmp_path)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "test prompts met in training: 0 | decisions read: validation" in text
    assert "chain exact on test prompts:" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the curves
    assert any("text/html" in o.get("data", {}) for o in outputs)  # the results table
    assert list(tmp_path.iterdir()) == []  # it writes into a temporary folder of its own, not the cwd
