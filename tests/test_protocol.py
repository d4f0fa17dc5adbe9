"""The evaluation protocol: folds that test every clip once and keep actors apart, labelled fractions and
holdouts that both initialisations share, the paired margin and its interval; the in-memory clips and the
narrow networks that make the protocol affordable on a CPU."""
import math
import statistics

import numpy as np
import pytest
import torch

from fractalvid import DatasetSpec, generate
from fractalvid.evaluation.stats import margin_over_draws, mean_ci95, paired_margin, pretraining_draw, t975
from fractalvid.learning.data import MemoryClips, VideoClips
from fractalvid.learning.models import build_model
from fractalvid.learning.splits import clip_groups, fold_of, split_indices
from fractalvid.learning.train import build_data, recipe
from fractalvid.storage.store import open_dataset


def test_folds_test_every_clip_once_stratified():
    labels = np.repeat(np.arange(5), [64, 68, 57, 65, 29])     # basketball5's class sizes
    where = fold_of(labels, None, 5)
    for f in range(5):
        s = split_indices(labels, ["train"] * len(labels), folds=5, fold=f)
        assert set(s) == {"train", "test"}
        assert not set(s["train"]) & set(s["test"])
        assert len(s["train"]) + len(s["test"]) == len(labels)
        assert np.array_equal(s["test"], np.flatnonzero(where == f))
        for c in range(5):  # each class is spread evenly over the folds
            assert abs((labels[s["test"]] == c).sum() - (labels == c).sum() / 5) < 1
    assert np.bincount(where).max() - np.bincount(where).min() <= 1
    assert np.array_equal(where, fold_of(labels, None, 5))   # a function of the data alone


def test_folds_keep_groups_apart():
    groups = np.tile(np.arange(9), 20)
    labels = np.repeat(np.arange(10), 18)
    for f in range(3):
        s = split_indices(labels, ["x"] * len(labels), groups, folds=3, fold=f)
        assert not set(groups[s["train"]]) & set(groups[s["test"]])
        assert len(set(groups[s["test"]])) == 3
    s = split_indices(labels, ["x"] * len(labels), groups, folds=3, fold=0, holdout=0.2, seed=1)
    held = set(groups[s["holdout"]])
    assert len(held) == 1 and not held & set(groups[s["train"]]) and not held & set(groups[s["test"]])
    with pytest.raises(ValueError, match="folds=10 is not accepted: expected at most the number of clip"):
        split_indices(labels, ["x"] * len(labels), groups, folds=10, fold=0)


def test_fraction_and_holdout_are_per_class_shared_by_inits_and_drawn_per_seed():
    labels = np.repeat(np.arange(4), 25)
    full = split_indices(labels, ["train"] * 100, folds=4, fold=1)
    a = split_indices(labels, ["train"] * 100, folds=4, fold=1, label_fraction=0.25, holdout=0.2, seed=3)
    b = split_indices(labels, ["train"] * 100, folds=4, fold=1, label_fraction=0.25, holdout=0.2, seed=3)
    c = split_indices(labels, ["train"] * 100, folds=4, fold=1, label_fraction=0.25, holdout=0.2, seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)          # the same for both initialisations of a seed
    assert not np.array_equal(a["train"], c["train"])           # another seed, another subset
    assert np.array_equal(a["test"], full["test"])              # the test part never changes
    assert not set(a["holdout"]) & set(a["train"]) and not set(a["holdout"]) & set(a["test"])
    assert set(a["holdout"]) | set(a["train"]) <= set(full["train"])
    for c_ in range(4):
        n = (labels[full["train"]] == c_).sum()                 # 18 or 19 training clips per class
        assert (labels[a["holdout"]] == c_).sum() == round(0.2 * n)
        assert (labels[a["train"]] == c_).sum() == max(1, round(0.25 * (n - round(0.2 * n))))
    with pytest.raises(ValueError, match="label_fraction=0 is not accepted"):
        split_indices(labels, ["train"] * 100, label_fraction=0)


def test_without_folds_the_manifest_splits_stay():
    labels = np.array([0, 1, 0, 1, 0, 1])
    s = split_indices(labels, ["train", "train", "test", "test", "train", "val"])
    assert {k: v.tolist() for k, v in s.items()} == {"train": [0, 1, 4], "test": [2, 3], "val": [5]}


def test_t_interval_and_paired_margin():
    assert t975(4) == 2.776 and t975(200) == 1.96
    ci = mean_ci95([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.776 * statistics.stdev([1, 2, 3, 4, 5]) / math.sqrt(5)
    assert ci["mean"] == 3.0 and ci["ci95"] == pytest.approx([3 - half, 3 + half])
    m = paired_margin({0: 0.5, 1: 0.4, 2: 0.6}, {0: 0.6, 1: 0.45, 2: 0.55})
    assert m["per_seed"] == pytest.approx([0.1, 0.05, -0.05]) and m["wins"] == 2 and m["n"] == 3
    assert m["ci95"][0] < m["mean"] < m["ci95"][1]
    with pytest.raises(ValueError, match="the same, non-empty, set of seeds"):
        paired_margin({0: 0.5}, {1: 0.5})


def test_each_seed_has_a_draw_and_the_interval_goes_over_the_draws():
    assert [pretraining_draw(s, [0, 1, 2]) for s in range(6)] == [0, 1, 2, 0, 1, 2]
    assert [pretraining_draw(s, [7]) for s in range(3)] == [7, 7, 7]   # one network for every seed
    with pytest.raises(ValueError, match=r"draws=\[\] is not accepted"):
        pretraining_draw(0, [])
    scratch = {s: 0.30 for s in range(6)}
    fractal = {0: 0.40, 1: 0.34, 2: 0.52, 3: 0.42, 4: 0.36, 5: 0.50}   # draw 1 is weak, draw 2 strong
    m = margin_over_draws(scratch, fractal, {s: pretraining_draw(s, [0, 1, 2]) for s in scratch})
    assert m["draws"] == [0, 1, 2] and m["per_draw"] == pytest.approx([0.11, 0.05, 0.21])
    assert m["over"] == "pre-training draws" and m["n"] == 6 and m["wins"] == 6
    assert m["ci95"] == pytest.approx(mean_ci95([0.11, 0.05, 0.21])["ci95"])   # t over 3 draw means, df 2
    seeds_only = paired_margin(scratch, fractal)   # treating the 6 seeds as independent is narrower: wrong here
    assert seeds_only["ci95"][1] - seeds_only["ci95"][0] < m["ci95"][1] - m["ci95"][0]
    one = margin_over_draws(scratch, fractal, {s: 0 for s in scratch})
    assert one["over"] == "fine-tuning seeds" and one["ci95"] == pytest.approx(seeds_only["ci95"])
    assert margin_over_draws(scratch, fractal, None)["over"] == "fine-tuning seeds"   # e.g. a Kinetics start
    with pytest.raises(ValueError, match="a draw for every seed"):
        margin_over_draws(scratch, fractal, {0: 0})


@pytest.fixture(scope="module")
def actions(tmp_path_factory):
    """The action benchmark at 32 px: 10 classes x 9 clips (one per actor)."""
    out = tmp_path_factory.mktemp("actions") / "ds"
    generate(out, DatasetSpec.from_dict(dict(family="actions", classes=10, per_class=9, val_per_class=0, seed=0,
                                             options={"res": 32})), workers=1, progress=False)
    return out


def test_actions_groups_are_actors_and_folds_hold_out_whole_actors(actions):
    ds = open_dataset(actions)
    groups = clip_groups(ds.card, ds.rows)
    assert groups.tolist() == [j % 9 for _ in range(10) for j in range(9)]
    test_split = np.array([r["split"] for r in ds.rows]) == "test"
    assert set(groups[test_split]) == {6, 7, 8}          # the manifest's own split is by actor too


def test_build_data_with_folds_in_memory_gives_the_disk_items(actions):
    base = recipe("finetune", data=str(actions), arch="tsm_r18_w16", size=24, frames=4, stride=1, val_clips=1,
                  folds=3, fold=2, holdout=0.2, val_split="holdout", workers=0)
    train, val, _, classes = build_data(base)
    mem_train, mem_val, _, _ = build_data(base.replace(in_memory=True))
    assert len(classes) == 10 and len(train) == len(mem_train) == 50 and len(val) == len(mem_val) == 10
    assert isinstance(mem_train.source, MemoryClips) and isinstance(train, VideoClips)
    for i in (0, 7, 49):
        (a, la), (b, lb) = train[i], mem_train[i]
        assert la == lb and torch.equal(a, b)   # the same clip, crop and frames as from disk
    ds = open_dataset(actions)
    groups = clip_groups(ds.card, ds.rows)
    test = split_indices(ds.labels, [r["split"] for r in ds.rows], groups, folds=3, fold=2)["test"]
    assert set(groups[test]) == {2, 5, 8}
    with pytest.raises(ValueError, match="split='val' is not in .* expected one of \\['holdout', 'test', 'train'\\]"):
        build_data(base.replace(val_split="val"))


@pytest.mark.parametrize("arch, width", [("tsm_r18_w32", 32), ("tsm_r18_w16", 16)])
def test_narrow_resnets_are_resnet18_at_a_fraction_of_the_width(arch, width):
    full = sum(p.numel() for p in build_model("tsm_r18", 10).trunk.parameters())
    model = build_model(arch, 10)
    narrow = sum(p.numel() for p in model.trunk.parameters())
    assert model.feat_dim == 8 * width
    assert narrow / full == pytest.approx((width / 64) ** 2, rel=0.05)   # convolutions dominate
    y = model(torch.randn(2, 3, 4, 32, 32))
    assert y.shape == (2, 10)
    with pytest.raises(ValueError, match="arch='tsm_r18_w8' is not accepted"):
        build_model("tsm_r18_w8", 10)


def test_curves_show_accuracy_in_percent_with_chance_and_clips():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fractalvid.evaluation.report import plot_curves

    history = {"epoch": np.array([1, 2]), "train_loss": np.array([2.0, 1.0]), "train_top1": np.array([0.2, 0.5]),
               "val_loss": np.array([2.1, 1.5]), "val_top1": np.array([0.1, 0.4])}
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2)
    plot_curves(ax_loss, ax_acc, history, chance=0.1, clips=270)
    lines = {line.get_label(): line.get_ydata() for line in ax_acc.get_lines()}
    assert list(lines["train"]) == [20.0, 50.0] and list(lines["val"]) == [10.0, 40.0]
    assert list(lines["chance"]) == [10.0, 10.0]
    assert ax_acc.get_ylabel() == "top-1 (%)" and "270 clips" in ax_acc.get_title()
    plt.close(fig)


def test_pooled_curves_weight_validation_by_test_clips_and_keep_the_epochs_of_folds_that_trained_on(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fractalvid.evaluation.report import plot_curves
    from fractalvid.learning.runs import pooled_history

    def fold(name, clips, rows):   # an early-stopped fold: val_* empty per epoch, select_* filled
        run = tmp_path / name
        run.mkdir()
        lines = [f"{e},{1 - t},{t},,{1 - s},{s}\n" for e, (t, s) in enumerate(rows, 1)]
        (run / "history.csv").write_text("epoch,train_loss,train_top1,val_top1,select_loss,select_top1\n"
                                         + "".join(lines))
        (run / "confusion.csv").write_text(f",a,b\na,{clips},0\nb,0,0\n")
        return run

    history = pooled_history([fold("fold0", 10, [(0.2, 0.4), (0.4, 0.6), (0.6, 0.5)]),
                              fold("fold1", 30, [(0.4, 0.2), (0.6, 0.4)])])   # stopped one epoch earlier
    assert list(history["epoch"]) == [1, 2, 3]
    assert np.allclose(history["train_top1"], [0.3, 0.5, 0.6])    # epoch 3: the fold that trained on
    assert np.allclose(history["select_top1"], [0.3, 0.5, 0.5])
    assert np.isnan(history["val_top1"]).all()                    # scored once, after the run
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2)
    plot_curves(ax_loss, ax_acc, history)
    lines = {line.get_label(): list(line.get_ydata()) for line in ax_acc.get_lines()}
    assert np.allclose(lines["held out (chooses the epoch)"], [30.0, 50.0, 50.0]) and "val" not in lines
    plt.close(fig)

    fold("fold2", 10, [(0.1, 0.0)]), fold("fold3", 30, [(0.1, 0.0)])
    for run, top1 in (("fold2", 0.2), ("fold3", 0.6)):   # validation every epoch: weighted by test clips
        (tmp_path / run / "history.csv").write_text(f"epoch,train_top1,val_top1\n1,0.1,{top1}\n")
    plain = pooled_history([tmp_path / "fold2", tmp_path / "fold3"])
    assert np.allclose(plain["val_top1"], [0.5])
    # the held-out columns exist in every pooled history (dvc.yaml's plots name them), empty without a holdout
    assert np.isnan(plain["select_top1"]).all() and np.isnan(plain["select_loss"]).all()


def test_per_epoch_curves_draw_the_test_part_or_the_held_out_clips_that_chose_the_epoch(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fractalvid.evaluation.report import comparison, plot_runs_per_epoch
    from fractalvid.learning.runs import write_history

    nan = [float("nan")] * 2
    curves = {("scratch", 0): ([0.2, 0.3], nan), ("fractal", 0): ([0.4, 0.5], nan),      # test part every epoch
              ("scratch", 1): (nan, [0.25, 0.35]), ("fractal", 1): (nan, [0.5, 0.6])}    # early stopping
    runs = []
    for (init, seed), (test, held) in curves.items():
        name = f"actions-{init}-{seed}"
        write_history({"epoch": np.array([1.0, 2.0]), "val_top1": np.array(test), "select_top1": np.array(held)},
                      tmp_path / f"{name}.csv")
        runs.append({"dataset": "actions", "init": init, "seed": seed, "top1": 0.3, "test_clips": 90, "classes": 10,
                     "name": name})
    summary = comparison(runs)
    for chosen, label in ((runs[:2], "test top-1 (%)"), (runs[2:], "held-out top-1 (%)"),
                          (runs, "held-out / test top-1 (%)")):
        fig, ax = plt.subplots()
        plot_runs_per_epoch(ax, chosen, summary, tmp_path)
        drawn = [list(line.get_ydata()) for line in ax.get_lines() if not line.get_label().endswith(": chance")]
        wanted = [[100 * v for v in (held if seed else test)] for (init, seed), (test, held) in curves.items()
                  if any(r["init"] == init and r["seed"] == seed for r in chosen)]
        assert np.allclose(drawn, wanted)
        assert [line.get_ydata()[0] for line in ax.get_lines() if line.get_label() == "actions: chance"] == [10.0]
        assert ax.get_ylabel() == label and "actions: 90 test clips" in ax.get_title()
        plt.close(fig)


def test_train_folds_without_folds_trains_once_on_the_official_split(actions, tmp_path):
    """A real set's official split (folds None, as params-paper.yaml): one run, tested on the manifest's test
    clips (actors 6-8 here), in the shape the folds' result has."""
    from fractalvid.evaluation.protocol import train_folds

    cfg = recipe("finetune", data=str(actions), arch="tsm_r18_w16", size=24, frames=4, stride=1, val_clips=1,
                 epochs=1, warmup_epochs=0, batch_size=8, folds=None, workers=0, in_memory=True)
    result = train_folds(cfg, tmp_path / "run", progress=False)
    assert [f["fold"] for f in result["folds"]] == [0] and (tmp_path / "run" / "fold0" / "model.pt").is_file()
    assert result["test_clips"] == 30 and np.array(result["confusion"]).sum() == 30   # 10 classes x 3 test actors
    with pytest.raises(ValueError, match="folds=1 is not accepted: expected None"):
        train_folds(cfg.replace(folds=1), tmp_path / "other", progress=False)


def test_the_result_is_read_against_the_papers_claim_by_where_its_interval_lies():
    from fractalvid.evaluation.report import read_against_paper

    def summary(lo, hi):
        return {"actions": {"test_clips": 270, "chance": 0.1,
                            "margins": {"fractal": {"mean": (lo + hi) / 2, "ci95": [lo, hi]}}}}

    assert "whole interval is above 0" in read_against_paper(summary(0.01, 0.2))
    assert "reaches 0" in read_against_paper(summary(-0.01, 0.2))
    assert "behind, against the paper" in read_against_paper(summary(-0.2, -0.01))
    assert "+10.0 points [+1.0, +19.0]" in read_against_paper(summary(0.01, 0.19))
    assert read_against_paper({"actions": {"margins": {}}}) == "No fractal run to read against the paper's claim."


def test_the_t_distribution_gives_the_tables_quantiles_and_corrections_widen_with_the_number_of_reads():
    from fractalvid.evaluation.stats import T975, corrected_reads, t_quantile, t_sf2

    for df in (1, 2, 4, 10, 30):
        assert t_quantile(0.95, df) == pytest.approx(T975[df - 1], abs=2e-3)
        assert t_sf2(T975[df - 1], df) == pytest.approx(0.05, abs=2e-4)
    assert t_sf2(1.0, 1) == pytest.approx(0.5)                      # Cauchy: P(|T| >= 1) = 1/2
    assert t_sf2(0.0, 3) == 1.0
    # Bonferroni for 5 reads uses the 0.99 quantile; Holm multiplies the smallest p by 5, the next by 4, ...
    reads = [[0.04, 0.05, 0.07], [0.0, 0.1, -0.05], [0.02, 0.03, 0.02]]
    out = corrected_reads(reads)
    for values, c in zip(reads, out):
        se = statistics.stdev(values) / math.sqrt(3)
        assert c["ci95"][1] - c["mean"] == pytest.approx(4.303 * se, rel=1e-3)
        assert c["bonferroni_ci95"][1] - c["mean"] == pytest.approx(t_quantile(1 - 0.05 / 3, 2) * se)
    ps = [c["p"] for c in out]
    order = sorted(range(3), key=lambda i: ps[i])
    assert out[order[0]]["holm_p"] == pytest.approx(min(1, 3 * ps[order[0]]))
    assert out[order[1]]["holm_p"] == pytest.approx(max(3 * ps[order[0]], 2 * ps[order[1]]))
    assert out[order[2]]["holm_p"] >= out[order[1]]["holm_p"]


def test_the_ledger_of_test_reads_is_listed_with_its_corrections():
    from pathlib import Path

    from fractalvid.evaluation.reads import ledger_block

    block = ledger_block(Path(__file__).resolve().parents[1])
    rows = [line for line in block.splitlines() if line.startswith("| 2026")]
    assert sum("| weizmann6 |" in r for r in rows) == 5 and all("(5 reads)" in r for r in rows if "weizmann6" in r)
    # the last weizmann6 read: +5.2 [+1.9, +8.5], corrected for 5 reads [-2.5, +12.8], Holm p 0.107
    assert "| +5.2 [+1.9, +8.5] | [-2.5, +12.8] (5 reads) | 0.021 | 0.107 | no |" in rows[4]
