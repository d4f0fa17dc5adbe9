"""The front door: README.md's result table is what the committed metrics give, and the README stays short."""
import csv
import io
import json
import re
from pathlib import Path

import pytest

from conftest import project_copy
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
    block = readme.results_block(results)
    row = next(line for line in block.splitlines() if line.startswith("| built-in actions"))
    assert "| 270 | 10.0 % | 20.7 % | 39.8 % | **+16.5** [+5.5, +27.6] | pre-training draws |" in row
    assert "3 draws x 1 seed, better in 3" in row


def test_an_archived_row_is_labelled_as_written_never_from_its_options():
    margin = {"mean": 0.052, "ci95": [-0.004, 0.108], "over": "pre-training draws", "per_seed": [0.1, -0.02, 0.05]}
    name = next(iter(readme.RECIPES))
    recipe = {"pretrain_draws": 3, "options": {"changes": ["finetune.recipe.epochs=999"]},   # not read
              "summary": {"weizmann6": {"test_clips": 54, "chance": 1 / 6, "scratch_top1": {"mean": 0.341},
                                        "fractal_top1": {"mean": 0.393}, "margin_top1": margin}}}
    block = readme.archive_block(None, None, {name: recipe})
    row = next(line for line in block.splitlines() if line.startswith("| weizmann6"))
    assert row.startswith(f"| weizmann6, {readme.RECIPES[name]} | 54 | 16.7 % |") and "999" not in block
    assert "| +5.2 [-0.4, +10.8] |" in row and "3 draws x 1 seed, better in 2" in row   # archived: not bold
    assert f"held-out training actors (generator 0.1): `{name}`" in block
    assert "made by `benchmarks/transfer.py`" in block


def test_the_generator_fix_pairs_each_comparison_before_and_after():
    def pipeline(scratch, fractal, margin, cpu):
        return {"pretrain_draws": 3, "machine": {"cpu": cpu}, "actions": {
            "test_clips": 270, "chance": 0.1, "scratch_top1": scratch, "fractal_top1": fractal,
            "margin_top1": {"mean": margin, "ci95": [margin - 0.1, margin + 0.1], "per_seed": [0.1, 0.1, 0.1]}}}
    files = {readme.FIX_ROWS[0][1]: pipeline(0.2, 0.27, 0.07, "Intel Xeon"),
             readme.FIX_ROWS[0][2]: pipeline(0.21, 0.31, 0.1, "Intel Xeon")}
    block = readme.fix_block(files)
    row = next(line for line in block.splitlines() if line.startswith("| built-in actions, test parts"))
    assert "| 20.0 %, 27.0 %, +7.0 [-3.0, +17.0] | 21.0 %, 31.0 %, +10.0 [+0.0, +20.0] |" in row
    assert row.endswith("| 3 draws x 1 seed | Intel Xeon |") and "weizmann6" not in block   # a comparison without its files is left out


def test_the_budget_block_is_the_studys_points_and_the_rules_choice():
    def row(epochs, scratch, fractal, name="actions"):
        m = fractal - scratch
        return {"name": f"b-{epochs}", "reads": {"clean": True},
                "settings": {"finetune.recipe.epochs": epochs, "finetune.recipe.holdout": 0.25,
                             "finetune.recipe.val_split": "holdout"},
                "datasets": {name: {"test_clips": 180, "chance": 0.1, "scratch_top1": scratch, "fractal_top1": fractal,
                                    "margin_top1": {"mean": m, "ci95": [m - 0.05, m + 0.05], "per_seed": [m] * 3}}}}

    grid = [row(25, 0.12, 0.15), row(50, 0.2, 0.25), row(100, 0.3, 0.32), row(200, 0.305, 0.31)]
    block = readme.budget_block(grid)
    assert "| built-in actions (180 clips, chance 10.0 %) | 12.0 -> 15.0, +3.0 [-2.0, +8.0] |" in block
    assert "The rule chose **100 epochs**." in block                       # 30 % is within 1 point of 30.5 %
    assert "The grid is not complete yet." in readme.budget_block(grid[:3])
    assert readme.budget_block([]) == "No run of the budget study is recorded yet."


def test_the_scale_sentence_is_counted_from_the_params():
    import yaml

    params, paper = (yaml.safe_load((ROOT / f).read_text()) for f in ("params.yaml", "params-paper.yaml"))
    sentence = readme.scale_block(params, paper)
    passes = params["pretrain"]["epochs"] * params["generate"]["classes"] * (
        params["generate"]["per_class"] - params["generate"]["val_per_class"])
    assert f"({passes:,} clip-passes against" in sentence and "x 10^4 times less" in sentence


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


def test_the_rerun_table_is_dvcs_graph():
    rows = {name: (added, rerun) for name, added, rerun in readme.rerun_rows(ROOT)}
    # a fine-tuning seed adds its two runs and reruns what reads the results (figures, the tour's last chapter)
    assert rows["`finetune.seeds`"] == (["scratch@SET-SEED", "finetune@SET-INIT-SEED"], ["figures", "tour"])
    # a pre-training draw is a stage of its own: adding one reruns the fractal runs, not the other draws
    assert rows["`pretrain.seeds`"] == (["pretrain@SEED"], ["finetune@SET-INIT-SEED", "figures", "tour"])
    assert rows["`pretrain` (every key but `seeds`)"][1] == ["pretrain@SEED", "finetune@SET-INIT-SEED", "figures",
                                                           "tour"]
    assert rows["`generate`"][1][:2] == ["generate", "pretrain@SEED"] and "scratch@SET-SEED" not in rows["`generate`"][1]
    assert rows["`tour`"] == ([], ["tour"])


def test_a_smoke_runs_results_are_not_written_into_the_readme(tmp_path):
    (tmp_path / "README.md").write_text((ROOT / "README.md").read_text())
    results = json.loads((ROOT / readme.RESULTS).read_text())
    (tmp_path / readme.RESULTS).parent.mkdir(parents=True)
    (tmp_path / readme.RESULTS).write_text(json.dumps({**results, "label": "Smoke run (make quick)"}))
    with pytest.raises(ValueError, match="Smoke run .* not the result"):
        readme.expected_readme(tmp_path)


def tweak_loop_commands(text: str) -> list[str]:
    """The commands of the README's tweak-loop block, in order, comments dropped."""
    block = text.split("<!-- tweak-loop", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_tweak_loop_runs_as_written(tmp_path):
    """The README's tweak-loop block, run in order in a fresh repository of the project's files (about 5 min):
    the quick profile runs as experiments, labelled smoke runs, and leaves the workspace's metrics alone."""
    import subprocess
    import sys

    env = project_copy(tmp_path)
    prefix = Path(sys.prefix)
    results = (tmp_path / readme.RESULTS).read_bytes()
    commands = tweak_loop_commands((ROOT / "README.md").read_text())
    assert commands[0].startswith("source ") and any(c.startswith("make quick S=") for c in commands)
    outputs = []
    for command in commands[1:]:   # the environment is entered by PATH here
        if command.startswith("make "):   # this environment, whatever its folder; never (re)build it
            command = f"make -o {prefix / 'bin' / '.installed'} VENV={prefix} " + command[len("make "):]
        run = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert run.returncode == 0, f"{command}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        outputs.append(run.stdout)
    assert "[quick]" in outputs[-1] and "[quick_pretrain.epochs-12]" in outputs[-1]
    table = subprocess.run(["dvc", "exp", "show", "--csv"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           check=True).stdout
    labels = {row["Experiment"]: row["label"] for row in csv.DictReader(io.StringIO(table)) if row["Experiment"]}
    assert set(labels) == {"quick", "quick_pretrain.epochs-12"}   # both quick runs' results are labelled
    assert all(label.startswith("Smoke run (make quick") for label in labels.values())
    assert (tmp_path / readme.RESULTS).read_bytes() == results   # the committed result is untouched


def test_the_budget_block_adds_the_declared_test_read_once_it_has_run():
    def row(epochs, scratch, fractal, val_split="holdout", draws=3):
        m = fractal - scratch
        return {"name": f"b-{epochs}-{val_split}", "reads": {"clean": True},
                "settings": {"finetune.recipe.epochs": epochs, "finetune.recipe.holdout": 0.25 if val_split == "holdout" else 0.0,
                             "finetune.recipe.val_split": val_split, "pretrain.seeds": list(range(draws))},
                "datasets": {"actions": {"test_clips": 180 if val_split == "holdout" else 270, "chance": 0.1,
                                         "scratch_top1": scratch, "fractal_top1": fractal,
                                         "margin_top1": {"mean": m, "ci95": [m - 0.05, m + 0.05], "per_seed": [m] * draws}}}}

    grid = [row(25, 0.12, 0.15), row(50, 0.2, 0.25), row(100, 0.3, 0.32), row(200, 0.305, 0.31)]
    assert "test parts" not in readme.budget_block(grid + [row(100, 0.2, 0.3, "test", draws=3)])   # 3 draws: not it
    block = readme.budget_block(grid + [row(100, 0.2, 0.3, "test", draws=5)])
    assert "On the test parts at that budget (5 draws x 1 seed, 270 clips): 20.0 -> 30.0 %, **+10.0** [+5.0, +15.0]" in block
