"""A real set through the pipeline: weizmann6 is the official Weizmann layout with ``classes`` set, run end to end
by ``dvc exp run -S ...`` in a fresh copy of the project, scored on held-out training actors (never the test
actors), and it scores what ``benchmarks/transfer.py`` scored for the same settings before the pipeline took over
its runs (``benchmarks/results/generator-fix/weizmann6-holdout_0.2.json``)."""
import json
import subprocess
import time
from pathlib import Path

import pytest

from conftest import project_copy, write_video

ROOT = Path(__file__).resolve().parents[1]
WEIZMANN6 = ROOT.parent / "shared" / "data" / "weizmann6"   # 54 real clips, when this machine has them
REFERENCE = ROOT / "benchmarks" / "results" / "generator-fix" / "weizmann6-holdout_0.2.json"
SIX = ["jump", "pjump", "run", "side", "skip", "walk"]
ACTORS = ["daria", "denis", "eli", "ido", "ira", "lena", "lyova", "moshe", "shahar"]
MINUTES = 30   # on 2 cores: generation, two pre-training draws, both sets' runs for seeds 0-1, figures and tour
# what the check sets: the set, its classes and size, held-out actors scored instead of test actors, seeds 0-1
CHANGES = ["finetune.datasets=[actions,weizmann]", f"downstream.weizmann.classes=[{','.join(SIX)}]",
           "downstream.weizmann.short_side=64", "downstream.weizmann.root=data/real/weizmann6",
           "finetune.recipe.holdout=0.25", "finetune.recipe.val_split=holdout", "finetune.seeds=[0,1]",
           "pretrain.seeds=[0,1]"]


def weizmann_fixture(root: Path) -> None:
    """Six actions by nine actors in the official layout, tiny clips: the pipeline's path without the real set."""
    for i, action in enumerate(SIX):
        for j, actor in enumerate(ACTORS):
            write_video(root / action / f"{actor}_{action}.avi", n=12, seed=10 * i + j)


@pytest.mark.slow
def test_weizmann6_runs_through_the_pipeline_as_a_dvc_experiment(tmp_path):
    project = tmp_path / "project"
    env = project_copy(project)
    real = WEIZMANN6.is_dir()
    if not real:
        weizmann_fixture(tmp_path / "weizmann6")
    (project / "data" / "real").mkdir(parents=True)
    (project / "data" / "real" / "weizmann6").symlink_to(WEIZMANN6 if real else tmp_path / "weizmann6")
    env = {**env, "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com"}
    start = time.perf_counter()
    command = ["dvc", "exp", "run", "--name", "weizmann6-holdout"]
    for change in CHANGES:
        command += ["-S", change]
    done = subprocess.run(command + ["dvc.yaml"], cwd=project, env=env, capture_output=True, text=True)
    minutes = (time.perf_counter() - start) / 60
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert minutes < MINUTES, f"the run took {minutes:.1f} min"
    shown = subprocess.run(["dvc", "exp", "show", "--json"], cwd=project, env=env, capture_output=True, text=True,
                           check=True)
    assert "weizmann6-holdout" in shown.stdout      # kept where dvc exp show reads it

    card = json.loads((project / "data" / "weizmann" / "card.json").read_text())
    assert card["class_names"] == SIX and card["groups"] == 9
    assert card["clips"] == 54 and card["source"]["classes"] == SIX   # this copy lacks lena's second takes
    runs = {}
    for init in ("scratch", "fractal"):
        for seed in (0, 1):
            m = json.loads((project / "reports" / "metrics" / "finetune" / f"weizmann-{init}-{seed}.json").read_text())
            assert m["test_clips"] == 36      # 2 held-out training actors x 6 actions in each of 3 folds
            runs[init, seed] = m
    if not real:
        return
    reference = json.loads(REFERENCE.read_text())
    if reference["machine"]["cpu"] != runs["scratch", 0]["machine"]["cpu"]:
        pytest.skip(f"the per-seed digits were recorded on {reference['machine']['cpu']}, this is "
                    f"{runs['scratch', 0]['machine']['cpu']}: only the same CPU gives the same digits")
    summary = reference["summary"]["weizmann6"]
    for init in ("scratch", "fractal"):
        assert [runs[init, s]["top1"] for s in (0, 1)] == pytest.approx(summary[f"{init}_top1"]["per_seed"][:2],
                                                                          abs=1e-12)
