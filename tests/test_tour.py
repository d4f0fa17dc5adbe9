"""The tour's step-by-step pieces: one walker, the sigma factor's pictures, the renderer's stages."""
import numpy as np
import pytest

from fractalvid import FractalConfig
from fractalvid.clips.ifs import ClipParams
from fractalvid.clips.render import render_clip
from fractalvid.tour import maps_with_alpha, render_stages, walk

SIERPINSKI = np.array([[0.5, 0, -0.5, 0, 0.5, -0.5], [0.5, 0, 0.5, 0, 0.5, -0.5], [0.5, 0, 0.0, 0, 0.5, 0.5]])


def test_one_walker_lands_on_the_sierpinski_triangle_and_picks_maps_by_det():
    points, chosen = walk(SIERPINSKI, steps=3000, rng=np.random.default_rng(0), start=(3.0, -2.0))
    assert points.shape == (3001, 2) and chosen.shape == (3000,)
    # each step halves the distance to the triangle (vertices (-1, -1), (1, -1), (0, 1)): after 20 it is inside
    x, y = points[20:, 0], points[20:, 1]
    assert np.all(y >= -1 - 1e-6) and np.all(np.abs(x) <= (1 - y) / 2 + 1e-6)
    assert np.linalg.norm(points[0] - points[1:5], axis=1).min() > 0.5  # it did start far outside
    # equal |det|: each map about a third of the steps
    assert np.allclose(np.bincount(chosen, minlength=3) / 3000, 1 / 3, atol=0.03)
    # a map that is applied moves the point as its coefficients say
    a, b, c, d, e, f = SIERPINSKI[chosen[100]]
    x0, y0 = points[100]
    assert np.allclose(points[101], (a * x0 + b * y0 + c, d * x0 + e * y0 + f))


def test_walker_chooses_maps_in_proportion_to_det():
    coef = SIERPINSKI.copy()
    coef[0, [0, 4]] = 0.25  # |det| 1/16 against 1/4 and 1/4
    _, chosen = walk(coef, steps=20000, rng=np.random.default_rng(1))
    assert np.allclose(np.bincount(chosen, minlength=3) / 20000, np.array([1, 4, 4]) / 9, atol=0.01)


def test_alpha_sets_the_sum_of_singular_values_and_how_much_is_lit():
    cfg = FractalConfig(res=64, steps=1500)
    lit = []
    for alpha in (2.0, 4.5, 9.0):
        coef = maps_with_alpha(np.random.default_rng(3), n_maps=4, alpha=alpha)
        assert coef.shape == (1, 4, 6)
        w = coef[0][:, [0, 1, 3, 4]].reshape(4, 2, 2)
        s = np.linalg.svd(w, compute_uv=False)
        assert (s[:, 0] + 2 * s[:, 1]).sum() == pytest.approx(alpha)
        lit.append(render_clip(ClipParams(coef, np.zeros(1, int)), cfg, np.random.default_rng(0)).coverage[0])
    assert lit[0] < lit[1] < lit[2]  # dust, a fractal, a blob
    with pytest.raises(ValueError, match=r"alpha=12 is not accepted: expected a number in \(0, 3 K = 12\)"):
        maps_with_alpha(np.random.default_rng(0), n_maps=4, alpha=12)


def test_render_stages_show_framing_splat_and_tone_map_each_doing_its_part():
    cfg = FractalConfig(res=64, steps=1500)
    stages = render_stages(maps_with_alpha(np.random.default_rng(5), n_maps=3, alpha=4.25), cfg,
                           np.random.default_rng(0))
    assert list(stages) == ["fixed window, linear", "framed, linear", "framed, 3x3 splat, linear",
                            "framed, 3x3 splat, log tone map"]
    images = [s["image"] for s in stages.values()]
    assert all(im.shape == (64, 64) and im.dtype == np.uint8 and im.max() == 255 for im in images)
    fixed, framed, linear, log = stages.values()
    assert fixed["hit"] < framed["hit"] < linear["hit"]        # framing fills the frame, the splat spreads points
    assert (log["image"] > 0).mean() == log["hit"]             # the log tone map shows every hit pixel, and no other
    assert (linear["image"] > 0).mean() < linear["hit"]        # a linear scale rounds faint ones to black
    assert linear["bright"] < log["bright"] / 2                # and leaves only the densest pixels bright
    # the last stage is what the generator writes for these maps and walkers
    r = render_clip(ClipParams(maps_with_alpha(np.random.default_rng(5), n_maps=3, alpha=4.25), np.zeros(1, int)),
                    cfg, np.random.default_rng(0))
    assert np.array_equal(r.frames[0], log["image"])
    with pytest.raises(ValueError, match=r"coef shape=\(2, 3, 6\) is not accepted"):
        render_stages(np.zeros((2, 3, 6)), cfg, np.random.default_rng(0))


def test_the_decomposition_steps_build_the_map_the_generator_composes():
    from fractalvid.clips.ifs import compose
    from fractalvid.tour import decomposition_steps

    steps = list(decomposition_steps(theta=0.6, phi=0.9, sigma=(0.8, 0.35)).values())
    assert np.allclose(np.linalg.svd(steps[0], compute_uv=False), 1)            # a rotation: no scaling yet
    assert np.allclose(np.linalg.svd(steps[1], compute_uv=False), (0.8, 0.35))  # scaled along two axes
    assert np.allclose(steps[2], compose(np.array([0.6]), np.array([0.9]), np.array([[0.8, 0.35]]),
                                         np.ones((1, 2)), np.ones((1, 2)))[0])
    assert not np.allclose(steps[2], steps[1])                                  # and turned again
    corner = np.degrees(np.arccos(steps[1][:, 0] @ steps[1][:, 1] / np.linalg.norm(steps[1], axis=0).prod()))
    assert abs(corner - 90) > 10                         # the scaled square is a sheared parallelogram
    gram = steps[2].T @ steps[2]
    assert abs(gram[0, 1]) > 0.05 * np.trace(gram)       # and W shears: W^T W is not diagonal


def test_the_collapsing_draw_is_one_where_naive_blending_shrinks_the_maps():
    from fractalvid.clips.ifs import abs_det, interpolate
    from fractalvid.tour import collapsing_draw

    keys, ratio = collapsing_draw(seed=0, n_maps=4, tries=50)
    lam = np.linspace(0, 1, 19)[:, None].repeat(4, 1)
    naive, decomposed = (abs_det(interpolate(keys, lam, m)).sum(1) for m in ("naive", "decomposed"))
    assert ratio == pytest.approx((naive / decomposed).min()) and ratio < 0.3   # a visible collapse mid-clip
    assert naive[0] == pytest.approx(decomposed[0]) and naive[-1] == pytest.approx(decomposed[-1])   # same keys
    assert collapsing_draw(seed=0, n_maps=4, tries=1)[1] >= ratio                # the best of the tries


def test_the_distance_to_the_attractor_is_to_its_points_and_each_map_halves_it():
    from fractalvid.tour import SIERPINSKI, attractor_points, distance_to_attractor

    assert attractor_points(SIERPINSKI, depth=2).shape == (9, 2)
    assert distance_to_attractor((-1.0, -1.0), SIERPINSKI) == pytest.approx(0, abs=1e-9)   # a corner
    assert distance_to_attractor((0.0, -3.0), SIERPINSKI) == pytest.approx(2.0, abs=1e-3)  # below the base's middle
    # the centre of the big hole is inside the filled triangle, yet far from the attractor
    assert distance_to_attractor((0.0, -1 / 3), SIERPINSKI) > 0.2
    rng = np.random.default_rng(0)
    for p in rng.uniform(-2, 2, (20, 2)):
        d = distance_to_attractor(p, SIERPINSKI)
        for row in SIERPINSKI:   # each map halves the distance (within the approximation's resolution)
            image = (row[0] * p[0] + row[1] * p[1] + row[2], row[3] * p[0] + row[4] * p[1] + row[5])
            assert distance_to_attractor(image, SIERPINSKI) <= d / 2 + 2e-3


# ------------------------------------------------------------------ the widgets' functions

def pixels(fig) -> np.ndarray:
    import matplotlib.pyplot as plt

    fig.canvas.draw()
    out = np.asarray(fig.canvas.buffer_rgba()).copy()
    plt.close(fig)
    return out


@pytest.mark.parametrize("figure, one, other", [
    ("density_figure", dict(steps=3), dict(steps=200)),
    ("attractor_figure", dict(alpha=2.0), dict(alpha=8.5)),
    ("attractor_figure", dict(n_maps=3), dict(n_maps=5)),
    ("interpolation_figure", dict(motion="decomposed"), dict(motion="naive")),
    ("motion_figure", dict(curve="linear"), dict(curve="periodic")),
    ("motion_figure", dict(frame=0), dict(frame=12)),
])
def test_each_widget_function_draws_another_figure_at_another_value(figure, one, other):
    from fractalvid import tour

    draw = getattr(tour, figure)
    first, again, second = pixels(draw(**one)), pixels(draw(**one)), pixels(draw(**other))
    assert np.array_equal(first, again)                      # a value gives one figure
    assert first.shape == second.shape and not np.array_equal(first, second)


def test_what_the_widgets_show_is_what_the_tour_says():
    from fractalvid import tour

    lit = [(tour.density(n, res=64) > 0).mean() for n in (3, 20, 400)]
    assert lit[0] < lit[1] < lit[2]                          # more steps fill in the triangle
    assert tour.density(5, res=64, walkers=16).sum() == 5 * 16   # every point of every walker is counted
    coverage = [tour.attractor(a, 3, res=64).coverage[0] for a in (2.0, 4.5, 8.5)]
    assert coverage[0] < coverage[1] < coverage[2]           # dust, a fractal, a blob
    lam, frames = tour.motion_clip("sharp", n_frames=18)
    assert lam.shape == (18, 3) and frames.shape[0] == 18
    assert (lam[0] == 0).all() and (lam[-1] == 1).all()
    with pytest.raises(ValueError, match="curve='wobbly'"):
        tour.motion_clip("wobbly")
    with pytest.raises(ValueError, match="frame=18"):
        tour.motion_figure(frame=18)


def test_live_shows_a_still_figure_without_a_kernel_and_redraws_with_one(tmp_path, monkeypatch):
    import ipywidgets

    from fractalvid import tour

    calls, shown = [], []
    monkeypatch.setattr(tour, "display", shown.append)

    def figure(steps):
        calls.append(steps)
        return tour.density_figure(steps=steps, res=32)

    controls = {"steps": ipywidgets.IntSlider(7, min=1, max=50)}
    tour.live(figure, controls, interactive=False, save_as=tmp_path / "still.png")
    assert calls == [7] and (tmp_path / "still.png").read_bytes()[:4] == b"\x89PNG"
    assert len(shown) == 1 and type(shown[0]).__name__ == "Figure"   # a still figure, no widget
    tour.live(figure, controls, interactive=True)
    box = shown[-1]
    assert isinstance(box, ipywidgets.VBox) and controls["steps"] in box.children[0].children
    controls["steps"].value = 30                             # moving the slider draws the figure again
    assert calls[-1] == 30 and calls.count(7) >= 2


def test_a_walk_can_be_given_its_maps_probabilities_and_the_attractor_stays():
    """Exercise 2 of the tour: 80 % of the steps to one map changes how the triangle fills, not the set."""
    from fractalvid.tour import SIERPINSKI, distance_to_attractor, walk

    points, chosen = walk(SIERPINSKI, 3000, np.random.default_rng(0), probabilities=(0.8, 0.1, 0.1))
    assert 0.77 < np.mean(chosen == 0) < 0.83
    assert max(distance_to_attractor(p, SIERPINSKI, depth=9) for p in points[20::100]) < 0.01
    with pytest.raises(ValueError, match="probabilities"):
        walk(SIERPINSKI, 10, np.random.default_rng(0), probabilities=(1.0, 0.0))


# ------------------------------------------------------------------ classes, what goes wrong, what was measured

def test_an_instance_is_its_class_times_a_curve_plus_an_offset_as_the_generator_perturbs():
    from fractalvid.clips.ifs import perturb
    from fractalvid.tour import class_and_instances, perturbation

    cfg = FractalConfig(res=48, steps=600)
    family = class_and_instances(cfg, seed=3, instances=2)
    assert list(family) == ["class", "instance 1", "instance 2"]
    base = family["class"][0]
    for name, (params, frames, scale, offset) in family.items():
        assert frames.shape == (base.n_frames, 48, 48)
        assert scale.shape == (base.n_frames, 6) and offset.shape == base.coef.shape[1:]
        assert np.allclose(params.coef, base.coef * scale[:, None, :] + offset)
    _, _, scale, offset = family["instance 1"]
    assert np.abs(offset).max() <= cfg.perturb_offset and 0.4 < scale.min() and scale.max() < 1.6
    assert not np.allclose(scale, 1) and np.abs(offset).max() > 0.01          # a real perturbation
    # the instance is ifs.perturb's own, for the same draws
    inst, _, _ = perturbation(base, cfg, seed=[3, 1, 0])
    assert np.array_equal(inst.coef, perturb(np.random.default_rng([3, 1, 0]), base, cfg).coef)


def test_what_goes_wrong_counts_every_draw_and_finds_the_clip_that_shrinks_most():
    from fractalvid.tour import what_goes_wrong

    cfg = FractalConfig(res=32, steps=400)
    wrong = what_goes_wrong(cfg, seed=0, draws=40)
    assert sum(wrong["counts"].values()) == 40 and wrong["counts"]["kept"] < 40
    assert all(r.problem == problem for problem, r in wrong["examples"].items())
    assert set(wrong["examples"]) == set(wrong["counts"]) - {"kept"}
    clip, fall = wrong["shrinking"]
    assert clip.problem is None
    assert fall == pytest.approx(clip.coverage.min() / min(clip.coverage[0], clip.coverage[-1])) and fall < 1


def test_the_collapsing_draw_is_the_worst_of_its_ratios():
    from fractalvid.tour import collapse_ratios, collapsing_draw

    ratios = collapse_ratios(seed=4, n_maps=3, tries=30)
    assert ratios.shape == (30,) and np.all(ratios > 0) and ratios.min() < np.median(ratios) <= 1 + 1e-9
    assert collapsing_draw(seed=4, n_maps=3, tries=30)[1] == ratios.min()


def test_pipeline_results_read_the_committed_metrics_or_say_they_are_absent(tmp_path):
    import json

    from fractalvid.tour import describe_set, pipeline_results

    assert pipeline_results(tmp_path) is None
    (tmp_path / "reports/metrics/pretrain").mkdir(parents=True)
    (tmp_path / "reports/plots/pretrain").mkdir(parents=True)
    (tmp_path / "reports/metrics/results.json").write_text(json.dumps({"actions": {"margin_top1": {"mean": 0.1}}}))
    (tmp_path / "reports/metrics/pretrain/0.json").write_text(json.dumps({"arch": "tsm_r18_w16"}))
    assert pipeline_results(tmp_path) is None                         # a draw without its curve
    (tmp_path / "reports/plots/pretrain/0.csv").write_text("epoch,val_top1\n1,0.1\n2,0.3\n")
    measured = pipeline_results(tmp_path)
    assert measured["generate"] is None and measured["results"]["actions"]["margin_top1"]["mean"] == 0.1
    metrics, history = measured["pretrain"]["0"]
    assert metrics["arch"] == "tsm_r18_w16" and list(history["val_top1"]) == [0.1, 0.3]
    assert "stand-in" in describe_set("actions", {"actions": {"family": "actions"}})
    assert describe_set("ucf", {"ucf": {"source": "ucf101"}}) == "real clips (ucf101)"


def test_the_pretraining_scale_is_clip_passes_times_multiply_adds():
    from fractalvid.tour import pretraining_scale

    small = {"generate": {"classes": 10, "per_class": 12, "val_per_class": 2},
             "pretrain": {"epochs": 5, "size": 32, "frames": 4}}
    large = {"generate": {"classes": 10, "per_class": 22, "val_per_class": 2},
             "pretrain": {"epochs": 10, "size": 64, "frames": 4, "arch": "tsm_r18_w16"}}
    scale = pretraining_scale(small, large, "tsm_r18_w16")
    assert scale["width"] == 0.25 and scale["clip_passes"] == 500 and scale["paper_clip_passes"] == 2000
    # the same network at twice the side: about four times the multiply-adds per clip
    assert 3.5 < scale["paper_madds_per_clip"] / scale["madds_per_clip"] < 4.5
    assert scale["less_compute"] == pytest.approx(4 * scale["paper_madds_per_clip"] / scale["madds_per_clip"])
