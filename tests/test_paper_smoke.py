"""The paper profile, proven on a CPU before a GPU is rented (make paper-smoke).

Fast: params-paper-smoke.yaml has params-paper.yaml's keys, and differs only in counts (each made smaller)
and in the listed overrides. Slow (about 8 minutes on 2 cores): in a fresh repository of the project's files,
with a tiny set of each downstream source in its official layout, ``fractalvid plan`` misses only the GPU,
the paper's pipeline runs as a DVC experiment (``dvc exp run --temp``, the same notebooks) on the shrunk
profile, and the variants the profile does not select run through the CLI with the paper's settings: MoCo,
SimCLR and BYOL pre-training, X3D-S, the Kinetics start from a checkpoint in the published key layout, and
``torchrun`` with 2 processes. Mixed precision is CUDA-only (``amp``), so it is not covered here:
``benchmarks/gpu.py`` runs it on a GPU.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import project_copy, tsm_kinetics_state_dict, write_tsm_kinetics_checkpoint
from real_fixtures import MAKERS

ROOT = Path(__file__).resolve().parents[1]
PAPER, SMOKE = "params-paper.yaml", "params-paper-smoke.yaml"
# the keys whose values are counts: the smoke profile may only make them smaller (a list: fewer of its items)
COUNTS = {"classes", "per_class", "val_per_class", "epochs", "warmup_epochs", "batch_size", "workers", "seeds",
          "gallery_clips"}
# every other key that differs, and why
NOT_COUNTS = {f"downstream.{name}.root": "a tiny set in the official layout, written by the smoke run"
              for name in ("ucf101", "hmdb51", "diving48", "egtea", "volleyball", "yup")}
SMOKE_ROOT = "data/real-smoke"   # where the smoke profile's roots point


def leaves(tree, prefix: str = "") -> dict:
    """{"section.key.subkey": value} of every leaf of a nested dict."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def test_the_smoke_profile_has_the_paper_keys_and_shrinks_only_counts():
    paper, smoke = leaves(load(PAPER)), leaves(load(SMOKE))
    assert sorted(smoke) == sorted(paper), "params-paper-smoke.yaml must have exactly params-paper.yaml's keys"
    differing = [key for key in paper if paper[key] != smoke[key]]
    assert differing, "the smoke profile shrinks nothing"
    for key in differing:
        if key in NOT_COUNTS:
            continue
        assert key.rsplit(".", 1)[-1] in COUNTS, f"{key}: {paper[key]!r} -> {smoke[key]!r} is neither a count nor listed"
        big, small = paper[key], smoke[key]
        if isinstance(big, list):
            assert set(small) < set(big), f"{key}: {small} is not fewer of {big}'s items"
        else:
            assert isinstance(small, int) and 0 <= small < big, f"{key}: {small!r} is not a smaller count than {big!r}"
    assert set(NOT_COUNTS) <= set(differing), "a listed override is no longer one: drop it from NOT_COUNTS"


def test_the_smoke_profile_marks_each_count_with_the_papers_value():
    """Each shrunk count's line says ``# paper: <value>``, so the file reads as the documented list."""
    paper = leaves(load(PAPER))
    lines = (ROOT / SMOKE).read_text().splitlines()
    smoke = leaves(load(SMOKE))
    for key in (k for k in paper if paper[k] != smoke[k] and k not in NOT_COUNTS):
        leaf = key.rsplit(".", 1)[-1]
        marked = [line for line in lines if line.strip().startswith(f"{leaf}:") and "# paper:" in line]
        assert any(str(paper[key]).replace("'", "") in line.split("# paper:")[1] for line in marked), key
    for key in NOT_COUNTS:
        assert smoke[key].startswith(SMOKE_ROOT + "/")


# ------------------------------------------------------------------ the smoke run (slow)

@pytest.fixture(scope="module")
def smoke_project(tmp_path_factory):
    """A fresh repository of the project's files, each downstream set of the smoke profile written in its
    official layout where the profile's roots point."""
    project = tmp_path_factory.mktemp("paper-smoke")
    env = project_copy(project)
    for section in load(SMOKE)["downstream"].values():
        if section.get("root", "").startswith(SMOKE_ROOT):
            MAKERS[section["source"]](project / section["root"])
    return project, env


def run(command: list[str], project: Path, env: dict, ok: int = 0, timeout: int = 600) -> str:
    out = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == ok, f"{' '.join(command)} -> {out.returncode}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.mark.slow
def test_the_plan_of_the_smoke_profile_misses_only_a_gpu(smoke_project):
    project, env = smoke_project
    ok = 0 if torch.cuda.is_available() else 1
    text = run([sys.executable, "-m", "fractalvid", "plan", SMOKE], project, env, ok=ok)
    assert "the real set" not in text and "Kinetics" not in text.split("missing")[-1]
    assert ok == 0 or "a CUDA GPU" in text
    # the sections the profile keeps but does not fine-tune on, as params-paper.yaml does
    assert "not used by this run: downstream.actions, downstream.weizmann (not in finetune.datasets)" in text


@pytest.mark.slow
def test_the_paper_pipeline_runs_as_an_experiment_with_counts_shrunk(smoke_project):
    """dvc exp run --temp of dvc.yaml with every value of the smoke profile: the six converters, the 256 px
    generation, TSM-ResNet50 at 112 px with the emulation's curriculum and RandAugment, fine-tuning from
    scratch and from the fractal start, 10-clip evaluation, the figures; every stage's metrics present."""
    project, env = smoke_project
    run([sys.executable, "-m", "fractalvid", "exp-run", SMOKE, "--name", "paper-smoke", "--copy", SMOKE_ROOT],
        project, env)
    shown = json.loads(run([sys.executable, "-m", "dvc", "exp", "show", "--json"], project, env))
    experiments = [e for rev in shown for e in (rev.get("experiments") or [])]
    runs = [r for e in experiments if e.get("name") == "paper-smoke" for r in e["revs"]]
    assert runs, f"no experiment paper-smoke in {[e.get('name') for e in experiments]}"
    data = runs[0]["data"]
    params = data["params"]["params.yaml"]["data"]
    assert params["pretrain"]["arch"] == "tsm_r50" and params["pretrain"]["size"] == 112
    assert params["pretrain"]["real_video"] and params["pretrain"]["augment"]["curriculum"]
    assert params["finetune"]["recipe"]["randaugment"] and params["finetune"]["recipe"]["val_clips"] == 10
    metrics = {path: m.get("data", {}) for path, m in data["metrics"].items()}
    sets = load(SMOKE)["finetune"]["datasets"]
    for name in sets:   # each set fine-tuned from both starts, each scored
        for init in ("scratch", "fractal"):
            found = [m for path, m in metrics.items() if name in path and init in path]
            assert found and all("top1" in json.dumps(m) for m in found), f"no {init} metrics for {name}"


@pytest.mark.slow
def test_the_variants_the_profile_does_not_select_run_through_the_cli(smoke_project, tmp_path):
    """MoCo, SimCLR and BYOL pre-training, X3D-S, the Kinetics start and torchrun with 2 processes, each with
    the smoke profile's settings (the paper's, counts shrunk) and one value changed."""
    project, env = smoke_project
    fv = [sys.executable, "-m", "fractalvid"]
    clips = str(tmp_path / "fractal")
    g = load(SMOKE)["generate"]
    run([*fv, "generate", clips, "--classes", str(g["classes"]), "--per-class", str(g["per_class"]),
         "--val-per-class", str(g["val_per_class"]), "--res", str(g["options"]["res"]), "--quiet"], project, env)
    pretrain = ["--params", SMOKE, "--data", clips, "--quiet"]
    for task in ("moco", "simclr", "byol"):
        out = run([*fv, "pretrain", str(tmp_path / task), *pretrain, "--set", f"task={task}"], project, env)
        assert json.loads(out.splitlines()[-1])["epochs"] == 1
    run([*fv, "pretrain", str(tmp_path / "x3d"), *pretrain, "--set", "arch=x3d_s"], project, env)
    # torchrun: two processes on the CPU (gloo), each a share of every batch
    run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "fractalvid",
         "pretrain", str(tmp_path / "ddp"), *pretrain], project, env)
    assert (tmp_path / "ddp" / "model.pt").is_file()
    # the Kinetics start: the paper's recipe for it (finetune.kinetics) on a converted set
    ucf = load(SMOKE)["downstream"]["ucf101"]
    run([*fv, "data", "prepare", "ucf101", ucf["root"], str(tmp_path / "ucf101"), "--short-side",
         str(ucf["short_side"]), "--quiet"], project, env)
    kinetics = load(SMOKE)["finetune"]["kinetics"]
    checkpoint = write_tsm_kinetics_checkpoint(tmp_path, tsm_kinetics_state_dict())   # the published key layout
    out = run([*fv, "finetune", str(tmp_path / "kinetics"), "--params", SMOKE, "--data", str(tmp_path / "ucf101"),
               "--init", f"kinetics:{checkpoint}", "--lr", str(kinetics["lr"]), "--set",
               f"weight_decay={kinetics['weight_decay']}", "--quiet"], project, env)
    assert "top1" in out.splitlines()[-1]
