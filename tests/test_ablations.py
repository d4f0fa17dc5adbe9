"""The committed ablation record: `dvc exp show --json` -> rows -> reports/ablations.{json,md}."""
import json
import subprocess
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fractalvid.evaluation import ablations  # noqa: E402

PARAMS = {"generate": {"out": "data/fractal", "classes": 100, "per_class": 22, "options": {"motion": "decomposed"}},
          "pretrain": {"out": "models/pretrain", "task": "supervised", "epochs": 20}}


def metrics(margin, per_seed, train_top1=0.8, minutes=1.6):
    return {
        # two pre-training draws: the row shows their means
        "reports/metrics/pretrain/0.json": {"data": {"train_top1": train_top1 - 0.01, "val_top1": 0.7, "epochs": 20,
                                                     "epoch_s": 5.0, "train_minutes": minutes - 0.1}},
        "reports/metrics/pretrain/1.json": {"data": {"train_top1": train_top1 + 0.01, "val_top1": 0.7, "epochs": 20,
                                                     "epoch_s": 5.0, "train_minutes": minutes + 0.1}},
        "reports/metrics/generate.json": {"data": {"clips": 2200, "s_per_clip": 0.0164}},
        "reports/metrics/results.json": {"data": {"runs": 10, "margin": margin, "actions": {
            "test_clips": 270, "chance": 0.1, "scratch_top1": 0.2, "fractal_top1": 0.2 + margin,
            "margin_top1": {"mean": margin, "ci95": [margin - 0.02, margin + 0.02], "per_seed": per_seed}}}},
    }


def scalars(d):
    """What ``dvc exp show --json`` keeps of a metrics file: it leaves out list values."""
    return {k: scalars(v) if isinstance(v, dict) else v for k, v in d.items() if not isinstance(v, list)}


def revision(rev, name, params, metrics_):
    return {"rev": rev, "name": name, "data": {
        "rev": rev, "params": {"params.yaml": {"data": params}},
        "metrics": {path: {"data": scalars(f["data"])} for path, f in metrics_.items()}}}


NAIVE = metrics(0.05, [0.1, -0.02, 0.05, 0.06, 0.06], 0.5)
READS = {f"reports/reads/actions-{i}-{s}.json": {"data": {"set": "actions", "init": i, "seed": s, "scored_on": "test",
                                                         "clips": 270, "commit": "a" * 40, "clean": True}}
         for i in ("scratch", "fractal") for s in range(5)}
NOTEBOOKS = {f"reports/{path}.ipynb": {"data": {"metadata": {"papermill": {"duration": seconds}}}} for path, seconds in
             (("01_generate", 50.0), ("pretrain/02_pretrain-0", 120.0), ("pretrain/02_pretrain-1", 130.0),
              ("finetune/03_actions-scratch-0", 30.0), ("finetune/03_actions-fractal-0", 40.0), ("00_tour", 20.0),
              ("04_figures", 15.0))}
FILES = {"a" * 40: metrics(0.19, [0.16, 0.21, 0.2, 0.19, 0.18]), "b" * 40: {**NAIVE, **READS, **NOTEBOOKS}}   # per rev


def exp_show():
    """The shape DVC 3 prints: the workspace, then each commit with its experiments and their executors."""
    naive = json.loads(json.dumps(PARAMS))
    naive["generate"]["options"]["motion"] = "naive"
    naive["generate"]["out"] = "elsewhere"                         # output paths are not a change
    moco = json.loads(json.dumps(PARAMS))
    moco["pretrain"]["task"] = "moco"
    epochs = json.loads(json.dumps(PARAMS))
    epochs["pretrain"]["epochs"] = 40
    commit = revision("a" * 40, "main", PARAMS, FILES["a" * 40])
    commit["experiments"] = [
        {"name": "naive-motion", "executor": {"state": "success"},
         "revs": [revision("b" * 40, "naive-motion", naive, NAIVE)]},
        {"name": "epochs-40", "executor": {"state": "running"},   # shows the metrics it started from
         "revs": [revision("c" * 40, "epochs-40", epochs, FILES["a" * 40])]},
        {"name": "moco", "executor": {"state": "queued"}, "revs": [revision("d" * 40, "moco", moco, {})]},
    ]
    return [revision("workspace", None, PARAMS, {}), commit]


@pytest.fixture
def dvc_exp_show(monkeypatch):
    def fake_run(cmd, **kwargs):
        if cmd[:3] == ["dvc", "exp", "list"]:
            return subprocess.CompletedProcess(cmd, 0, stdout="aaaaaaa:\n\tbbbbbbb [naive-motion]\n", stderr="")
        if cmd[:3] == ["dvc", "exp", "show"]:
            assert cmd[3:] == ["--json", "--rev", "HEAD", "--rev", "aaaaaaa"]   # HEAD and the listed base
            return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(exp_show()), stderr="")
        if cmd[:2] == ["git", "ls-tree"]:   # the reads logs (or every file under reports/) a revision holds
            rev, folder = [a for a in cmd[2:] if not a.startswith("-")]
            listed = [p for p in FILES.get(rev, {}) if p.startswith(folder)]
            return subprocess.CompletedProcess(cmd, 0, stdout="".join(p + "\n" for p in listed), stderr="")
        assert cmd[:2] == ["git", "show"]
        rev, path = cmd[2].split(":", 1)
        f = FILES.get(rev, {}).get(path)
        return subprocess.CompletedProcess(cmd, 0 if f else 128, stdout=json.dumps(f["data"]) if f else "",
                                           stderr="")
    monkeypatch.setattr(ablations.subprocess, "run", fake_run)


def test_experiments_are_read_with_the_commit_they_branch_from(dvc_exp_show):
    exps = ablations.experiments()
    assert [e["name"] for e in exps] == ["main", "naive-motion", "epochs-40", "moco"]
    assert [e["state"] for e in exps] == ["success", "success", "running", "queued"]
    assert exps[0]["baseline"] is None and exps[1]["baseline"]["generate.options.motion"] == "decomposed"
    assert exps[1]["params"]["generate.options.motion"] == "naive"
    assert exps[1]["metrics"]["results.actions.margin_top1.mean"] == 0.05
    assert exps[1]["metrics"]["results.actions.margin_top1.ci95"] == pytest.approx([0.03, 0.07])   # from git
    assert exps[1]["metrics"]["pretrain/1.train_top1"] == pytest.approx(0.51)   # each draw under its seed


def test_rows_say_what_changed_and_skip_unfinished_experiments(dvc_exp_show):
    rows = ablations.ablation_rows(ablations.experiments())
    assert [r["name"] for r in rows] == ["default @ aaaaaaa", "naive-motion"]   # running and queued left out
    default, naive = rows
    assert default["changed"] == {} and naive["changed"] == {"generate.options.motion": "naive"}
    assert naive["pretext_train_top1"] == 0.5 and naive["pretrain_minutes"] == 1.6
    assert naive["generate_minutes"] == round(2200 * 0.0164 / 60, 2)
    assert naive["reads"] == {"scored_on": {"actions": "test"}, "commits": ["a" * 40], "clean": True}
    assert default["reads"]["clean"] is None                              # made before runs logged their reads
    # wall seconds from papermill's record in the executed notebooks: per draw, per fine-tuning run of a set
    assert naive["seconds"] == {"generate": 50.0, "pretrain": 125.0, "finetune": {"actions": 35.0}, "other": 35.0}
    assert default["seconds"] == {}
    m = naive["datasets"]["actions"]
    assert m["margin_top1"]["per_seed"] == [0.1, -0.02, 0.05, 0.06, 0.06] and m["test_clips"] == 270
    text = ablations.format_ablations(rows)
    assert "+5.0 [+3.0, +7.0]" in text and "4/5 seeds" in text and "270 clips" in text
    assert '`generate.options.motion="naive"`' in text and "none (the default)" in text
    fig, ax = plt.subplots()
    ablations.plot_ablations(ax, rows, "actions")
    assert "270 test clips, chance 10 %" in ax.get_xlabel()
    plt.close(fig)


def test_record_merges_into_the_committed_table_and_refuses_to_write_nothing(dvc_exp_show, tmp_path):
    out = tmp_path / "ablations"
    naive = ablations.ablation_rows(ablations.experiments())[1]
    earlier = {**naive, "name": "removed-later", "rev": "d" * 40, "changed": {"pretrain.epochs": 40}}
    stale = {**naive, "rev": "e" * 40}
    out.with_suffix(".json").write_text(json.dumps([earlier, stale]))
    rows = ablations.record_ablations(out)
    assert [r["name"] for r in rows] == ["removed-later", "naive-motion", "default @ aaaaaaa"]
    assert rows[1]["rev"] == "b" * 40                                   # the new export replaces its row
    assert json.loads(out.with_suffix(".json").read_text()) == rows
    assert "naive-motion" in out.with_suffix(".md").read_text()
    before = out.with_suffix(".json").read_bytes()
    with pytest.raises(ValueError, match="no finished DVC experiment"):
        ablations.record_ablations(out, exps=[])
    assert out.with_suffix(".json").read_bytes() == before


def test_each_row_names_the_generator_its_clips_came_from():
    root = Path(__file__).resolve().parents[1]
    assert ablations.generator_at("d5b84c3", root) == "0.1 (maps without shear)"   # the last commit before the fix
    assert ablations.generator_at("HEAD", root) not in ("?", ablations.GENERATORS["0.1"])
    assert ablations.generator_at("0" * 40, root) == "?"
    rows = [{"name": "x", "generator": "0.1 (maps without shear)", "changed": {}, "datasets": {},
             "pretext_train_top1": None, "pretext_val_top1": None, "pretrain_minutes": None}]
    assert "| x | 0.1 (maps without shear) |" in ablations.format_ablations(rows)


def test_rows_carry_what_their_runs_read_and_a_dirty_tree_is_marked_not_reportable():
    from fractalvid.evaluation.reads import reads_summary

    reads = [{"set": "actions", "init": i, "seed": s, "scored_on": "test", "clips": 270, "commit": "c" * 40,
              "clean": True, "changed": []} for i in ("scratch", "fractal") for s in (0, 1)]
    dirty = [*reads[:-1], {**reads[-1], "clean": False, "changed": ["fractalvid/learning/train.py"]}]
    assert reads_summary(reads, ["actions"]) == {"scored_on": {"actions": "test"},
                                                         "commits": ["c" * 40], "clean": True}
    assert reads_summary(dirty, ["actions"])["clean"] is False
    stage_file = [{**r, "clean": False, "changed": ["data.dvc"]} for r in reads]   # logged before .dvc was allowed
    assert reads_summary(stage_file, ["actions"])["clean"] is True
    assert reads_summary([], ["actions"]) == {"scored_on": {"actions": None}, "commits": [], "clean": None}
    rows = [{"name": "ok", "rev": "a" * 40, "reads": reads_summary(reads, ["actions"])},
            {"name": "bad", "rev": "b" * 40, "reads": reads_summary(dirty, ["actions"])},
            {"name": "old", "rev": "d" * 40}]
    table = ablations.reads_table(rows)
    assert "| ok | actions: test | ccccccc | yes |" in table
    assert "| bad | actions: test | ccccccc | **no: not reportable** |" in table
    assert "| old | not logged | ddddddd | not logged |" in table


def test_a_fresh_clone_writes_the_study_tables_again_offline_and_they_are_not_stale(tmp_path):
    """docs/study.md's experiments block and reports/ablations.md are generated from the committed record: a
    fresh copy of the project, with no DVC experiment, writes them again byte for byte."""
    from conftest import project_copy

    env = project_copy(tmp_path)
    before = {p: (tmp_path / p).read_bytes() for p in ("docs/study.md", "reports/ablations.md", "docs/budget.md")}
    subprocess.run(["fractalvid", "ablations", "--offline"], cwd=tmp_path, env=env, check=True, capture_output=True)
    for path, old in before.items():
        assert (tmp_path / path).read_bytes() == old, f"{path} is stale: run `fractalvid ablations --offline`"


def budget_row(epochs: int, scratch: float, fractal: float, clean=True, **settings) -> dict:
    margin = fractal - scratch
    return {"name": f"run-{epochs}", "rev": "e" * 40, "changed": {}, "reads": {"clean": clean},
            "settings": {"finetune.recipe.epochs": epochs, "finetune.recipe.holdout": 0.25,
                         "finetune.recipe.val_split": "holdout", **settings},
            "datasets": {"actions": {"test_clips": 60, "chance": 0.1, "scratch_top1": scratch, "fractal_top1": fractal,
                                     "margin_top1": {"mean": margin, "ci95": [margin - 0.05, margin + 0.05],
                                                     "per_seed": [margin - 0.01, margin, margin + 0.01]}}}}


def test_the_budget_study_is_selected_by_its_settings_and_the_rule_picks_where_scratch_levels_off(tmp_path):
    from fractalvid.evaluation import budget

    rows = [budget_row(100, 0.295, 0.33), budget_row(25, 0.15, 0.25), budget_row(200, 0.30, 0.31, clean=False),
            budget_row(50, 0.22, 0.30),
            budget_row(400, 0.9, 0.9, **{"finetune.recipe.val_split": "test"}),   # a test read: not the study's
            {**budget_row(80, 0.9, 0.9), "settings": {}}]                       # no settings: not the study's
    points = budget.budget_points(rows)
    assert [p["epochs"] for p in points["actions"]] == [25, 50, 100, 200]
    assert budget.rule_budget(points["actions"]) == 100          # 29.5 % is within 1 point of the best, 30 %
    assert budget.rule_budget(points["actions"], within=0.001) == 200
    table = budget.budget_table(points)
    assert "| actions | 100 (chosen by the rule) | 60 | 10.0 % | 29.5 % | 33.0 % | +3.5 [-1.5, +8.5] | +2.5, +3.5, +4.5 | ? | yes |" \
        in table
    assert table.splitlines()[-1].endswith("| no |")             # the 200-epoch run's tree was not clean
    doc = tmp_path / "budget.md"
    doc.write_text(f"# x\n\n{budget.BEGIN}\nold\n{budget.END}\nafter\n")
    budget.write_budget(rows, doc, tmp_path / "fig.png")
    text = doc.read_text()
    assert "**100 epochs**" in text and text.endswith("after\n") and "old" not in text
    assert (tmp_path / "fig.png").stat().st_size > 10_000
    # scratch still learning from 100 to 200 epochs: the declared extension to 400 is needed before choosing
    learning = [budget_row(25, 0.15, 0.25), budget_row(50, 0.22, 0.30), budget_row(100, 0.25, 0.3),
                budget_row(200, 0.30, 0.31)]
    assert budget.grid_needed(budget.budget_points(learning)["actions"]) == (25, 50, 100, 200, 400)
    assert budget.chosen_budget(budget.budget_points(learning)["actions"]) is None
    budget.write_budget(learning, doc, tmp_path / "fig.png")
    assert "extends to 400 epochs" in doc.read_text() and "25, 50, 100, 200 of 25, 50, 100, 200, 400" in doc.read_text()
    extended = budget.budget_points([*learning, budget_row(400, 0.305, 0.33)])["actions"]
    assert budget.chosen_budget(extended) == 200                 # 30 % is within 1 point of 30.5 %
    budget.write_budget([], doc, tmp_path / "none.png")
    assert "No run of the study is recorded yet." in doc.read_text() and not (tmp_path / "none.png").exists()


def test_a_report_keeps_todays_experiments_the_budget_study_and_the_old_generators_apart():
    rows = [{**budget_row(25, 0.1, 0.2), "generator": "0.3"},
            {**budget_row(50, 0.1, 0.2), "name": "default @ x", "generator": "0.3",
             "settings": {"finetune.recipe.val_split": "test"}},
            {**budget_row(50, 0.1, 0.2), "name": "tint", "generator": ablations.GENERATORS["0.1"]}]
    sections = ablations.report_sections(rows)
    assert [r["name"] for r in sections["current"]] == ["default @ x"]
    assert [r["name"] for r in sections["budget"]] == ["run-25"]
    assert [r["name"] for r in sections["archive"]] == ["tint"]


def test_make_repros_minutes_are_estimated_from_timings_alone():
    from fractalvid.evaluation import budget

    rows = [{**budget_row(e, 0.1, 0.2), "seconds": {"finetune": {"actions": s}}} for e, s in ((25, 30.0), (50, 60.0))]
    default = {"name": "default @ abc", "settings": {"finetune.recipe.epochs": 50},
               "seconds": {"generate": 50.0, "pretrain": 120.0, "finetune": {"actions": 90.0}, "other": 40.0}}
    points = budget.budget_points(rows)["actions"]
    # 3 draws at the default's budget: its own stage times; at 25 epochs the runs take 30/60 of theirs
    assert budget.repro_minutes(points, default, 3, 50) == pytest.approx((budget.OVERHEAD_S + 90 + 3 * 300) / 60)
    assert budget.repro_minutes(points, default, 5, 25) == pytest.approx((budget.OVERHEAD_S + 90 + 5 * 210) / 60)
    assert budget.repro_minutes(points, default, 5, 100) is None            # no timing at 100 epochs
    assert budget.OVERHEAD_S == 131
    table = budget.fit_table(points, default)
    assert "| 3 | 14.2 min | 18.7 min |" in table and "| 5 | 21.2 min | 28.7 min |" in table
    assert table.endswith("No budget of the grid fits 20 minutes at 5 draws.")
    quicker = {**default, "seconds": {**default["seconds"], "pretrain": 60.0}}   # 5 x 25 epochs: 16.2 min
    assert budget.fit_table(points, quicker).endswith("fits 20 minutes at 5 draws: **25 epochs**.")
