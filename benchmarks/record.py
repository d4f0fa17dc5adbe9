"""The study's experiment record: every transfer benchmark run, one row of ``benchmarks/results/record.jsonl``.

    python benchmarks/record.py --convert                 # (re)build the record's converted rows from the files
    python benchmarks/record.py pretrain.stride=1 sets=weizmann6   # the rows whose fields have these values
    python benchmarks/record.py --summarise weizmann6/grid-4_summary.json generate.per_class=176 sets=weizmann6
                                                    # a grid setting's draws summarised over the draw means
    python benchmarks/record.py --per-init weizmann6/grid-7_epochs_summary.json finetune.recipe.epochs \
        --rows weizmann6/grid-7_epochs-25 weizmann6/grid-7_epochs-50 weizmann6/grid-7_epochs-100
                                                    # one grid setting chosen for each initialisation on its own
    python benchmarks/record.py --transfer transfer_from-pretrain0-pretrain1-pretrain2
                                                    # benchmarks/results/transfer.json: the recipe's row

A row says what a run was and what it measured, in fields (never a key spelled into a file name):

- ``id``: the results file it came from, relative to ``benchmarks/results`` without ``.json``;
- ``commit``: the commit the run was made at (for a converted row, marked by ``converted_from``, the file it
  was converted from: the commit its file recorded, else the commit that added the file);
- ``changes``: what it changed against ``params.yaml``, as a mapping of dotted keys to values
  (``{"pretrain.stride": 1}``), ``scratch_changes``: what changed for the scratch runs only (their own
  recipe, ``--scratch-set``), and ``options``: the benchmark's own (family, control, label_fraction,
  holdout, early_stop, stream, pretrained, pretrain_from, scratch_from, seeds, sets, basketball_square);
- ``scored_on`` (test, or holdout: choosing a recipe), ``complete``;
- ``pretrain``: epochs, minutes, clip_passes, draws, pretext_top1;
- ``datasets``: per downstream set its test clips, chance, each initialisation's top-1 and the paired margin
  (mean, ci95, per_seed, seeds, draws, per_draw, over), and ``runs``: every fine-tuning run's numbers.

``benchmarks/transfer.py`` appends its row when a run completes; ``benchmarks/study.py`` selects rows by
field (:func:`select`) and writes ``reports/study.md`` from them. ``benchmarks/results/transfer.json``, the
row the README quotes for real clips (the default recipe on the test actors), is not a run's file but that
row of the record in the transfer benchmark's layout (:func:`transfer_view`), written by ``--transfer ID``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

from fractalvid.atomic import write_text

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
RECORD = RESULTS / "record.jsonl"
TRANSFER = RESULTS / "transfer.json"   # generated from the record (transfer_view), not a source of rows
# the results files of benchmarks/transfer.py: the top level's, and the weizmann6 grids' per-draw files
SOURCES = ("transfer*.json", "weizmann6/grid-*.json")   # grid-N.json (a declaration) and summaries have no options
OPTION_KEYS = ("family", "control", "label_fraction", "holdout", "early_stop", "stream", "pretrained",
               "pretrain_from", "scratch_from", "seeds", "sets", "basketball_square")


def parse_changes(changes: list[str]) -> dict:
    """``["pretrain.stride=1", "pretrain.tint_fg=[0.6, 1.0]"]`` (``--set`` values) as ``{"pretrain.stride": 1,
    "pretrain.tint_fg": [0.6, 1.0]}``: each value read as params.yaml would read it."""
    out = {}
    for change in changes or []:
        key, _, value = change.partition("=")
        out[key.strip()] = yaml.safe_load(value)
    return out


def spelled(value) -> str:
    """A value as params.yaml spells it (true, [0.6, 1.0], naive)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def row(result: dict, path: Path, commit: str | None, converted_from: str | None = None) -> dict:
    """A results file of ``benchmarks/transfer.py`` as a row of the record."""
    options = result.get("options", {})
    pretrain = result.get("pretrain", {})
    path = Path(path).resolve()
    name = path.relative_to(RESULTS) if path.is_relative_to(RESULTS) else Path(path.name)
    out = {"id": name.with_suffix("").as_posix(), "commit": commit,
           "benchmark": "transfer", "complete": bool(result.get("complete")),
           "scored_on": result.get("scored_on"), "changes": parse_changes(options.get("changes")),
           "options": {k: options.get(k) for k in OPTION_KEYS},
           "pretrain": {"epochs": pretrain.get("epochs"), "minutes": result.get("pretrain_minutes"),
                        "clip_passes": result.get("pretrain_clip_passes"), "draws": result.get("pretrain_draws") or 1,
                        "pretext_top1": pretrain.get("train_top1")},
           "finetune_epochs": result.get("finetune_config", {}).get("epochs"),
           "datasets": result.get("summary", {}), "runs": result.get("runs", [])}
    out["scratch_changes"] = parse_changes(options.get("scratch_changes"))   # the scratch runs' own recipe
    if out["options"]["label_fraction"] is None:
        out["options"]["label_fraction"] = 1.0
    if converted_from:
        out["converted_from"] = converted_from
    return out


def read(path: Path = RECORD) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def write(rows: list[dict], path: Path = RECORD) -> None:
    write_text(path, "".join(json.dumps(r) + "\n" for r in rows))   # changes keep the order they were given in


def append(new: dict, path: Path = RECORD) -> None:
    """Add a row, replacing the row of the same id (a resumed or rerun benchmark)."""
    write([r for r in read(path) if r["id"] != new["id"]] + [new], path)


def added_in(path: Path) -> str | None:
    """The commit that added ``path`` to git, following renames (None if it is not committed)."""
    out = subprocess.run(["git", "log", "--follow", "--diff-filter=A", "--format=%H", "--", str(path)], cwd=ROOT,
                         capture_output=True, text=True).stdout.split()
    return out[-1] if out else None


def logged_commit(path: Path) -> str | None:
    """The commit ``test_reads.jsonl`` gives for the run that wrote ``path`` (a file moved since its line was
    logged is named in the line's ``moved_to``), in full; None if no line names it."""
    name = Path(path).resolve().relative_to(ROOT).as_posix()
    log = RESULTS / "test_reads.jsonl"
    for line in (log.read_text().splitlines() if log.exists() else []):
        read = json.loads(line)
        if name in (read.get("results"), read.get("moved_to")) and read.get("commit"):
            return subprocess.run(["git", "rev-parse", read["commit"]], cwd=ROOT, capture_output=True,
                                  text=True).stdout.strip() or read["commit"]
    return None


def transfer_view(r: dict) -> dict:
    """A row in the layout of a ``benchmarks/transfer.py`` results file (``summary`` per downstream set,
    ``pretrain_minutes``, ``pretrain_draws``, ``runs``), saying which row of the record it shows."""
    return {"generated_from": {"record": RECORD.relative_to(ROOT).as_posix(), "id": r["id"]},
            "benchmark": r["benchmark"], "commit": r["commit"], "complete": r["complete"],
            "scored_on": r["scored_on"], "changes": r["changes"], "options": r["options"],
            "pretrain_minutes": r["pretrain"]["minutes"], "pretrain_draws": r["pretrain"]["draws"],
            "pretrain_clip_passes": r["pretrain"]["clip_passes"], "pretext_top1": r["pretrain"]["pretext_top1"],
            "finetune_epochs": r["finetune_epochs"], "summary": r["datasets"], "runs": r["runs"]}


def write_transfer(row_id: str, rows: list[dict] | None = None, path: Path = TRANSFER) -> dict:
    """Write the row ``row_id`` of the record as ``path`` (KeyError naming the ids there are)."""
    rows = read() if rows is None else rows
    found = [r for r in rows if r["id"] == row_id]
    if not found:
        raise KeyError(f"id={row_id!r} is not a row of {RECORD.relative_to(ROOT)}: expected one of "
                       f"{sorted(r['id'] for r in rows)}")
    view = transfer_view(found[0])
    write_text(path, json.dumps(view, indent=1) + "\n")
    return view


def convert(path: Path = RECORD) -> list[dict]:
    """Rows for every results file of the transfer layout, each marked ``converted_from``; rows the runs
    appended themselves (without ``converted_from``) are kept as they are."""
    own = [r for r in read(path) if "converted_from" not in r]
    ids = {r["id"] for r in own}
    rows = []
    for pattern in SOURCES:
        for file in sorted(f for f in RESULTS.glob(pattern) if f != TRANSFER):
            result = json.loads(file.read_text())
            if "options" not in result or not result.get("summary"):   # the earlier benchmark layout
                continue
            commit = (result.get("machine", {}).get("commit") or logged_commit(file)   # the run's own, where kept
                      or added_in(file))
            r = row(result, file, commit, converted_from=file.relative_to(ROOT).as_posix())
            if r["id"] not in ids:
                rows.append(r)
    write(rows + own, path)
    return rows + own


def value(r: dict, key: str):
    """A row's value of ``key``: a change (``pretrain.stride``), an option (``family``, ``sets``), or a field
    (``scored_on``, ``pretrain.epochs`` when no change of that name exists)."""
    if key in r["changes"]:
        return r["changes"][key]
    if key in r["options"]:
        return r["options"][key]
    node = r
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def select(rows: list[dict], **wanted) -> list[dict]:
    """The rows whose :func:`value` of each key equals the one wanted (a list value: contains it);
    ``select(rows, scored_on="test", **{"pretrain.stride": 1})``."""
    def match(r, key, want):
        have = value(r, key)
        return want in have if isinstance(have, list) and not isinstance(want, list) else have == want
    return [r for r in rows if all(match(r, k, v) for k, v in wanted.items())]


def summarise_draws(rows: list[dict], grid: str, setting: dict, dataset: str = "weizmann6") -> dict:
    """One grid setting's runs, one per pre-training draw (``rows`` in draw order), as its summary: each
    initialisation's top-1 over every seed and the margin over the draw means
    (:func:`fractalvid.evaluation.stats.margin_over_draws`), with each draw's pre-training."""
    from fractalvid.evaluation.stats import margin_over_draws, mean_ci95

    scratch, fractal, draws, pretraining = {}, {}, {}, []
    for draw, r in enumerate(rows):
        e = r["datasets"][dataset]
        for s, a, b in zip(e["margin_top1"]["seeds"], e["scratch_top1"]["per_seed"], e["fractal_top1"]["per_seed"]):
            scratch[s], fractal[s], draws[s] = a, b, draw
        pretraining.append({"draw": draw, "minutes": r["pretrain"]["minutes"],
                            "clip_passes": r["pretrain"]["clip_passes"], "train_top1": r["pretrain"]["pretext_top1"]})
    return {"grid": grid, "setting": setting, "scored_on": rows[0]["scored_on"], "held_out_clips": e["test_clips"],
            "pretraining": pretraining, "scratch_top1": mean_ci95(list(scratch.values())),
            "fractal_top1": mean_ci95(list(fractal.values())), "margin_top1": margin_over_draws(scratch, fractal, draws),
            "files": [Path(r["id"]).name + ".json" for r in rows]}


def choose_per_init(rows: list[dict], key: str, grid: str, dataset: str = "weizmann6") -> dict:
    """Runs that differ in one setting ``key`` (e.g. the fine-tuning epochs), scored on held-out clips: each
    initialisation gets the value with its best mean top-1 over the seeds, chosen on its own (scratch gets the
    same choice as the pre-trained start), and the margin is the fractal run at its value minus the scratch
    run at its value, paired by seed, over the pre-training draws the fractal runs started from."""
    from fractalvid.evaluation.stats import margin_over_draws, mean_ci95

    not_held_out = {r["id"]: r["scored_on"] for r in rows if r["scored_on"] != "holdout"}
    if not_held_out:
        raise ValueError(f"rows {sorted(not_held_out)} were scored on {sorted(set(not_held_out.values()))}: a choice is made on"
                         " held-out clips only (scored_on: holdout)")
    top1 = {}   # (init, value) -> {seed: top-1}
    draws = {}
    for r in rows:
        v = value(r, key)
        for run in (x for x in r["runs"] if x["dataset"] == dataset):
            top1.setdefault((run["init"], v), {})[run["seed"]] = run["top1"]
            if run["draw"] is not None:
                draws[run["seed"]] = run["draw"]
    values = [value(r, key) for r in rows]
    seeds = set.intersection(*(set(runs) for runs in top1.values()))
    means = {k: statistics.fmean(runs[s] for s in seeds) for k, runs in top1.items()}
    chosen = {init: max(values, key=lambda v: (means[(init, v)], -values.index(v))) for init in ("scratch", "fractal")}
    scratch = {s: top1[("scratch", chosen["scratch"])][s] for s in seeds}
    fractal = {s: top1[("fractal", chosen["fractal"])][s] for s in seeds}
    return {"grid": grid, "key": key, "values": values, "scored_on": "holdout",
            "held_out_top1": {init: {str(v): means[(init, v)] for v in values} for init in ("scratch", "fractal")},
            "chosen": chosen, "scratch_top1": mean_ci95(list(scratch.values())),
            "fractal_top1": mean_ci95(list(fractal.values())),
            "margin_top1": margin_over_draws(scratch, fractal, {s: draws[s] for s in seeds}),
            "files": [r["id"] + ".json" for r in rows]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--convert", action="store_true", help="rebuild the converted rows from the results files")
    p.add_argument("--summarise", metavar="OUT", type=Path, default=None,
                   help="write the summary of the rows chosen (a grid setting's draws, in draw order) to OUT")
    p.add_argument("--per-init", nargs=2, metavar=("OUT", "KEY"), default=None,
                   help="write to OUT the setting KEY chosen for each initialisation on its own from --rows")
    p.add_argument("--rows", nargs="+", metavar="ID", default=[], help="the rows of --per-init, one per value")
    p.add_argument("--transfer", metavar="ID", default=None,
                   help=f"write the row ID as {TRANSFER.relative_to(ROOT)} (the README's rows on real clips)")
    p.add_argument("where", nargs="*", metavar="KEY=VALUE", help="list the rows with these values")
    a = p.parse_args(argv)
    rows = convert() if a.convert else read()
    if a.transfer:
        write_transfer(a.transfer, rows)
        print(f"{TRANSFER.relative_to(ROOT)}: the row {a.transfer} of {RECORD.relative_to(ROOT)}")
        return 0
    if a.per_init:
        by_id = {r["id"]: r for r in rows}
        missing = [i for i in a.rows if i not in by_id]
        if missing or not a.rows:
            raise SystemExit(f"--rows {missing or a.rows} are not rows of {RECORD.relative_to(ROOT)}: expected ids"
                             " of completed runs, e.g. weizmann6/grid-7_epochs-50")
        out = RESULTS / a.per_init[0]
        summary = choose_per_init([by_id[i] for i in a.rows], a.per_init[1], out.name.split("_")[0])
        write_text(out, json.dumps(summary, indent=1) + "\n")
        m = summary["margin_top1"]
        print(f"{out.relative_to(ROOT)}: chosen {summary['chosen']}, margin {100 * m['mean']:+.1f} "
              f"[{100 * m['ci95'][0]:+.1f}, {100 * m['ci95'][1]:+.1f}] over {len(m['draws'])} draws")
        return 0
    if a.summarise:   # e.g. --summarise weizmann6/grid-4_summary.json id=... : the setting is what they share
        chosen = sorted(select(rows, **parse_changes(a.where)), key=lambda r: r["changes"].get("pretrain.seed", 0))
        shared = {k: v for k, v in chosen[0]["changes"].items() if k != "pretrain.seed"
                  and all(r["changes"].get(k) == v for r in chosen)}
        out = a.summarise if a.summarise.is_absolute() else RESULTS / a.summarise
        summary = summarise_draws(chosen, out.name.split("_")[0], shared)
        write_text(out, json.dumps(summary, indent=1) + "\n")
        m = summary["margin_top1"]
        print(f"{out.relative_to(ROOT)}: margin {100 * m['mean']:+.1f} [{100 * m['ci95'][0]:+.1f}, "
              f"{100 * m['ci95'][1]:+.1f}] over {len(chosen)} draws")
        return 0
    chosen = select(rows, **parse_changes(a.where))
    for r in chosen:
        margins = {d: round(100 * e["margin_top1"]["mean"], 1) for d, e in r["datasets"].items() if "margin_top1" in e}
        print(f"{r['id']}  {r['scored_on']}  {r['commit'] and r['commit'][:8]}  {r['changes']}  {margins}")
    print(f"{len(chosen)} of {len(rows)} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
