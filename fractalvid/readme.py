"""The README's result table, written from the committed metrics, so that each number has one source.

    python -m fractalvid.readme          # rewrite the table in README.md (make readme)
    python -m fractalvid.readme --check  # exit 1 if README.md's table is not what the metrics give

The table sits between two marker lines in README.md. Its rows: the pipeline's own result on each
downstream set (``reports/metrics/results.json``, what ``make repro`` writes), then the transfer
benchmark's rows on real clips (``benchmarks/results/transfer.json``). Values are stored unrounded and
rounded here, once, for display.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BEGIN = "<!-- results: written by `make readme` from the metrics files named below; do not edit by hand -->"
END = "<!-- /results -->"
RESULTS = "reports/metrics/results.json"
TRANSFER = "benchmarks/results/transfer.json"
REAL = {"weizmann6": "weizmann6, real: 6 Weizmann actions, 9 actors",
        "basketball5": "basketball5, real: 5 basketball actions"}
BUILT_IN = {"actions": "built-in actions (a rendered stand-in)"}


def _points(x: float) -> str:
    return f"{100 * x:+.1f}"


def _row(name: str, entry: dict, scratch: float, fractal: float, runs: str) -> str:
    m = entry["margin_top1"]
    over = m.get("over", "fine-tuning seeds")
    wins = sum(d > 0 for d in m["per_seed"])
    return (f"| {name} | {entry['test_clips']} | {100 * entry['chance']:.1f} % | {100 * scratch:.1f} % | "
            f"{100 * fractal:.1f} % | **{_points(m['mean'])}** [{_points(m['ci95'][0])}, {_points(m['ci95'][1])}] | "
            f"{over} | {runs}, better in {wins} |")


def results_block(results: dict, transfer: dict | None) -> str:
    """The Markdown table between the markers: one row per downstream set with a margin."""
    lines = [BEGIN, "",
             "| downstream set | test clips | chance | scratch top-1 | fractal top-1 | fractal minus scratch, "
             "points [95 % CI] | CI over | runs |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    draws = results.get("pretrain_draws") or 1
    for dataset, e in results.items():
        if isinstance(e, dict) and "margin_top1" in e:
            seeds = len(e["margin_top1"]["per_seed"])
            lines.append(_row(BUILT_IN.get(dataset, dataset), e, e["scratch_top1"], e["fractal_top1"],
                              f"{draws} draws x {seeds // draws} seed" + ("s" if seeds // draws > 1 else "")))
    sources = [f"`{RESULTS}` (`make repro`)"]
    if transfer:
        t_draws = transfer.get("pretrain_draws") or 1
        for dataset, e in transfer.get("summary", {}).items():
            if dataset in REAL and "margin_top1" in e:
                seeds = len(e["margin_top1"]["per_seed"])
                lines.append(_row(REAL[dataset], e, e["scratch_top1"]["mean"], e["fractal_top1"]["mean"],
                                  f"{t_draws} draws x {seeds // t_draws} seeds"))
        sources.append(f"`{TRANSFER}` (`benchmarks/transfer.py`, the same networks and recipe)")
    lines += ["", "Rows from " + " and ".join(sources) + ".", END]
    return "\n".join(lines)


def _load(root: Path, name: str) -> dict | None:
    path = root / name
    return json.loads(path.read_text()) if path.exists() else None


def expected_readme(root: Path) -> tuple[str, str]:
    """(README.md as it is, README.md with the table the metrics give)."""
    text = (root / "README.md").read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"README.md has no result table: expected the line {BEGIN!r}, later {END!r}")
    results = _load(root, RESULTS)
    if results is None:
        raise FileNotFoundError(f"{RESULTS} is missing: run `make repro` first")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return text, head + results_block(results, _load(root, TRANSFER)) + tail


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when they differ")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    now, wanted = expected_readme(args.root)
    if args.check:
        if now != wanted:
            print("README.md's result table differs from the metrics: run `make readme`", file=sys.stderr)
            return 1
        return 0
    if now != wanted:
        tmp = args.root / "README.md.tmp"
        tmp.write_text(wanted)
        tmp.replace(args.root / "README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
