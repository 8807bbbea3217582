"""The AIStudio notebooks run top to bottom (nbclient, a real kernel) on tiny settings."""
import os
import time

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "aistudio")

# Injected after each notebook's "parameters" cell, as papermill would: a few iterations at tiny widths.
TINY = {
    "quickstart.ipynb": '''
ITERS = 2
WIDTHS = ["model.generator.cnum=4", "model.local_discriminator.ndf=4", "model.global_discriminator.ndf=4"]
EVAL_SAMPLES = 2
''',
    "convert_pytorch.ipynb": "",
    "harmonization.ipynb": '''
ITERS = 2
COUNT = 10
MODELS = {"RainNet": ("configs/rainnet/quickstart.yml", ["model.generator.ngf=4", "model.discriminator.ndf=4"]),
          "S2AM": ("configs/s2am/quickstart.yml", ["model.generator.ngf=8"])}
''',
}


def _with_parameters(nb, source: str):
    """The notebook with ``source`` inserted right after its cell tagged ``parameters``."""
    index = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(index) == 1, "each notebook has exactly one cell tagged 'parameters'"
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index[0] + 1, cell)
    return nb


def test_every_notebook_has_tiny_settings():
    assert sorted(f for f in os.listdir(NOTEBOOKS) if f.endswith(".ipynb")) == sorted(TINY)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY))
def test_notebook_runs_top_to_bottom(tmp_path, name):
    nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    setup = nb.cells[1] if nb.cells[0].cell_type == "markdown" else nb.cells[0]
    assert "setup" in setup.metadata.get("tags", []) and "requirements.txt" in setup.source
    nb = _with_parameters(nb, TINY[name] + f"OUTPUT = {str(tmp_path / 'out')!r}\n")
    start = time.time()
    # The kernel starts in aistudio/, as on AIStudio after opening the file; one math thread.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": NOTEBOOKS}})
    client.execute(env=env)
    print(f"{name}: {time.time() - start:.1f} s")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    # Every code cell ran, in order, and the results were written where OUTPUT says.
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))
    assert os.listdir(tmp_path / "out")
