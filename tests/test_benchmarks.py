"""The benchmarks run: scripts that time things (the generator over every registered family, training, the
loader, the GPU check) and the side-by-side comparison with the public generator."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fractalvid.clips.generate import FAMILIES

ROOT = Path(__file__).resolve().parents[1]


def test_generate_benchmark_reports_every_family():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--json", "--clips", "4",
                          "--render-clips", "2", "--workers", "1"], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=600)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["s_per_clip"] > 0
    assert result["ratio_to_limit"] is None or result["ratio_to_limit"] > 0  # None: no ../shared/bench here
    for family in FAMILIES:
        if family != "fractal":
            assert result[f"s_per_clip_{family}"] > 0


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="--recipe measures the CPU step")
def test_train_benchmark_recipe_compares_the_full_step_with_the_bare_network():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train.py"), "--recipe", "params.yaml",
                          "--repeats", "1", "--json"], cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=600)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["arch"] == "tsm_r18_w16" and r["in_memory"] is True and r["steps_per_round"] >= 2
    assert r["full_step_vs_bare"] == pytest.approx(r["bare_step_clips_per_s"] / r["recipe_step_clips_per_s"], rel=0.01)
    assert r["within_1.25x"] == (r["bare_step_clips_per_s"] / r["recipe_step_clips_per_s"] <= 1.25)
    assert r["shift_cost"] > 0 and r["channels_last_vs_default"] > 0


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU: the check would run")
def test_gpu_check_refuses_without_a_gpu():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1 and out.stdout == ""
    assert "needs an NVIDIA GPU" in out.stderr and "torch.cuda.is_available() is False" in out.stderr


def test_loader_benchmark_reports_per_core_rates_and_the_cores_a_gpu_needs(tmp_path):
    """Two sets of 4 clips (256 and 128 px), batches of 4, one round: every figure there and consistent."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "loader.py"), "--json", "--classes", "2",
                          "--per-class", "2", "--batch", "4", "--batches", "1", "--repeats", "1", "--workers", "1",
                          "--gpu-clips-per-s", "500", "--out", str(tmp_path / "loader.json")], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=600)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r == json.loads((tmp_path / "loader.json").read_text())
    assert str(ROOT) not in (tmp_path / "loader.json").read_text()          # no absolute machine paths
    assert r["benchmark"] == "loader" and r["threads"] == 1 and r["load_size"] == 128 and r["size"] == 112
    assert sorted(r["sets"]) == ["res128", "res256"] and all(s["clips"] == 4 for s in r["sets"].values())
    assert r["machine"]["commit"] is None or len(r["machine"]["commit"]) == 40
    assert r["gpu_clips_per_s"] == 500 and r["gpu_source"] == "--gpu-clips-per-s"
    for key in ("decode_clips_per_s", "decode_emulate_clips_per_s", "emulate_clips_per_s"):
        assert sorted(r[key]) == ["res128", "res256"] and all(v > 0 for v in r[key].values())
    for measurement in ("decode", "decode_emulate"):
        for res, rate in r[f"{measurement}_clips_per_s"].items():
            assert r["cores_per_gpu"][measurement][res] == pytest.approx(500 / rate, rel=0.01)
    assert r["decode_emulate_clips_per_s"]["res256"] < r["emulate_clips_per_s"]["res256"]   # the sum is slower


def test_side_by_side_skips_without_the_public_code_and_its_docs_table_is_the_json():
    """benchmarks/side_by_side.py needs a local copy of the public generator: without one it says what to pass
    and exits 0; docs/generator.md's table is what the committed JSON gives."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "side_by_side.py")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "--public" in out.stdout + out.stderr and "skip" in (out.stdout + out.stderr).lower()
    table = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "side_by_side.py"), "--markdown"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300, check=True).stdout.strip()
    doc = (ROOT / "docs" / "generator.md").read_text()
    assert table.splitlines()[0].startswith("| statistic | public generator | fractalvid |")
    assert table in doc
