"""Every notebook executes under papermill with tiny parameters; the pipeline reproduces with DVC."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import papermill as pm
import pytest
import yaml

from conftest import TINY

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def run_notebook(name, tmp_path, parameters):
    out = tmp_path / name
    pm.execute_notebook(str(NOTEBOOKS / name), str(out), parameters=parameters, kernel_name="python3",
                        cwd=str(tmp_path), progress_bar=False)
    return json.loads(out.read_text())


def test_tour_executes(tmp_path):
    nb = run_notebook("00_tour.ipynb", tmp_path, {"res": 64, "steps": 600})
    outputs = [o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", [])]
    assert sum("image/png" in d for d in outputs) >= 7  # every section drew its picture
    assert sum("image/gif" in d for d in outputs) == 1  # and the clip plays


def test_generate_notebook_writes_dataset_metrics_and_figures(tmp_path):
    params = {"generate": {"out": "data/fractal", "classes": 2, "per_class": 3, "val_per_class": 1,
                           "samples": None, "seed": 0, "workers": 1, "chunk_size": 1000, "fractal": TINY},
              "reports": "reports"}
    run_notebook("01_generate.ipynb", tmp_path, params)
    metrics = json.loads((tmp_path / "reports" / "metrics" / "generate.json").read_text())
    assert metrics["clips"] == 6 and metrics["s_per_clip"] > 0
    assert (tmp_path / "reports" / "figures" / "01_generate" / "classes.png").stat().st_size > 1000
    assert (tmp_path / "data" / "fractal" / "manifest.csv").exists()


def test_a_failing_cell_fails_with_its_error(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="not accepted"):
        run_notebook("01_generate.ipynb", tmp_path, {"generate": {"out": "x", "classes": 0, "per_class": 3,
                                                                  "val_per_class": 1, "samples": None, "seed": 0,
                                                                  "workers": 1, "chunk_size": 10, "fractal": {}}})


def test_stage_graph_tracks_exactly_its_params_and_code():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, stage in dvc["stages"].items():
        for section in stage.get("params", []):
            assert section in params, f"stage {name} lists params section {section} absent from params.yaml"
        for dep in stage["deps"]:
            assert (ROOT / dep).exists(), f"stage {name} depends on missing {dep}"
        notebook = stage["cmd"].split("papermill ")[1].split()[0]
        assert notebook in stage["deps"]


@pytest.mark.slow
def test_pipeline_reproduces_from_a_copy_on_a_tiny_profile(tmp_path):
    """`dvc repro` in a fresh repository holding the project's files, with tiny parameters."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file() and not f.startswith("reports/"):
            (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, tmp_path / f)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["generate"].update(classes=2, per_class=3, val_per_class=1, fractal=TINY)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["dvc", "repro", "dvc.yaml"], cwd=tmp_path, env=env, check=True)
    assert json.loads((tmp_path / "reports" / "metrics" / "generate.json").read_text())["clips"] == 6
    status = subprocess.run(["dvc", "status", "dvc.yaml"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout
