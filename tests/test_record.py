"""The study's experiment record (benchmarks/record.py): rows with structured changes, selected by field."""
import importlib.util
import json

import numpy as np
import pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("record", ROOT / "benchmarks" / "record.py")
record = importlib.util.module_from_spec(spec)
spec.loader.exec_module(record)


def a_result(changes, scored_on="test", margin=0.05):
    return {"complete": True, "scored_on": scored_on, "options": {"changes": changes, "family": "fractal", "sets": ["weizmann6"]},
            "pretrain": {"epochs": 20, "train_top1": 0.8}, "pretrain_minutes": 1.6, "pretrain_clip_passes": 39680,
            "summary": {"weizmann6": {"test_clips": 54, "chance": 1 / 6,
                                      "margin_top1": {"mean": margin, "ci95": [0, 0.1], "per_seed": [margin]}}},
            "machine": {"commit": "c" * 40}}


def test_changes_are_fields_with_values_as_params_yaml_reads_them():
    assert record.parse_changes(["pretrain.stride=1", "pretrain.tint_fg=[0.6, 1.0]", "pretrain.tint=true",
                                 "finetune.recipe.reinit=[conv1, bn1]"]) == {
        "pretrain.stride": 1, "pretrain.tint_fg": [0.6, 1.0], "pretrain.tint": True,
        "finetune.recipe.reinit": ["conv1", "bn1"]}


def test_rows_are_selected_by_field_and_a_rerun_replaces_its_row(tmp_path):
    path = tmp_path / "record.jsonl"
    stride = record.row(a_result(["pretrain.stride=1"]), record.RESULTS / "weizmann6" / "a.json", "c" * 40)
    tint = record.row(a_result(["pretrain.tint=true"], scored_on="holdout"), record.RESULTS / "b.json", "d" * 40)
    record.append(stride, path)
    record.append(tint, path)
    rows = record.read(path)
    assert [r["id"] for r in rows] == ["weizmann6/a", "b"] and rows[0]["commit"] == "c" * 40
    assert record.select(rows, **{"pretrain.stride": 1}) == [rows[0]]
    assert record.select(rows, scored_on="holdout", sets="weizmann6") == [rows[1]]   # a field, a list option
    assert record.select(rows, **{"pretrain.epochs": 20}) == rows                      # a field of the run
    record.append(record.row(a_result(["pretrain.stride=1"], margin=0.1), record.RESULTS / "weizmann6" / "a.json",
                             "e" * 40), path)
    rows = record.read(path)
    assert len(rows) == 2 and rows[-1]["datasets"]["weizmann6"]["margin_top1"]["mean"] == 0.1


def test_every_committed_results_file_is_a_row_of_the_record():
    rows = {r["id"]: r for r in record.read()}
    for pattern in record.SOURCES:
        for file in (f for f in record.RESULTS.glob(pattern) if f != record.TRANSFER):   # the view below
            result = json.loads(file.read_text())
            if "options" in result and result.get("summary"):
                r = rows[file.relative_to(record.RESULTS).with_suffix("").as_posix()]
                assert r["datasets"] == result["summary"] and r["commit"], file.name
                assert r.get("converted_from", "").endswith(file.name) or "converted_from" not in r


def test_a_grid_settings_draws_are_summarised_over_the_draw_means():
    def draw_row(seed, scratch, fractal):
        r = record.row(a_result([f"pretrain.seed={seed}", "pretrain.stride=1"]), record.RESULTS / f"d{seed}.json", "c")
        r["datasets"]["weizmann6"].update(scratch_top1={"per_seed": scratch}, fractal_top1={"per_seed": fractal})
        r["datasets"]["weizmann6"]["margin_top1"]["seeds"] = [seed, seed + 2]
        return r

    rows = [draw_row(0, [0.3, 0.4], [0.4, 0.4]), draw_row(1, [0.3, 0.3], [0.3, 0.5])]
    summary = record.summarise_draws(rows, "grid-9", {"pretrain.stride": 1})
    m = summary["margin_top1"]
    assert m["over"] == "pre-training draws" and np.allclose(m["per_draw"], [0.05, 0.1]) and np.isclose(m["mean"], 0.075)
    assert summary["files"] == ["d0.json", "d1.json"] and summary["pretraining"][1]["clip_passes"] == 39680


def test_a_setting_is_chosen_for_each_initialisation_on_its_own_on_held_out_clips():
    def epochs_row(epochs, scratch, fractal, scored_on="holdout"):   # seeds 0-3, seed s from draw s mod 2
        r = record.row(a_result([f"finetune.recipe.epochs={epochs}"], scored_on=scored_on),
                       record.RESULTS / f"e{epochs}.json", "c")
        r["runs"] = [{"dataset": "weizmann6", "init": init, "seed": s, "draw": None if init == "scratch" else s % 2,
                      "top1": top1} for init, tops in (("scratch", scratch), ("fractal", fractal))
                     for s, top1 in enumerate(tops)]
        return r

    rows = [epochs_row(25, [0.3, 0.3, 0.3, 0.3], [0.5, 0.4, 0.5, 0.4]),    # the fractal start's best: 25
            epochs_row(100, [0.4, 0.4, 0.5, 0.3], [0.4, 0.4, 0.4, 0.4])]   # scratch's best: 100
    summary = record.choose_per_init(rows, "finetune.recipe.epochs", "grid-9")
    assert summary["chosen"] == {"scratch": 100, "fractal": 25}
    m = summary["margin_top1"]   # fractal at 25 minus scratch at 100: seeds +0.1, 0, 0, +0.1
    assert m["over"] == "pre-training draws" and np.allclose(m["per_draw"], [0.05, 0.05])
    assert np.isclose(summary["held_out_top1"]["scratch"]["100"], 0.4) and summary["files"] == ["e25.json", "e100.json"]
    with pytest.raises(ValueError, match=r"rows \['e25'\] were scored on \['test'\]: a choice is made on held-out"):
        record.choose_per_init([epochs_row(25, [0.3] * 4, [0.4] * 4, "test")] + rows[1:], "finetune.recipe.epochs", "g")


def test_transfer_json_is_a_row_of_the_record_written_again_to_the_byte(tmp_path):
    committed = json.loads(record.TRANSFER.read_text())
    row_id = committed["generated_from"]["id"]
    again = tmp_path / "transfer.json"
    view = record.write_transfer(row_id, path=again)
    assert again.read_bytes() == record.TRANSFER.read_bytes()
    source = json.loads((record.RESULTS / f"{row_id}.json").read_text())   # the run's own file
    assert view["summary"] == source["summary"] and view["pretrain_draws"] == source["pretrain_draws"] == 3
    assert view["scored_on"] == "test" and len(view["commit"]) == 40
    with pytest.raises(KeyError, match="id='nope' is not a row"):
        record.write_transfer("nope", path=again)
