"""The front door: README.md's result table is what the committed metrics give, and the README stays short."""
import json
import re
from pathlib import Path

import pytest

from fractalvid import readme

ROOT = Path(__file__).resolve().parents[1]


def test_the_result_table_is_the_committed_metrics():
    now, wanted = readme.expected_readme(ROOT)
    assert now == wanted, "README.md's result table differs from reports/metrics: run `make readme`"


def test_the_table_rounds_once_and_names_what_its_interval_covers():
    results = {"pretrain_draws": 3, "actions": {
        "test_clips": 270, "chance": 0.1, "scratch_top1": 0.20666, "fractal_top1": 0.39777,
        "margin_top1": {"mean": 0.16549, "ci95": [0.0551, 0.2759], "over": "pre-training draws",
                        "per_seed": [0.1, 0.2, 0.19647], "draws": [0, 1, 2], "per_draw": [0.1, 0.2, 0.19647]}}}
    block = readme.results_block(results, None)
    row = next(line for line in block.splitlines() if line.startswith("| built-in actions"))
    assert "| 270 | 10.0 % | 20.7 % | 39.8 % | **+16.5** [+5.5, +27.6] | pre-training draws |" in row
    assert "3 draws x 1 seed, better in 3" in row


def test_a_readme_without_the_markers_is_a_clear_error(tmp_path):
    (tmp_path / "README.md").write_text("# nothing here\n")
    with pytest.raises(ValueError, match="no result table"):
        readme.expected_readme(tmp_path)


def test_the_readme_is_short_and_speaks_for_itself():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "../shared" not in text and "SPEC" not in text
    assert not re.search(r"(/work/|/home/|/root/|/tmp/)", text)   # no machine's paths
    for link in re.findall(r"\]\(([^)#]+)\)", text):   # every relative link points at a file of the project
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link
