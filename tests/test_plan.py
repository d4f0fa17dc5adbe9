"""fractalvid plan: the estimates of a params file, from committed measurements, and what this machine lacks."""
import json
import shutil
from pathlib import Path

import pytest
import yaml

from fractalvid.cli import main as cli
from fractalvid.plan import check_params, report
from real_fixtures import MAKERS

ROOT = Path(__file__).resolve().parents[1]


def test_the_paper_profile_is_estimated_and_its_missing_prerequisites_listed(tmp_path):
    shutil.copy(ROOT / "params-paper.yaml", tmp_path / "params-paper.yaml")
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    shutil.copy(ROOT / "benchmarks" / "results" / "generate.json", tmp_path / "benchmarks" / "results")
    text, missing = report(tmp_path / "params-paper.yaml", tmp_path, cuda=False)
    assert "clips: 100,000" in text and "2,375,000 clip-passes" in text   # 500 x 200 clips; 25 epochs of 500 x 190
    assert "core-hours (benchmarks/results/generate.json" in text and "GPU-hours for pre-training: unknown" in text
    params = yaml.safe_load((tmp_path / "params-paper.yaml").read_text())
    sets = params["finetune"]["datasets"]
    assert sum("the real set" in m for m in missing) == len(sets) and any("CUDA GPU" in m for m in missing)
    for name in sets:   # a folder that is not the official layout is still missing, and says why
        (tmp_path / params["downstream"][name]["root"]).mkdir(parents=True)
    _, missing = report(tmp_path / "params-paper.yaml", tmp_path, cuda=True)
    assert len(missing) == len(sets) and all("not in the official layout" in m for m in missing)
    for name in sets:   # unpacked where the params file says, as the archive unpacks: no longer missing
        section = params["downstream"][name]
        MAKERS[section["source"]](tmp_path / section["root"])
    _, missing = report(tmp_path / "params-paper.yaml", tmp_path, cuda=True)
    assert missing == []


def test_the_gpu_hours_come_from_the_gpu_check_when_it_ran(tmp_path):
    shutil.copy(ROOT / "params-paper.yaml", tmp_path / "params-paper.yaml")
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    gpu = {"benchmark": "gpu", "device": "NVIDIA H100 80GB HBM3", "workers": 16, "disk_clips_per_s": 500.0,
           "stream_clips_per_s": 400.0, "step_clips_per_s": 900.0}   # as benchmarks/gpu.py --write writes it
    (tmp_path / "benchmarks" / "results" / "gpu.json").write_text(json.dumps(gpu))
    text, _ = report(tmp_path / "params-paper.yaml", tmp_path, cuda=True)
    assert "GPU-hours for pre-training: 1.3" in text   # 2,375,000 clip-passes at 500 clips/s
    assert "500.0 clips/s pre-training TSM-ResNet50 from disk on one NVIDIA H100 80GB HBM3" in text


@pytest.mark.parametrize("section", ["generate", "generate.options", "downstream.ucf101", "downstream.actions",
                                     "pretrain", "pretrain.augment", "finetune", "finetune.kinetics",
                                     "finetune.recipe", "figures"])
def test_a_mistyped_key_stops_the_plan_naming_it(tmp_path, capsys, section):
    params = yaml.safe_load((ROOT / "params-paper.yaml").read_text())
    check_params(params)   # the profile as committed is accepted
    place = params
    for name in section.split("."):
        place = place[name]
    place["epochz"] = 3
    with pytest.raises(ValueError, match="epochz"):
        check_params(params)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    assert cli(["plan", str(tmp_path / "p.yaml")]) == 2
    assert "epochz" in capsys.readouterr().err


def test_make_paper_stops_at_the_plan_on_a_machine_without_what_it_needs(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli(["plan", "params.yaml"]) == 0                 # the CPU default needs nothing it lacks
    assert "every prerequisite is here" in capsys.readouterr().out
    if not (ROOT / "data" / "real" / "UCF101").is_dir():     # this machine: no real sets unpacked
        assert cli(["plan", "params-paper.yaml"]) == 1
        assert "missing before this run can start" in capsys.readouterr().out
    assert "fractalvid plan params-paper.yaml" in (ROOT / "Makefile").read_text().split("paper:")[1].split("\n\n")[0]


def test_the_paper_scale_page_quotes_the_plan_as_it_prints(monkeypatch):
    """docs/paper-scale.md's quoted output is what `fractalvid plan params-paper.yaml` prints on a machine
    with no real set and no GPU (its elided lines, "...", aside)."""
    block = (ROOT / "docs" / "paper-scale.md").read_text().split("```text\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    text, _ = report("params-paper.yaml", ".", cuda=False)
    if (ROOT / "data" / "real").is_dir():
        pytest.skip("real sets are unpacked here: the plan lists fewer missing ones than the page quotes")
    printed = text.splitlines()
    for line in block.splitlines():
        if not line.strip().startswith("..."):
            assert line in printed, f"docs/paper-scale.md quotes a line the plan does not print: {line}"
