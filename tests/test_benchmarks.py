"""The generator benchmark covers every registered family (a new family must not break it)."""
import json
import subprocess
import sys
from pathlib import Path

from fractalvid.generate import FAMILIES

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
