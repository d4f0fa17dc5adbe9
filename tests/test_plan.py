"""fractalvid plan: the estimates of a params file, from committed measurements, and what this machine lacks."""
import shutil
from pathlib import Path

import yaml

from fractalvid.cli import main as cli
from fractalvid.plan import report

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
    for name in sets:   # unpacked where the params file says: no longer missing
        (tmp_path / params["downstream"][name]["root"]).mkdir(parents=True)
    _, missing = report(tmp_path / "params-paper.yaml", tmp_path, cuda=True)
    assert missing == []


def test_make_paper_stops_at_the_plan_on_a_machine_without_what_it_needs(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli(["plan", "params.yaml"]) == 0                 # the CPU default needs nothing it lacks
    assert "every prerequisite is here" in capsys.readouterr().out
    if not (ROOT / "data" / "real" / "UCF101").is_dir():     # this machine: no real sets unpacked
        assert cli(["plan", "params-paper.yaml"]) == 1
        assert "missing before this run can start" in capsys.readouterr().out
    assert "fractalvid plan params-paper.yaml" in (ROOT / "Makefile").read_text().split("paper:")[1].split("\n\n")[0]
