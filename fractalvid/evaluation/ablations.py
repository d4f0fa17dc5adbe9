"""The ablation record: DVC experiments -> ``reports/ablations.json`` and ``.md`` -> notebook 04's section.

Experiments live in git refs that a clone does not fetch, so their results are recorded in a committed
table: ``fractalvid ablations`` reads ``dvc exp show`` (names, states, params) and each finished
revision's metrics files (with git: ``dvc exp show`` leaves out list values such as a confidence
interval), turns each experiment into a row (what it changed against the commit it branched from, the
pretext task's top-1, minutes, the fine-tuning margin per set with its interval and seeds) and merges the
rows into the record, which notebook 04 draws.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ..atomic import write_json, write_text
from .budget import write_budget
from .reads import LEDGER_BEGIN, LEDGER_END, ledger_block, reads_summary


def _file_at(rev: str, path: str, cwd: str | Path) -> dict | None:
    """A JSON file as commit ``rev`` holds it (experiments are commits under refs/exps), or None."""
    try:
        out = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=cwd, capture_output=True, text=True, timeout=60)
        return json.loads(out.stdout) if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return None


def _reads_at(rev: str, cwd: str | Path) -> list[dict]:
    """The reads logs of commit ``rev``'s fine-tuning runs (``reports/reads/*.json``, written by notebook 03:
    set, init, seed, scored_on, clips, commit, clean), or [] for a revision made before runs logged them."""
    try:
        out = subprocess.run(["git", "ls-tree", "--name-only", rev, "reports/reads/"], cwd=cwd, capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    paths = [p for p in out.stdout.splitlines() if p.endswith(".json")] if out.returncode == 0 else []
    return [r for r in (_file_at(rev, p, cwd) for p in paths) if r]


def _seconds_at(rev: str, cwd: str | Path) -> dict:
    """Wall seconds of commit ``rev``'s executed notebooks (papermill's record in each, loading included):
    {"generate", "pretrain" (mean per draw), "finetune": {set: mean per run}, "other" (the rest, summed)}; {}
    where none is recorded. A stage DVC restored from its cache keeps the seconds of the run that made it."""
    try:
        out = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "reports/"], cwd=cwd, capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    seconds: dict[str, list[float]] = {}
    for path in (p for p in out.stdout.splitlines() if p.endswith(".ipynb")) if out.returncode == 0 else ():
        duration = ((_file_at(rev, path, cwd) or {}).get("metadata", {}).get("papermill") or {}).get("duration")
        if duration is None:
            continue
        stem = Path(path).stem
        kind = ("generate" if stem.startswith("01_generate") else "pretrain" if stem.startswith("02_pretrain")
                else f"finetune.{stem[3:].split('-')[0]}" if stem.startswith("03_") else "other")
        seconds.setdefault(kind, []).append(duration)
    if not seconds:
        return {}
    mean = lambda v: round(sum(v) / len(v), 1)
    return {"generate": mean(seconds.get("generate") or [0]), "pretrain": mean(seconds.get("pretrain") or [0]),
            "finetune": {k.split(".", 1)[1]: mean(v) for k, v in sorted(seconds.items()) if k.startswith("finetune.")},
            "other": round(sum(seconds.get("other") or [0]), 1)}


# what each generator version's clips were: numbers made before 0.2 came from maps that never sheared
GENERATORS = {"0.1": "0.1 (maps without shear)"}


def generator_at(rev: str, cwd: str | Path = ".") -> str:
    """The generator an experiment's clips came from: fractalvid's version at commit ``rev`` (short), or "?"."""
    version = None
    for path in ("fractalvid/version.py", "fractalvid/__init__.py"):   # its home before version.py existed
        try:
            out = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=cwd, capture_output=True, text=True,
                                 timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return "?"
        version = next((line.split("=", 1)[1].strip().strip('"') for line in out.stdout.splitlines()
                        if line.startswith("__version__")), None) if out.returncode == 0 else None
        if version:
            break
    if version is None:
        return "?"
    short = ".".join(version.split(".")[:2])
    return GENERATORS.get(short, short)


def experiments(cwd: str | Path = ".") -> list[dict]:
    """The DVC experiments of this repository (``dvc exp show --json`` for HEAD and for every commit that a
    finished experiment branches from, as ``dvc exp list --all-commits`` names them) and those commits.

    Returns [] when DVC or git has none (e.g. a fresh clone). Each item: {"name", "rev", "state" ("success",
    "queued", "running", "failed"; a commit's is "success"), "baseline": the commit's flat params, "params":
    flat dict, "metrics": flat dict keyed ``<metrics file stem>.<key>``}; the commits themselves come as
    items whose "baseline" is None and whose "experiments" counts those branching from them. Metrics are
    read from each revision's files with git, since ``dvc exp show`` leaves out list values such as a
    confidence interval.
    """
    try:
        # the commits that finished experiments branch from ("<rev>:" lines), not only HEAD, which `dvc exp
        # show` alone would look at: experiments usually branch from a commit before the one recording them
        listed = subprocess.run(["dvc", "exp", "list", "--all-commits"], cwd=cwd, capture_output=True, text=True,
                                timeout=300)
        bases = [line.strip()[:-1] for line in listed.stdout.splitlines() if line.strip().endswith(":")]
        revs = [arg for rev in ["HEAD", *bases] for arg in ("--rev", rev)]
        out = subprocess.run(["dvc", "exp", "show", "--json", *revs], cwd=cwd, capture_output=True, text=True,
                             timeout=300)
        data = json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else []
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return []

    def flat(d, prefix=""):
        items = {}
        for k, v in (d or {}).items():
            if isinstance(v, dict):
                items.update(flat(v, f"{prefix}{k}."))
            else:
                items[f"{prefix}{k}"] = v
        return items

    def entry(e, baseline, state):
        data_ = e.get("data") or {}
        rev = data_.get("rev") or e.get("rev")
        params = {k: v for f in (data_.get("params") or {}).values() for k, v in flat(f.get("data")).items()}
        metrics = {}
        for path, f in (data_.get("metrics") or {}).items():
            whole = _file_at(rev, path, cwd) if state == "success" else None
            name = Path(path).stem if Path(path).parent.name != "pretrain" else f"pretrain/{Path(path).stem}"
            metrics.update({f"{name}.{k}": v for k, v in flat(whole or f.get("data")).items()})
        name = e.get("name") or data_.get("name") or (rev or "")[:7]
        done = state == "success" and rev
        return {"name": name, "rev": rev, "state": state, "baseline": baseline, "params": params,
                "metrics": metrics, "reads": _reads_at(rev, cwd) if done else [],
                "seconds": _seconds_at(rev, cwd) if done else {}}

    found = []
    for commit in data:
        if commit.get("rev") == "workspace":
            continue
        base = entry(commit, None, "success")
        base["experiments"] = len(commit.get("experiments") or [])
        found.append(base)
        for exp in commit.get("experiments") or []:
            state = (exp.get("executor") or {}).get("state") or "success"   # no executor: finished, collected
            for revision in exp.get("revs") or []:
                found.append(entry(revision, base["params"], state))
    return found


def _pretrain(metrics: dict, key: str):
    """A pre-training metric: its mean over the draws (``reports/metrics/pretrain/SEED.json``), or the one
    network's value (``reports/metrics/pretrain.json``, before pre-training had draws); None if absent."""
    values = [v for k, v in metrics.items() if k.startswith("pretrain/") and k.split(".", 1)[1] == key]
    if values:
        return sum(values) / len(values)
    return metrics.get(f"pretrain.{key}")


# what a row records of its run's settings beyond what it changed: what a study selects its runs by
RECORDED = ("finetune.recipe.epochs", "finetune.recipe.warmup_epochs", "finetune.recipe.holdout",
            "finetune.recipe.val_split", "finetune.datasets", "finetune.seeds", "pretrain.seeds")


# params keys by their name now, for experiments made before: fractals became an ordinary family, their
# settings moved from generate.fractal to generate.options
RENAMED = (("generate.fractal.", "generate.options."),)


def current_name(key: str) -> str:
    """A params key as params.yaml names it now (:data:`RENAMED`)."""
    for old, new in RENAMED:
        if key.startswith(old):
            return new + key[len(old):]
    return key


def ablation_rows(exps: list[dict]) -> list[dict]:
    """One row per experiment that finished, for the committed ablation table (``fractalvid ablations``).

    Each row: its name, the params it changed against the commit it branched from (output paths left out),
    the pretext task's final train and validation top-1, the minutes of generation (clips x seconds per
    clip) and of pre-training (the sum of its epochs' training time), and per downstream set the
    fractal-minus-scratch margin (mean, 95 % CI, per seed), both initialisations' top-1, the test clips and
    the chance level, as ``reports/metrics/results.json`` has them. The commits the experiments branch from
    come as rows named "default @ <rev>" that change nothing.
    """
    rows = []
    for e in exps:
        if e["baseline"] is None and not e.get("experiments"):
            continue   # a commit no experiment branches from
        if e["state"] != "success":
            continue   # queued, running or failed
        m = e["metrics"]
        datasets = sorted({k.split(".")[1] for k in m if k.startswith("results.") and k.endswith(".margin_top1.mean")})
        if not datasets:
            continue   # no downstream results
        base = e["params"] if e["baseline"] is None else e["baseline"]
        changed = {current_name(k): v for k, v in e["params"].items() if base.get(k) != v and not k.endswith(".out")}
        minutes = _pretrain(m, "train_minutes")
        if minutes is None and "pretrain.epoch_s" in m:   # metrics written before train_minutes existed
            minutes = m["pretrain.epoch_s"] * m["pretrain.epochs"] / 60
        generate_min = m["generate.clips"] * m["generate.s_per_clip"] / 60 if "generate.clips" in m else None
        name = e["name"] if e["baseline"] is not None else f"default @ {(e['rev'] or '')[:7]}"
        row = {"name": name, "rev": e["rev"], "changed": changed,
               "pretext_train_top1": _pretrain(m, "train_top1"), "pretext_val_top1": _pretrain(m, "val_top1"),
               "generate_minutes": None if generate_min is None else round(generate_min, 2),
               "pretrain_minutes": None if minutes is None else round(minutes, 2), "datasets": {},
               "reads": reads_summary(e.get("reads") or [], datasets), "seconds": e.get("seconds") or {},
               "settings": {k: e["params"].get(k) for k in RECORDED if k in e["params"]}}
        for d in datasets:
            key = f"results.{d}."
            row["datasets"][d] = {
                "margin_top1": {"mean": m[key + "margin_top1.mean"], "ci95": m[key + "margin_top1.ci95"],
                                "per_seed": m[key + "margin_top1.per_seed"]},
                **{k: m.get(key + k) for k in ("scratch_top1", "fractal_top1", "test_clips", "chance")}}
        rows.append(row)
    return rows


def merge_ablations(old: list[dict], new: list[dict]) -> list[dict]:
    """The committed table updated with a new export: rows of the same name replaced, the others kept (an
    experiment removed with ``dvc exp remove`` stays on record), in the old order, then the new rows; a
    renamed key (:data:`RENAMED`) under its name now."""
    fresh = {r["name"]: r for r in new}
    old = [{**r, "changed": {current_name(k): v for k, v in r["changed"].items()}} for r in old]
    kept = [fresh.pop(r["name"], r) for r in old]
    return kept + [r for r in new if r["name"] in fresh]


ABLATIONS_INTRO = (
    "# Pipeline experiments (DVC)\n\nWritten by `fractalvid ablations` from `dvc exp show --json` and each "
    "experiment's committed files; `fractalvid ablations --offline` writes it again from `reports/ablations.json` "
    "alone. Each experiment reruns the pipeline with the settings shown changed against the commit it branched "
    "from (the `default @` rows); margins are fractal minus scratch top-1 in points, the mean over paired seeds "
    "with its 95 % Student-t interval, then scratch -> fractal top-1, the seeds where fractal wins and the clips "
    "scored (every clip once). Minutes are wall time on the machine that ran them (2 cores here): generation, "
    "then the pre-training's training steps.\n\n")
STUDY_BEGIN = "<!-- experiments: written by `fractalvid ablations` from reports/ablations.json; do not edit by hand -->"
STUDY_END = "<!-- /experiments -->"


def reads_table(rows: list[dict]) -> str:
    """Every pipeline experiment's reads: what each set was scored on, the commit the runs ran at, and whether
    its tree was clean (runs made before runs logged their reads say "not logged")."""
    lines = ["| experiment | scored on | commit | clean tree |", "| --- | --- | --- | --- |"]
    for r in rows:
        reads = r.get("reads") or {}
        scored = reads.get("scored_on") or {}
        where = ", ".join(f"{d}: {v}" for d, v in scored.items() if v) or "not logged"
        commits = ", ".join(c[:7] for c in reads.get("commits") or []) or (r.get("rev") or "?")[:7]
        clean = {True: "yes", False: "**no: not reportable**", None: "not logged"}[reads.get("clean")]
        lines.append(f"| {r['name']} | {where} | {commits} | {clean} |")
    return "\n".join(lines)


def ablations_markdown(rows: list[dict]) -> str:
    """``reports/ablations.md``: the results table, then every experiment's reads."""
    return (ABLATIONS_INTRO + format_ablations(rows) + "\n\n## What each experiment read\n\nA run that scores a "
            "test part logs it (`reports/reads/`, notebook 03) with its commit and whether the tree was clean "
            "(no change outside params.yaml and the pipeline's outputs); only clean runs may be reported.\n\n"
            + reads_table(rows) + "\n")


def study_block(rows: list[dict]) -> str:
    """The block of docs/study.md that lists the pipeline's experiments (from the committed record)."""
    return "\n".join([STUDY_BEGIN, "", format_ablations(rows), "", reads_table(rows), "", STUDY_END])


def write_study_block(rows: list[dict], path: str | Path = "docs/study.md") -> None:
    path = Path(path)
    text = path.read_text()
    if STUDY_BEGIN not in text or STUDY_END not in text:
        raise ValueError(f"{path} has no experiments block: expected the lines {STUDY_BEGIN!r} ... {STUDY_END!r}")
    head, rest = text.split(STUDY_BEGIN, 1)
    text = head + study_block(rows) + rest.split(STUDY_END, 1)[1]
    if LEDGER_BEGIN in text and LEDGER_END in text:   # every test read made outside the pipeline, corrected
        head, rest = text.split(LEDGER_BEGIN, 1)
        text = head + ledger_block(path.parent.parent) + rest.split(LEDGER_END, 1)[1]
    write_text(path, text)


def record_ablations(out: str | Path = "reports/ablations", exps: list[dict] | None = None, offline: bool = False,
                     study: str | Path | None = None, budget: str | Path | None = None) -> list[dict]:
    """Merge the finished experiments (``dvc exp show``, or ``exps``) into ``out``.json, write ``out``.md and the
    experiments block of ``study`` (docs/study.md, for ``fractalvid ablations``) and the budget study's results in
    ``budget`` (docs/budget.md, :mod:`.budget`); ``offline``: no DVC, both written again from the committed ``out``.json.

    Raises ValueError, before writing anything, when no experiment has results. Each file is written to a
    temporary name and renamed, so an interrupted export leaves the old record whole.
    """
    out = Path(out)
    path = out.with_suffix(".json")
    old = json.loads(path.read_text()) if path.exists() else []
    if offline:
        rows = old
    else:
        new = ablation_rows(experiments() if exps is None else exps)
        if not any(r["changed"] for r in new):
            raise ValueError("no finished DVC experiment to record (`dvc exp show` lists none with results): run "
                             "the README's ablation recipes first; the committed table is left as it is")
        for row in new:
            row.setdefault("generator", generator_at(row["rev"]))
        rows = merge_ablations(old, new)
        write_json(path, rows)
    write_text(out.with_suffix(".md"), ablations_markdown(rows))
    if study is not None:
        write_study_block(rows, study)
    if budget is not None:
        write_budget(rows, budget)
    return rows


def _changes(row: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(row["changed"].items())) or "none (the default)"


def report_sections(rows: list[dict]) -> dict[str, list[dict]]:
    """The record's rows as a report shows them: "current" (scored on test parts, made with today's generator),
    "budget" (the budget study's held-out runs, :func:`fractalvid.evaluation.budget.budget_points` draws them)
    and "archive" (made with an older generator: kept as made, not comparable with today's numbers)."""
    from .budget import STUDY   # what marks the study's runs

    def of_study(r):
        settings = r.get("settings") or {}
        return all(settings.get(k) == v for k, v in STUDY.items())

    old = [r for r in rows if r.get("generator") in GENERATORS.values()]
    return {"current": [r for r in rows if r not in old and not of_study(r)],
            "budget": [r for r in rows if r not in old and of_study(r)], "archive": old}


def format_ablations(rows: list[dict]) -> str:
    """A markdown table of ablation rows: changes, pretext top-1, minutes, margin per set with its CI."""
    datasets = sorted({d for r in rows for d in r["datasets"]})
    head = ["experiment", "generator", "changed", "pretext train / val top-1", "generate + pre-train (min)"] + \
        [f"{d}: fractal - scratch (points)" for d in datasets]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def pct(v):
        return "-" if v is None else f"{100 * v:.0f} %"

    for r in rows:
        cells = [r["name"], r.get("generator", "?"), f"`{_changes(r)}`", f"{pct(r['pretext_train_top1'])} / {pct(r['pretext_val_top1'])}",
                 "-" if r["pretrain_minutes"] is None else
                 f"{r['generate_minutes'] or 0:.1f} + {r['pretrain_minutes']:.1f}"]
        for d in datasets:
            e = r["datasets"].get(d)
            if e is None:
                cells.append("-")
                continue
            m = e["margin_top1"]
            wins = sum(v > 0 for v in m["per_seed"])
            cells.append(f"{100 * m['mean']:+.1f} [{100 * m['ci95'][0]:+.1f}, {100 * m['ci95'][1]:+.1f}] "
                         f"({100 * e['scratch_top1']:.0f} -> {100 * e['fractal_top1']:.0f} %, "
                         f"{wins}/{len(m['per_seed'])} seeds, {e['test_clips']} clips)")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_ablations(ax, rows: list[dict], dataset: str) -> None:
    """Each experiment's margin on ``dataset``: the mean with its 95 % CI and every seed's margin as a dot."""
    rows = [r for r in rows if dataset in r["datasets"]]
    # the default (what the experiments change) on top, then the experiments from the largest margin down
    rows = sorted(rows, key=lambda r: (bool(r["changed"]), -r["datasets"][dataset]["margin_top1"]["mean"]))
    for y, r in enumerate(rows):
        e = r["datasets"][dataset]
        m = e["margin_top1"]
        lo, hi = (100 * v for v in m["ci95"])
        ax.errorbar(100 * m["mean"], y, xerr=[[100 * m["mean"] - lo], [hi - 100 * m["mean"]]], fmt="o",
                    color="C1" if r["changed"] else "k", capsize=3)
        ax.scatter([100 * v for v in m["per_seed"]], [y + 0.2] * len(m["per_seed"]), s=10, color="C0", alpha=0.6,
                   label="one seed" if y == 0 else None)
    ax.axvline(0, color="k", lw=0.8, ls=":")
    ax.set_yticks(range(len(rows)), [r["name"] if r["changed"] else "default (what they change)" for r in rows])
    ax.invert_yaxis()
    clips = sorted({r["datasets"][dataset]["test_clips"] for r in rows})
    chance = sorted({r["datasets"][dataset]["chance"] for r in rows})
    ax.set_xlabel(f"{dataset}: fractal - scratch top-1 (points); mean, 95 % CI, seeds; "
                  f"{'/'.join(map(str, clips))} test clips, chance {'/'.join(f'{100 * c:.0f}' for c in chance)} %")
