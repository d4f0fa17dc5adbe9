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
from importgraph import code_deps, notebook_files

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def run_notebook(name, tmp_path, parameters):
    """Run a notebook in ``tmp_path`` as in a copy of the project: its parameters cell reads the params.yaml
    found there; ``parameters`` are injected after it, as the stages' values are."""
    if not (tmp_path / "params.yaml").exists():
        shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    out = tmp_path / name
    pm.execute_notebook(str(NOTEBOOKS / name), str(out), parameters=parameters, kernel_name="python3",
                        cwd=str(tmp_path), progress_bar=False)
    return json.loads(out.read_text())


def test_tour_executes(tmp_path):
    nb = run_notebook("00_tour.ipynb", tmp_path, {"tour": {"res": 64, "steps": 600, "seed": 0}})
    outputs = [o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", [])]
    assert sum("image/png" in d for d in outputs) >= 11  # every section drew its picture
    assert sum("image/gif" in d for d in outputs) == 1  # and the clip plays


TINY_GENERATE = {"out": "data/fractal", "family": "fractal", "classes": 2, "per_class": 3, "val_per_class": 1,
                 "samples": None, "seed": 0, "workers": 1, "chunk_size": 1000, "options": TINY}
TINY_ACTIONS = {"family": "actions", "classes": 3, "per_class": 9, "val_per_class": 0, "seed": 0,
                "options": {"res": 32}, "folds": 3, "split_by": "identity"}
TINY_TRAIN = {"arch": "tsm_mnv2", "size": 32, "frames": 4, "epochs": 2, "warmup_epochs": 1, "batch_size": 4,
              "workers": 0, "val_clips": 2}


def test_generate_notebook_writes_dataset_metrics_and_figures(tmp_path):
    run_notebook("01_generate.ipynb", tmp_path, {"target": "pretrain", "generate": TINY_GENERATE,
                                                 "reports": "reports"})
    metrics = json.loads((tmp_path / "reports" / "metrics" / "generate.json").read_text())
    assert metrics["clips"] == 6 and metrics["s_per_clip"] > 0
    assert (tmp_path / "reports" / "figures" / "01_generate" / "classes.png").stat().st_size > 1000
    assert (tmp_path / "data" / "fractal" / "manifest.csv").exists()


def test_downstream_notebook_says_how_to_get_absent_real_data(tmp_path):
    section = {"source": "ucf101", "root": "data/real/UCF101", "split": 1, "short_side": 128, "folds": None,
               "split_by": "identity"}
    with pytest.raises(pm.PapermillExecutionError, match="not at data/real/UCF101.*README"):
        run_notebook("01_generate.ipynb", tmp_path, {"target": "ucf101", "downstream": {"ucf101": section}})


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Notebooks 01-03 run in one folder as the stages would: data, pre-training, two fine-tunings."""
    root = tmp_path_factory.mktemp("pipeline")
    run_notebook("01_generate.ipynb", root, {"target": "pretrain", "generate": TINY_GENERATE})
    run_notebook("01_generate.ipynb", root, {"target": "actions", "downstream": {"actions": TINY_ACTIONS}})
    run_notebook("02_pretrain.ipynb", root, {"seed": 0, "pretrain": {"out": "models/pretrain", "task": "supervised",
                                                                       "data": "data/fractal", "seeds": [0],
                                                                       **TINY_TRAIN}})
    finetune = {"datasets": ["actions"], "pretrained": ["fractal"], "seeds": [0], "kinetics": {"checkpoint": None},
                "scratch": {}, "recipe": {**TINY_TRAIN, "in_memory": True}}
    for init in ("scratch", "fractal"):
        run_notebook("03_finetune.ipynb", root, {"dataset": "actions", "init": init, "seed": 0,
                                                 "finetune": finetune, "downstream": {"actions": TINY_ACTIONS},
                                                 "pretrain": {"out": "models/pretrain", "seeds": [0]}})
    return root


def test_pretrain_and_finetune_notebooks_write_models_metrics_and_figures(pipeline):
    pre = json.loads((pipeline / "reports" / "metrics" / "pretrain" / "0.json").read_text())
    assert pre["epochs"] == 2 and pre["task"] == "supervised"
    assert pre["machine"]["threads"] >= 1 and pre["machine"]["versions"]["torch"]   # the machine is recorded
    assert (pipeline / "models" / "pretrain" / "0" / "model.pt").exists()   # draw 0's network
    assert (pipeline / "reports" / "figures" / "02_pretrain" / "0" / "curves.png").stat().st_size > 1000
    for init in ("scratch", "fractal"):
        m = json.loads((pipeline / "reports" / "metrics" / "finetune" / f"actions-{init}-0.json").read_text())
        assert m["init"] == ("scratch" if init == "scratch" else "models/pretrain/0/model.pt")
        assert m["draw"] == (None if init == "scratch" else 0) and "cpu" in m["machine"]
        assert 0 <= m["top1"] <= m["top5"] <= 1
        assert m["test_clips"] == 27 and [f["test_clips"] for f in m["folds"]] == [9, 9, 9]  # every clip once
        assert sum(map(sum, m["confusion"])) == 27
        assert (pipeline / "models" / "finetune" / f"actions-{init}-0" / "fold2" / "model.pt").exists()
        assert (pipeline / "reports" / "figures" / "03_finetune" / f"actions-{init}-0" / "confusion.png").exists()


def test_figures_notebook_tabulates_every_run(pipeline):
    finetune = {"datasets": ["actions"], "pretrained": ["fractal"], "seeds": [0]}
    figures = {"gallery_clips": 2, "gallery_res": 64, "label": None}
    metrics = pipeline / "reports" / "metrics" / "finetune"
    stale = metrics / "actions-fractal-7.json"   # a seed added, then removed from params.yaml: not counted
    stale.write_text((metrics / "actions-fractal-0.json").read_text())
    nb = run_notebook("04_figures.ipynb", pipeline, {"figures": figures, "finetune": finetune,
                                                     "pretrain": {"seeds": [0]}})
    stale.unlink()
    results = json.loads((pipeline / "reports" / "metrics" / "results.json").read_text())
    assert results["runs"] == 2 and results["actions"]["test_clips"] == 27
    assert results["pretrain_draws"] == 1 and results["actions"]["margin_top1"]["over"] == "fine-tuning seeds"
    assert results["actions"]["margin_top1"]["draws"] == [0] and results["machine"]["cpu_isa"]
    assert set(results["actions"]) >= {"scratch_top1", "fractal_top1", "margin_top1", "chance"}
    text = "".join("".join(o.get("data", {}).get("text/markdown", "")) for c in nb["cells"]
                   for o in c.get("outputs", []))
    assert "| actions | scratch | 1 |" in text and "| actions | fractal | 1 |" in text and "| 27 | 33 |" in text
    assert (pipeline / "reports" / "figures" / "04_figures" / "results.png").stat().st_size > 1000
    assert (pipeline / "reports" / "figures" / "04_figures" / "gallery" / "augment" / "clone.gif").exists()


def test_figures_refuse_runs_of_another_pretraining_draw(pipeline, tmp_path):
    """pretrain.seeds changed from [0] to [1] without rerunning the fine-tuning: the fractal run on disk
    started from draw 0, and counting it would put the old network into the new one's margin."""
    finetune = {"datasets": ["actions"], "pretrained": ["fractal"], "seeds": [0]}
    results = pipeline / "reports" / "metrics" / "results.json"
    before = results.read_bytes()
    with pytest.raises(pm.PapermillExecutionError, match=r"actions-fractal-0.json \(draw 0, expected 1\)"):
        pm.execute_notebook(str(NOTEBOOKS / "04_figures.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                            parameters={"figures": {"gallery_clips": 2, "gallery_res": 64, "label": None},
                                        "finetune": finetune, "pretrain": {"seeds": [1]}},
                            cwd=str(pipeline), progress_bar=False)
    assert results.read_bytes() == before   # the last good result is not overwritten


def test_a_failing_cell_fails_with_its_error(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="not accepted"):
        run_notebook("01_generate.ipynb", tmp_path, {"generate": {**TINY_GENERATE, "classes": 0}})


def test_stage_graph_tracks_exactly_its_params_code_and_data():
    """DVC's own view of the pipeline: fine-tuning values do not touch generation; scratch needs no pre-training."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["dvc", "stage", "list", "--name-only"], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert {"tour", "generate", "downstream@actions", "pretrain@0", "pretrain@2", "scratch@actions-0",
            "finetune@actions-fractal-2", "figures"} <= set(out)
    from dvc.repo import Repo

    stages = {s.addressing: s for s in Repo(str(ROOT)).index.stages}
    params = lambda s: {str(k) for d in s.deps if d.def_path == "params.yaml" for k in (d.params or [])}
    deps = lambda s: {d.def_path for d in s.deps if d.def_path != "params.yaml"}
    assert params(stages["tour"]) == {"tour", "generate", "pretrain", "downstream"}   # the settings it describes
    assert params(stages["generate"]) == {"generate"}
    assert params(stages["downstream@actions"]) == {"downstream.actions"}
    # every pretrain key but seeds: adding a pre-training draw reruns no other draw
    section = yaml.safe_load((ROOT / "params.yaml").read_text())["pretrain"]
    assert params(stages["pretrain@0"]) == {f"pretrain.{k}" for k in section if k != "seeds"}
    # pretrain.seeds: which draw each seed starts from (fractalvid.evaluation.stats.pretraining_draw)
    protocol = {"downstream.actions.folds", "downstream.actions.split_by"}   # the set's own, not the recipe's
    assert params(stages["finetune@actions-fractal-0"]) == {"finetune.recipe", "finetune.kinetics", "pretrain.seeds",
                                                            *protocol}
    assert params(stages["scratch@actions-0"]) == {"finetune.recipe", "finetune.scratch", *protocol}   # a new seed
                                                                                       # or set reruns no other run
    assert "models/pretrain" not in deps(stages["scratch@actions-0"])
    assert {"models/pretrain", "data/actions"} <= deps(stages["finetune@actions-fractal-0"])
    for stage in stages.values():
        if stage.cmd and "papermill" in stage.cmd:
            notebook = stage.cmd.split("papermill ")[1].split()[0]
            assert notebook in deps(stage), f"{stage.addressing} does not depend on its notebook"
            code = sorted(d for d in deps(stage) if d.startswith("fractalvid"))
            # exactly the files the notebook runs, a subpackage as its folder where all of it runs
            # (python tests/importgraph.py writes them)
            assert code == code_deps(ROOT / notebook), f"{stage.addressing}: run `python tests/importgraph.py`"


def test_import_closure_follows_the_package():
    files = notebook_files(NOTEBOOKS / "02_pretrain.ipynb")
    assert files >= {"fractalvid/learning/train.py", "fractalvid/__init__.py", "fractalvid/learning/__init__.py",
                     "fractalvid/clips/ifs.py", "fractalvid/checks.py", "fractalvid/storage/real/layout.py"}
    assert "fractalvid/evaluation/protocol.py" not in files   # pre-training runs no fold


@pytest.mark.slow
def test_pipeline_reproduces_from_a_copy_on_a_tiny_profile(tmp_path):
    """`dvc repro` in a fresh repository holding the project's files, with tiny parameters."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    inputs = {"reports/ablations.json"}   # the ablation record is an input of the figures stage, not an output
    for f in files:
        if (ROOT / f).is_file() and (not f.startswith("reports/") or f in inputs):
            (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, tmp_path / f)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["generate"].update(TINY_GENERATE)
    params["downstream"]["actions"] = TINY_ACTIONS
    params["pretrain"].update(TINY_TRAIN)
    params["finetune"]["recipe"].update(TINY_TRAIN)
    params["finetune"]["seeds"] = [0]
    params["pretrain"]["seeds"] = [0]
    params["figures"].update(gallery_clips=2, gallery_res=64)
    params["tour"].update(res=64, steps=600)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["dvc", "repro", "dvc.yaml"], cwd=tmp_path, env=env, check=True)
    assert json.loads((tmp_path / "reports" / "metrics" / "generate.json").read_text())["clips"] == 6
    assert json.loads((tmp_path / "reports" / "metrics" / "results.json").read_text())["runs"] == 2
    status = subprocess.run(["dvc", "status", "dvc.yaml"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout
    # a rerun whose command cannot start (papermill not on PATH) leaves the last run's reports as they were:
    # they are committed, not cached, so DVC could not restore them (dvc.yaml: persist)
    report = tmp_path / "reports" / "00_tour.ipynb"
    before = report.read_bytes()
    params["tour"]["steps"] = 700
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    failed = subprocess.run([sys.executable, "-m", "dvc", "repro", "tour"], cwd=tmp_path,
                            env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert failed.returncode != 0 and "papermill" in failed.stdout + failed.stderr
    assert report.read_bytes() == before
