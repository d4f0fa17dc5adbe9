"""Notebooks find the project's params.yaml; long work reports progress as a few lines outside a terminal."""
import json
import os

import pytest
import yaml

from fractalvid.progress import Lines, progress_bar
from fractalvid.project import enter_project, find_root


def test_enter_project_finds_params_above_and_moves_there(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"generate": {"classes": 3}}))
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")   # where Jupyter starts a notebook
    assert enter_project() == {"generate": {"classes": 3}}
    assert os.getcwd() == str(tmp_path)          # params.yaml's relative paths now resolve
    assert find_root(tmp_path / "notebooks") == tmp_path


def test_no_params_yaml_is_a_clear_error(tmp_path):
    lonely = tmp_path / "a" / "b"
    lonely.mkdir(parents=True)
    if any((p / "params.yaml").exists() for p in (lonely, *lonely.parents)):
        pytest.skip("a params.yaml sits above the temporary folder")
    with pytest.raises(FileNotFoundError, match="no params.yaml in .*b or any folder above it"):
        find_root(lonely)


def test_lines_print_each_quarter_once(capsys):
    bar = Lines(total=10, desc="generate ds", unit="clip")
    bar.set_postfix(loss="0.5")
    for _ in range(10):
        bar.update(1)
    bar.close()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"generate ds: {n}/10 clips" for n in (3, 5, 8, 10)]
    assert lines[-1].endswith(", loss 0.5")


def test_progress_bar_is_lines_without_a_terminal_and_silent_when_disabled(capsys):
    # pytest captures stderr: no terminal, as under papermill
    assert isinstance(progress_bar(4, "x", "clip"), Lines)
    quiet = progress_bar(4, "x", "clip", enabled=False)
    quiet.update(4)
    quiet.close()
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------ the paper profile as a DVC experiment

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_paper_profile_overrides_give_exactly_the_paper_params_through_dvc(tmp_path):
    """DVC's own --set-param machinery, applied to params.yaml, yields params-paper.yaml (and keeps the
    sections the paper has not, such as the tour)."""
    from dvc.utils.hydra import apply_overrides

    from fractalvid.project import profile_overrides

    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    paper = yaml.safe_load((ROOT / "params-paper.yaml").read_text())
    copy = tmp_path / "params.yaml"
    copy.write_text((ROOT / "params.yaml").read_text())
    apply_overrides(copy, profile_overrides(base, paper))
    result = yaml.safe_load(copy.read_text())
    assert {k: v for k, v in result.items() if k in paper} == paper
    assert {k: v for k, v in result.items() if k not in paper} == {k: v for k, v in base.items() if k not in paper}


def test_a_profile_that_leaves_a_key_out_is_refused():
    from fractalvid.project import profile_overrides

    with pytest.raises(ValueError, match=r"does not set \['pretrain.lr'\]"):
        profile_overrides({"pretrain": {"lr": 1.0e-3, "epochs": 2}}, {"pretrain": {"epochs": 25}})
    assert profile_overrides({"a": {"b": 1}}, {"a": {"b": 1}}) == []
    assert profile_overrides({"a": {"b": "x"}, "c": 1}, {"a": {"b": "it's"}}) == ["++a.b='it\\'s'"]


def test_exp_run_dry_prints_a_temporary_experiment_leaving_params_alone(capsys, monkeypatch):
    from fractalvid.cli import main

    monkeypatch.chdir(ROOT)
    before = (ROOT / "params.yaml").read_text()
    assert main(["exp-run", "params-paper.yaml", "--name", "paper", "--dry"]) == 0
    command = capsys.readouterr().out
    assert command.startswith("dvc exp run --temp --name paper --set-param ++generate.classes=500")
    assert command.rstrip().endswith("dvc.yaml")
    assert (ROOT / "params.yaml").read_text() == before


def test_paper_recipe_has_one_source():
    """params-paper.yaml's training sections are the library's paper recipe (TrainConfig's defaults for
    pre-training, train.recipe("finetune") for fine-tuning), value for value."""
    from fractalvid.learning.train import TrainConfig, config_from_params, finetune_config, recipe

    paper = yaml.safe_load((ROOT / "params-paper.yaml").read_text())
    run_keys = {"data", "workers", "in_memory", "init", "val_split", "seed", "folds", "fold", "split_by",
                "label_fraction", "holdout"}
    from fractalvid.learning.augment import AugmentConfig

    def settings(cfg):  # the augmentation as every one of its values (the paper's spells out its switches)
        return {**{k: v for k, v in cfg.to_dict().items() if k not in run_keys},
                "augment": AugmentConfig.from_dict(cfg.augment).to_dict()}

    pre = config_from_params(paper["pretrain"])
    assert settings(pre) == settings(TrainConfig(data=pre.data))
    fine = finetune_config(paper["finetune"], "ucf101", "scratch", 0, pretrained="models/pretrain/model.pt")
    assert settings(fine) == settings(recipe("finetune", data=fine.data))


def test_finetune_flags_go_on_top_of_the_params_recipe(monkeypatch):
    """`fractalvid finetune --params params.yaml`: the finetune section's recipe, with the flags on top (its
    lists, datasets and seeds, are the pipeline's, not a run's)."""
    import argparse

    from fractalvid.cli import _train_config

    monkeypatch.chdir(ROOT)
    a = argparse.Namespace(command="finetune", params="params.yaml", section=None, data="data/somewhere",
                           init="scratch", arch=None, epochs=30, batch_size=None, lr=None, seed=7,
                           set=["weight_decay=0.1"])
    cfg = _train_config(a)
    recipe = yaml.safe_load((ROOT / "params.yaml").read_text())["finetune"]["recipe"]
    assert (cfg.data, cfg.init, cfg.epochs, cfg.seed, cfg.weight_decay) == ("data/somewhere", "scratch", 30, 7, 0.1)
    assert cfg.arch == recipe["arch"] and cfg.frames == recipe["frames"] and cfg.stride == recipe["stride"]


def test_a_run_records_its_commit_and_whether_its_tree_was_clean(tmp_path):
    """Clean: nothing changed against the commit but params.yaml and the pipeline's outputs (a DVC experiment's
    ref pins both); any other change, committed or not, makes a run unreportable."""
    import subprocess

    from fractalvid.evaluation.reads import provenance

    assert provenance(tmp_path) == {"commit": None, "clean": False, "changed": []}   # not a git repository
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "fractalvid").mkdir()
    (tmp_path / "fractalvid" / "train.py").write_text("x = 1\n")
    (tmp_path / "params.yaml").write_text("a: 1\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "c")
    head = git("rev-parse", "HEAD").stdout.decode().strip()
    (tmp_path / "params.yaml").write_text("a: 2\n")                  # dvc exp run -S a=2
    (tmp_path / "reports" / "metrics").mkdir(parents=True)
    (tmp_path / "reports" / "metrics" / "r.json").write_text("{}")   # what the stages write
    assert provenance(tmp_path) == {"commit": head, "clean": True, "changed": []}
    (tmp_path / "data.dvc").write_text("md5: 0\n")                   # DVC's stage hash, written by DVC itself
    assert provenance(tmp_path) == {"commit": head, "clean": True, "changed": []}
    (tmp_path / "fractalvid" / "train.py").write_text("x = 2\n")
    (tmp_path / "notes.txt").write_text("untracked\n")
    assert provenance(tmp_path) == {"commit": head, "clean": False, "changed": ["fractalvid/train.py", "notes.txt"]}
    from fractalvid.evaluation.reads import log_read

    logged = log_read(tmp_path / "reports/reads/a.json", {"set": "actions", "scored_on": "test"}, root=tmp_path)
    assert json.loads((tmp_path / "reports/reads/a.json").read_text()) == logged
    assert logged == {"set": "actions", "scored_on": "test", "commit": head, "clean": False,
                      "changed": ["fractalvid/train.py", "notes.txt"]}
    assert not list((tmp_path / "reports/reads").glob("*.tmp*"))
