"""What each fine-tuning run read, and from which commit: the log a reported number is checked against.

Every fine-tuning run writes ``reports/reads/NAME.json`` (:func:`log_read`): the set, the split it scored (a
test part or held-out training clips), the clips, the commit it ran at and whether the tree was clean. One
rule says what clean means (:func:`is_run_output`); :func:`reads_summary` applies the same rule again when an
experiment's reads are recorded, so a run is judged alike whenever it was logged. A read of a test part from a
tree that is not clean may not be reported.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ..atomic import write_json

# what a pipeline run may change and still count as made from its commit: the params (a DVC experiment's -S
# values; its ref pins them) and the pipeline's own outputs
RUN_OUTPUTS = ("params.yaml", "dvc.lock", "data/", "models/", "reports/", "dvc_plots/")


def is_run_output(path: str) -> bool:
    """Whether a changed ``path`` still leaves a run made from its commit: :data:`RUN_OUTPUTS`, and DVC's own
    ``.dvc`` files (DVC writes a stage hash into data.dvc when an experiment visits it)."""
    return str(path).startswith(RUN_OUTPUTS) or str(path).endswith(".dvc")


def provenance(root: str | os.PathLike = ".") -> dict:
    """The commit a run was made at and whether its tree was clean: ``{"commit", "clean", "changed"}``.

    Clean means every change against the commit is a run output (:func:`is_run_output`); ``changed`` lists
    the other changed paths (the first 20). Outside a git repository the commit is None and the run is not
    clean.
    """
    def git(*args):
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = (git("rev-parse", "HEAD") or "").strip() or None
    status = git("status", "--porcelain", "--untracked-files=all") or ""
    paths = [line[3:].split(" -> ")[-1].strip('"') for line in status.splitlines() if len(line) > 3]
    changed = [p for p in paths if not is_run_output(p)]
    return {"commit": commit, "clean": commit is not None and not changed, "changed": changed[:20]}


def log_read(path: str | os.PathLike, read: dict, root: str | os.PathLike = ".") -> dict:
    """Write what a run read (``read``: set, init, seed, split scored, clips) with the :func:`provenance` of
    the project at ``root`` to the JSON file ``path`` (a stopped run leaves no half file); return the record."""
    record = {**read, **provenance(root)}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_json(path, record)
    return record


def reads_summary(reads: list[dict], datasets) -> dict:
    """What a pipeline run's fine-tuning runs read: {"scored_on": {set: "test" | "holdout" | ...}, "commits":
    [the commits they ran at], "clean": every run from a clean tree (None when the runs logged nothing)}.
    A run logged as not clean is judged again from its changed paths by :func:`is_run_output`, so runs logged
    before DVC's ``.dvc`` files counted as run outputs are judged by today's rule."""
    reads = [r for r in reads if r.get("set") in datasets]
    return {"scored_on": {d: "/".join(sorted({str(r["scored_on"]) for r in reads if r["set"] == d})) or None
                          for d in sorted(datasets)},
            "commits": sorted({r.get("commit") or "?" for r in reads}),
            "clean": all(bool(r.get("clean")) or (bool(r.get("commit")) and all(is_run_output(p) for p in
                                                                                 r.get("changed") or ["?"]))
                         for r in reads) if reads else None}


# ------------------------------------------------------------ the ledger of test reads made outside the pipeline

# every read of a test part made by the retired benchmarks/transfer.py, one JSON line each (a historical record:
# never edited); each names its results file, whose summary holds the margin's per-draw means
LEDGER = "benchmarks/results/test_reads.jsonl"
LEDGER_BEGIN = "<!-- test-reads: written by `fractalvid ablations` from benchmarks/results/test_reads.jsonl; do not edit by hand -->"
LEDGER_END = "<!-- /test-reads -->"


def ledger_reads(root: str | os.PathLike = ".") -> list[dict]:
    """The ledger's reads, each with its results file's margin on the set it read (``margin``: mean, ci95,
    per_draw) and ``set``."""
    root = Path(root)
    reads = []
    for line in (root / LEDGER).read_text().splitlines():
        read = json.loads(line)
        results = json.loads((root / (read.get("moved_to") or read["results"])).read_text())
        for name in read["sets"]:
            reads.append({**read, "set": name, "margin": results["summary"][name]["margin_top1"]})
    return reads


def ledger_block(root: str | os.PathLike = ".") -> str:
    """docs/study.md's list of every test read the ledger holds, per set in the order made: the margin with its
    95 % interval over draws, the same corrected for the number of reads of that set (Bonferroni), the p-value
    of a margin of 0 and Holm's adjusted p-value (:func:`fractalvid.evaluation.stats.corrected_reads`)."""
    from .stats import corrected_reads   # here: only the ledger's table needs the t-distribution

    reads = ledger_reads(root)
    lines = [LEDGER_BEGIN, "", "| made | set | what was read | draws x seeds | margin, points [95 % CI] | "
             "Bonferroni 95 % CI | p | Holm p | clean tree |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    pct = lambda v: f"{100 * v:+.1f}"
    for name in dict.fromkeys(r["set"] for r in reads):
        mine = [r for r in reads if r["set"] == name]
        for r, c in zip(mine, corrected_reads([r["margin"]["per_draw"] for r in mine])):
            what = ", ".join(r["changes"]) or "the default recipe"
            if r.get("scratch_changes"):
                what += f" (scratch: {', '.join(r['scratch_changes'])})"
            lines.append(f"| {r['when'][:10]} | {name} | `{what}` | {r['pretrain_draws']} x "
                         f"{r['seeds'] // r['pretrain_draws']} | {pct(c['mean'])} [{pct(c['ci95'][0])}, "
                         f"{pct(c['ci95'][1])}] | [{pct(c['bonferroni_ci95'][0])}, {pct(c['bonferroni_ci95'][1])}] "
                         f"({len(mine)} read{'s' if len(mine) > 1 else ''}) | {c['p']:.3f} | {c['holm_p']:.3f} | {'no' if r.get('dirty') else 'yes'} |")
    return "\n".join(lines + ["", LEDGER_END])
