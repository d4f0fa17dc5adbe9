"""The statistics of a comparison of two initialisations: paired seeds, pre-training draws, 95 % intervals.

A few points of top-1 on a downstream set of a few hundred clips are within the noise of one seed, so:

- **Paired seeds.** The same seeds, hence the same subsets, data order and augmentation, for both
  initialisations; the margin of a seed is its fractal accuracy minus its scratch accuracy, pooled over
  the folds; :func:`paired_margin` reports their mean with a 95 % Student-t interval.
- **Pre-training draws.** One pre-trained network is one draw of its recipe's luck (another pre-training
  seed trained the default to a margin half as large), so a claim about the recipe needs several: fine-tuning
  seed ``s`` starts from draw :func:`pretraining_draw` ``(s, draws)``, and :func:`margin_over_draws` averages
  the seeds of each draw and puts the interval over the draw means.
"""
from __future__ import annotations

import math
import statistics

from ..checks import check

# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal's 1.96 is within 2 %)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: int) -> float:
    """The two-sided 95 % quantile of Student's t with ``df`` degrees of freedom."""
    check(isinstance(df, int) and df >= 1, "df", df, "an integer >= 1")
    return T975[df - 1] if df <= len(T975) else 1.96


def mean_ci95(values) -> dict:
    """{"mean", "ci95": [lo, hi], "n"}: the mean and its 95 % Student-t interval (a zero-width one for n = 1)."""
    values = [float(v) for v in values]
    check(len(values) >= 1, "values", values, "at least one number")
    mean = statistics.fmean(values)
    half = t975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return {"mean": mean, "ci95": [mean - half, mean + half], "n": len(values)}


def pooled_accuracy(correct_by_fold, total_by_fold) -> float:
    """Accuracy over every test clip of every fold (each clip is tested once)."""
    total = sum(total_by_fold)
    return sum(correct_by_fold) / total if total else 0.0


def paired_margin(baseline: dict, treated: dict) -> dict:
    """Margin of ``treated`` over ``baseline``, both {seed: accuracy}, paired by seed.

    Returns {"mean", "ci95", "n", "per_seed": [treated - baseline per seed, in seed order], "seeds",
    "wins": seeds where treated is better}. Raises when the two do not have the same seeds.
    """
    check(set(baseline) == set(treated) and len(baseline) >= 1, "seeds", (sorted(baseline), sorted(treated)),
          "the same, non-empty, set of seeds for both initialisations (paired)")
    seeds = sorted(baseline)
    diffs = [treated[s] - baseline[s] for s in seeds]
    return {**mean_ci95(diffs), "per_seed": diffs, "seeds": seeds, "wins": sum(d > 0 for d in diffs)}


def pretraining_draw(seed: int, draws) -> int:
    """The pre-training draw (a pre-training seed, one of ``draws``) that fine-tuning seed ``seed`` starts
    from: ``draws[seed % len(draws)]``. With draws [0, 1, 2] and seeds [0, 1, 2] every seed has a network of
    its own; with one draw every seed shares it. It depends on the seed alone, so adding a seed changes no
    other seed's draw."""
    draws = list(draws)
    check(len(draws) >= 1 and all(isinstance(d, int) and not isinstance(d, bool) for d in draws), "draws",
          draws, "a non-empty list of integer pre-training seeds")
    check(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0, "seed", seed, "an integer >= 0")
    return draws[seed % len(draws)]


def margin_over_draws(baseline: dict, treated: dict, draws: dict | None = None) -> dict:
    """:func:`paired_margin`, with its interval over pre-training draws: ``draws`` maps each seed to the draw
    its ``treated`` run started from (None: no pre-training, e.g. a Kinetics start).

    The seeds of each draw are averaged first; with two draws or more, ``mean`` and ``ci95`` are the mean and
    Student-t interval of those draw means, which covers the pre-training's luck as well as the fine-tuning's
    (``over``: "pre-training draws"). With one draw the interval is over seeds, which covers the
    fine-tuning's luck only (``over``: "fine-tuning seeds"). Adds ``draws`` (the draws, sorted) and
    ``per_draw`` (their means); ``per_seed``, ``seeds``, ``wins`` and ``n`` stay per seed."""
    m = paired_margin(baseline, treated)
    if draws is None:
        return {**m, "draws": [], "per_draw": [], "over": "fine-tuning seeds"}
    check(set(m["seeds"]) <= set(draws), "draws", draws, f"a draw for every seed of {m['seeds']}")
    by_draw: dict = {}
    for seed, diff in zip(m["seeds"], m["per_seed"]):
        by_draw.setdefault(draws[seed], []).append(diff)
    keys = sorted(by_draw)
    per_draw = [statistics.fmean(by_draw[k]) for k in keys]
    out = {**m, "draws": keys, "per_draw": per_draw, "over": "fine-tuning seeds"}
    if len(keys) >= 2:
        over = mean_ci95(per_draw)
        out.update(mean=over["mean"], ci95=over["ci95"], over="pre-training draws")
    return out


# ------------------------------------------------------------ several reads of the same test part

def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (Lentz's method)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def t_sf2(t: float, df: int) -> float:
    """The two-sided tail probability of Student's t with ``df`` degrees of freedom: P(|T| >= |t|)."""
    check(isinstance(df, int) and df >= 1, "df", df, "an integer >= 1")
    x = df / (df + t * t)
    a, b = df / 2, 0.5
    if x <= 0.0 or x >= 1.0:   # an infinite or a zero statistic
        return 0.0 if x <= 0.0 else 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    # I_x(a, b), by the continued fraction where it converges fast, else by symmetry
    return front * _betacf(a, b, x) / a if x < (a + 1) / (a + b + 2) else 1.0 - front * _betacf(b, a, 1 - x) / b


def t_quantile(p: float, df: int) -> float:
    """The two-sided quantile of Student's t: the q with P(|T| >= q) = 1 - p (p = 0.95 gives t975(df))."""
    check(0.0 < p < 1.0, "p", p, "a probability between 0 and 1")
    lo, hi = 0.0, 1.0
    while t_sf2(hi, df) > 1 - p:
        hi *= 2
    for _ in range(200):   # bisection: t_sf2 falls as q grows
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_sf2(mid, df) > 1 - p else (lo, mid)
    return (lo + hi) / 2


def corrected_reads(per_draw: list[list[float]]) -> list[dict]:
    """``k`` reads of the same test part, each given by its per-draw margins: for each, the mean, its 95 %
    t-interval, the Bonferroni interval (each at 1 - 0.05 / k, so that all k hold together with 95 %), the
    two-sided p-value of a margin of 0 and Holm's adjusted p-value (step-down over the k reads)."""
    k = len(per_draw)
    out = []
    for values in per_draw:
        check(len(values) >= 2, "per_draw", values, "at least two draw means per read")
        n, mean = len(values), statistics.fmean(values)
        se = statistics.stdev(values) / math.sqrt(n)
        half, bonferroni = t_quantile(0.95, n - 1) * se, t_quantile(1 - 0.05 / k, n - 1) * se
        p = t_sf2(mean / se, n - 1) if se > 0 else (0.0 if mean else 1.0)
        out.append({"mean": mean, "ci95": [mean - half, mean + half], "n": n, "p": p,
                    "bonferroni_ci95": [mean - bonferroni, mean + bonferroni]})
    order = sorted(range(k), key=lambda i: out[i]["p"])
    running = 0.0
    for rank, i in enumerate(order):   # Holm: the r-th smallest p times (k - r), kept monotone, at most 1
        running = max(running, min(1.0, (k - rank) * out[i]["p"]))
        out[i]["holm_p"] = running
    return out
