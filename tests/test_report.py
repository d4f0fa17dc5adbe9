"""The committed ablation record: `dvc exp show --json` -> rows -> reports/ablations.{json,md}."""
import json
import subprocess

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fractalvid import report  # noqa: E402

PARAMS = {"generate": {"out": "data/fractal", "classes": 100, "per_class": 22, "fractal": {"motion": "decomposed"}},
          "pretrain": {"out": "models/pretrain", "task": "supervised", "epochs": 20}}


def metrics(margin, per_seed, train_top1=0.8, minutes=1.6):
    return {
        "reports/metrics/pretrain.json": {"data": {"train_top1": train_top1, "val_top1": 0.7, "epochs": 20,
                                                   "epoch_s": 5.0, "train_minutes": minutes}},
        "reports/metrics/generate.json": {"data": {"clips": 2200, "s_per_clip": 0.0164}},
        "reports/metrics/results.json": {"data": {"runs": 10, "margin": margin, "actions": {
            "test_clips": 270, "chance": 0.1, "scratch_top1": 0.2, "fractal_top1": 0.2 + margin,
            "margin_top1": {"mean": margin, "ci95": [margin - 0.02, margin + 0.02], "per_seed": per_seed}}}},
    }


def revision(rev, name, params, metrics_):
    return {"rev": rev, "name": name, "data": {"rev": rev, "params": {"params.yaml": {"data": params}},
                                               "metrics": metrics_}}


def exp_show():
    """The shape DVC 3 prints: the workspace, then each commit with its experiments' revisions."""
    naive = json.loads(json.dumps(PARAMS))
    naive["generate"]["fractal"]["motion"] = "naive"
    naive["generate"]["out"] = "elsewhere"                         # output paths are not a change
    moco = json.loads(json.dumps(PARAMS))
    moco["pretrain"]["task"] = "moco"
    commit = revision("a" * 40, None, PARAMS, metrics(0.19, [0.16, 0.21, 0.2, 0.19, 0.18]))
    commit["experiments"] = [
        {"revs": [revision("b" * 40, "naive-motion", naive, metrics(0.05, [0.1, -0.02, 0.05, 0.06, 0.06], 0.5))]},
        {"revs": [revision("c" * 40, "moco", moco, {})]},         # failed or still running: no results
    ]
    return [revision("workspace", None, PARAMS, {}), commit]


@pytest.fixture
def dvc_exp_show(monkeypatch):
    def fake_run(cmd, **kwargs):
        assert cmd[:3] == ["dvc", "exp", "show"]
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(exp_show()), stderr="")
    monkeypatch.setattr(report.subprocess, "run", fake_run)


def test_experiments_are_read_with_the_commit_they_branch_from(dvc_exp_show):
    exps = report.experiments()
    assert [e["name"] for e in exps] == ["aaaaaaa", "naive-motion", "moco"]
    assert exps[0]["baseline"] is None and exps[1]["baseline"]["generate.fractal.motion"] == "decomposed"
    assert exps[1]["params"]["generate.fractal.motion"] == "naive"
    assert exps[1]["metrics"]["results.actions.margin_top1.mean"] == 0.05
    assert exps[1]["metrics"]["pretrain.train_top1"] == 0.5


def test_rows_say_what_changed_and_skip_unfinished_experiments(dvc_exp_show):
    rows = report.ablation_rows(report.experiments())
    assert [r["name"] for r in rows] == ["default @ aaaaaaa", "naive-motion"]   # moco has no results
    default, naive = rows
    assert default["changed"] == {} and naive["changed"] == {"generate.fractal.motion": "naive"}
    assert naive["pretext_train_top1"] == 0.5 and naive["pretrain_minutes"] == 1.6
    assert naive["generate_minutes"] == round(2200 * 0.0164 / 60, 2)
    m = naive["datasets"]["actions"]
    assert m["margin_top1"]["per_seed"] == [0.1, -0.02, 0.05, 0.06, 0.06] and m["test_clips"] == 270
    text = report.format_ablations(rows)
    assert "+5.0 [+3.0, +7.0]" in text and "4/5 seeds" in text and "270 clips" in text
    assert '`generate.fractal.motion="naive"`' in text and "none (the default)" in text
    fig, ax = plt.subplots()
    report.plot_ablations(ax, rows, "actions")
    assert "270 test clips, chance 10 %" in ax.get_xlabel()
    plt.close(fig)


def test_record_merges_into_the_committed_table_and_refuses_to_write_nothing(dvc_exp_show, tmp_path):
    out = tmp_path / "ablations"
    naive = report.ablation_rows(report.experiments())[1]
    earlier = {**naive, "name": "removed-later", "rev": "d" * 40, "changed": {"pretrain.epochs": 40}}
    stale = {**naive, "rev": "e" * 40}
    out.with_suffix(".json").write_text(json.dumps([earlier, stale]))
    rows = report.record_ablations(out)
    assert [r["name"] for r in rows] == ["removed-later", "naive-motion", "default @ aaaaaaa"]
    assert rows[1]["rev"] == "b" * 40                                   # the new export replaces its row
    assert json.loads(out.with_suffix(".json").read_text()) == rows
    assert "naive-motion" in out.with_suffix(".md").read_text()
    before = out.with_suffix(".json").read_bytes()
    with pytest.raises(ValueError, match="no finished DVC experiment"):
        report.record_ablations(out, exps=[])
    assert out.with_suffix(".json").read_bytes() == before
