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

    assert pipeline_results([0], tmp_path) is None
    (tmp_path / "reports/metrics/pretrain").mkdir(parents=True)
    (tmp_path / "reports/plots/pretrain").mkdir(parents=True)
    (tmp_path / "reports/metrics/results.json").write_text(json.dumps({"actions": {"margin_top1": {"mean": 0.1}}}))
    (tmp_path / "reports/metrics/pretrain/0.json").write_text(json.dumps({"arch": "tsm_r18_w16"}))
    assert pipeline_results([0], tmp_path) is None                    # a draw without its curve
    (tmp_path / "reports/plots/pretrain/0.csv").write_text("epoch,val_top1\n1,0.1\n2,0.3\n")
    # another profile's draw beside it (different network): not read, as pretrain.seeds does not list it
    (tmp_path / "reports/metrics/pretrain/1.json").write_text(json.dumps({"arch": "tsm_r50"}))
    measured = pipeline_results([0], tmp_path)
    assert list(measured["pretrain"]) == ["0"]
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


# ------------------------------------------------------------------ chapter 12b: real clips, the first layer

def clip_store(path, clips, labels, family=None, class_names=None):
    """A dataset folder as the pipeline writes one (one chunk, its manifest, a card), from uint8 clips, grey
    (T, H, W) or colour (T, H, W, 3), encoded losslessly where grey."""
    import json

    from fractalvid.storage.store import MANIFEST_FIELDS, encode_clip, write_chunk, write_rows

    colour = clips[0].ndim == 4
    encoded = [({"index": i, "split": "train", "label": label, "seed": 0, "attempt": 0, "rejected": "",
                 "frames": len(c), "variation": "", "n_maps": 0}, encode_clip(c, crf=0 if not colour else 18))
               for i, (c, label) in enumerate(zip(clips, labels))]
    write_chunk(path, 0, encoded)
    rows = [{**row, "chunk": 0} for row, _ in encoded]
    offset = 0
    for row, data in zip(rows, (d for _, d in encoded)):
        row.update(offset=offset, nbytes=len(data))
        offset += len(data)
    write_rows(path / "manifest.csv", rows, MANIFEST_FIELDS)
    card = {"family": family, "class_names": class_names, **({"channels": 3} if colour else {})}
    (path / "card.json").write_text(json.dumps(card))
    return path


def half_black_clip(frames=6, size=16, moving=True):
    """A clip whose left half is black and whose right half is grey 200, with a white bar 2 columns wide that moves
    one column to the right each frame (or stays): each move changes 2 of the 16 columns."""
    clip = np.zeros((frames, size, size), np.uint8)
    clip[:, :, size // 2:] = 200
    for t in range(frames):
        x = (t if moving else 0) + size // 2
        clip[t, :, x:x + 2] = 255
    return clip


def test_read_store_gives_a_sets_first_clip_of_a_class_and_how_black_and_moving_its_clips_are(tmp_path):
    from fractalvid.tour_clips import read_store

    still, moving = half_black_clip(moving=False), half_black_clip(moving=True)
    store = clip_store(tmp_path / "actions", [still, moving, moving], [0, 1, 1], family="actions",
                       class_names=["bend", "jack"])
    read = read_store(store, "jack")
    assert read["label"] == "jack, clip 1 of 3" and np.array_equal(read["frames"], moving)   # lossless
    assert read["y_up"] is False                                        # an ordinary image, top row first
    assert read["black"] == pytest.approx(0.5)                          # the left half, in every clip
    assert read["changing"] == pytest.approx(2 / 16)                   # the median of still, moving, moving
    assert read_store(store, "wave1")["label"] == "bend, clip 0 of 3"   # a class the set lacks: its first clip
    assert read_store(store, "jack", sample=1)["changing"] == 0         # one clip sampled: the first, still
    fractal = read_store(clip_store(tmp_path / "fractal", [moving], [0], family="fractal"))
    assert fractal["y_up"] is True and fractal["label"] == "class 0, clip 0 of 1"   # the renderer's frames
    colour = np.repeat(moving[..., None], 3, axis=-1)
    real = read_store(clip_store(tmp_path / "real", [colour], [0], class_names=["jack"]), "jack")
    assert real["frames"].shape == colour.shape and real["y_up"] is False
    assert real["black"] == pytest.approx(0.5, abs=0.05)                # measured on the grey of its colours
    absent = read_store(tmp_path / "weizmann", "jack")
    assert isinstance(absent, str) and "absent" in absent and str(tmp_path / "weizmann") in absent


def test_the_clips_figure_spreads_each_clip_from_start_to_end_and_says_which_store_is_absent():
    import matplotlib.pyplot as plt

    from fractalvid.tour_clips import clips_figure

    clip = {"frames": np.zeros((20, 8, 8), np.uint8), "label": "jack, clip 0 of 1", "y_up": False, "black": 1.0,
            "changing": 0.0}
    fig = clips_figure({"actions": clip, "real": "absent, no prepared set at data/weizmann"}, columns=5)
    drawn = [ax for ax in fig.axes if ax.images]
    assert [ax.get_xlabel() for ax in drawn] == [f"frame {t}" for t in (0, 5, 10, 14, 19)]
    assert [ax.get_title() for ax in drawn] == ["start", "25%", "50%", "75%", "end"]
    assert "100% of pixels black" in drawn[0].get_ylabel()
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts == ["real: absent, no prepared set at data/weizmann"] and len(drawn) == 5
    plt.close(fig)


@pytest.mark.parametrize("draw", ["clips_figure", "filters_figure"])
def test_the_new_pictures_stand_the_same_way_up_as_the_tours(draw):
    """tests/test_teaching.py's lopsided scene (a bright block in its top-left corner) through chapter 12b's
    pictures: a fractal clip (rows y-up), an ordinary image (top row first), and a filter (rows y-up, as on the
    fractal frames it learned from)."""
    import matplotlib.pyplot as plt
    from test_teaching import corner, image_axes, scene

    from fractalvid import tour_clips

    up, down = scene(), scene(y_up=False)
    if draw == "clips_figure":
        row = {"label": "x", "black": 0.0, "changing": 0.0}
        fig = tour_clips.clips_figure({"fractal": {**row, "frames": np.stack([up] * 5), "y_up": True},
                                       "actions": {**row, "frames": np.stack([down] * 5), "y_up": False}})
    else:
        filters = up[None].astype(float)
        fig = tour_clips.filters_figure({"arch": "x", "grey": {"initial": filters, "trained": filters,
                                                               "change": filters},
                                         "smooth": {"initial": 0.0, "trained": 0.0, "change": 0.0}})
    axes = image_axes(fig)
    where = [corner(fig, ax) for ax in axes]
    plt.close(fig)
    assert len(axes) == (10 if draw == "clips_figure" else 3) and where == ["top-left"] * len(axes), where


def test_chapter_12b_draws_its_images_through_the_tours_one_picture_function():
    import ast
    from pathlib import Path

    import fractalvid.tour_clips

    tree = ast.parse(Path(fractalvid.tour_clips.__file__).read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "imshow"]


def test_the_filter_mosaic_puts_the_first_filter_top_left_mid_grey_for_zero_and_gaps_undrawn():
    from fractalvid.tour_clips import filter_mosaic

    filters = np.zeros((5, 3, 3))
    filters[0, 0, 0] = 2.0            # filter 0: its row 0 (y upwards: its bottom row) at +2, past the scale
    filters[4] = -1.0
    mosaic = filter_mosaic(filters, scale=1.0, columns=3)
    assert mosaic.shape == (2 * 4 - 1, 3 * 4 - 1)
    assert mosaic[2, 0] == 255 and mosaic[0, 0] == 127.5          # clipped to white, drawn at the tile's bottom
    assert filter_mosaic(filters, scale=1.0, columns=3, y_up=False)[0, 0] == 255
    assert np.all(mosaic[4:7, 4:7] == 0)                           # filter 4: second row, second column, black
    assert np.isnan(mosaic[3]).all() and np.isnan(mosaic[:, 3]).all()   # the gaps
    assert np.isnan(mosaic[4:7, 8:11]).all()                       # no sixth filter
    with pytest.raises(ValueError, match="scale"):
        filter_mosaic(filters, scale=0)


def test_the_filter_statistics_tell_smooth_from_random_and_shared_channels_from_independent():
    from fractalvid.learning.presets import IMAGENET_MEAN, IMAGENET_STD
    from fractalvid.tour_clips import channel_agreement, grey_filters, neighbour_correlation

    rng = np.random.default_rng(0)
    noise = rng.normal(size=(16, 3, 7, 7))
    assert abs(neighbour_correlation(noise)) < 0.1 and abs(channel_agreement(noise)) < 0.1
    y, x = np.mgrid[0:7, 0:7]
    ramps = np.stack([np.cos(a) * x + np.sin(a) * y for a in rng.uniform(0, 2 * np.pi, 16)])
    assert neighbour_correlation(ramps) > 0.8                      # smooth: each weight near its neighbours
    shared = np.repeat(noise[:, :1], 3, axis=1) * np.array([1.0, 2.0, 0.5])[None, :, None, None]
    assert channel_agreement(shared) == pytest.approx(1.0)         # one pattern in R, G and B
    assert channel_agreement(np.zeros((4, 3, 7, 7))) == 0 and neighbour_correlation(np.zeros((4, 7, 7))) == 0
    # a grey frame g becomes (g - mean_c) / std_c in channel c: the filter it meets is sum_c W_c / std_c, plus a
    # constant of each filter's, so that two frames' responses differ by the grey filter's on their difference
    grey = grey_filters(noise)
    assert grey.shape == (16, 7, 7)
    one, other = rng.uniform(size=(2, 7, 7))

    def seen(frame):
        return sum((noise[:, c] * (frame - IMAGENET_MEAN[c]) / IMAGENET_STD[c]).sum((1, 2)) for c in range(3))

    assert np.allclose(seen(one) - seen(other), (grey * (one - other)).sum((1, 2)))


@pytest.fixture(scope="module")
def pretrained_tiny(tmp_path_factory):
    """A tiny supervised pre-training run (the pipeline's network, 2 epochs on 3 x 3 fractal clips at 32 px, one
    torch thread): (its settings, its folder)."""
    import torch

    from conftest import TINY
    from fractalvid import DatasetSpec, generate
    from fractalvid.learning.train import recipe, train

    data = tmp_path_factory.mktemp("fractal") / "ds"
    generate(data, DatasetSpec(classes=3, per_class=4, val_per_class=1, seed=5, options=FractalConfig(**TINY)),
             workers=1, progress=False)
    cfg = recipe("supervised", data=str(data), arch="tsm_r18_w16", epochs=2, warmup_epochs=1, frames=4, size=32,
                 batch_size=4, workers=0, val_clips=2, real_video=False, threads=1)
    out = tmp_path_factory.mktemp("pretrained") / "0"
    threads = torch.get_num_threads()
    try:
        train(cfg, out, progress=False)
    finally:
        torch.set_num_threads(threads)
    return cfg, out


def test_the_start_rebuilt_from_a_checkpoint_is_the_one_its_run_trained_from(pretrained_tiny, tmp_path):
    import torch

    from fractalvid.learning.models import load_checkpoint
    from fractalvid.learning.train import Run
    from fractalvid.tour_clips import first_conv, initial_state

    cfg, out = pretrained_tiny
    threads = torch.get_num_threads()
    try:
        started = Run(cfg, tmp_path / "again", progress=False).model.state_dict()   # built, not trained
    finally:
        torch.set_num_threads(threads)
    before = torch.random.get_rng_state()
    rebuilt = initial_state(load_checkpoint(out / "model.pt"))
    assert torch.equal(torch.random.get_rng_state(), before)       # torch's generator left as it was
    assert rebuilt.keys() == started.keys() and all(torch.equal(rebuilt[k], started[k]) for k in started)
    assert first_conv(rebuilt).shape == (16, 3, 7, 7)              # the quarter-width ResNet-18's conv1
    state = load_checkpoint(out / "model.pt")
    state["config"]["init"] = "models/pretrain/0/model.pt"
    with pytest.raises(ValueError, match="init="):
        initial_state(state)


def test_what_the_tour_asserts_of_the_first_layer_holds_after_training_and_fails_without_it(pretrained_tiny,
                                                                                           tmp_path):
    import torch

    from fractalvid.learning.models import load_checkpoint
    from fractalvid.tour_clips import first_layer, initial_state

    _, out = pretrained_tiny
    learned = first_layer(out / "model.pt")
    assert learned["trained"].shape == learned["initial"].shape == (16, 3, 7, 7)
    assert set(learned["grey"]) == {"initial", "trained", "change"}
    assert np.allclose(learned["grey"]["change"], learned["grey"]["trained"] - learned["grey"]["initial"])
    # the notebook's claims: the start is the run's own, training changed it smoothly, alike in R, G and B
    assert learned["same_start"] > 0.3 and 0 < learned["relative_change"]
    assert learned["smooth"]["change"] > 0.3 > abs(learned["smooth"]["initial"])
    assert learned["channels"] > 0.9
    # a network saved untrained: nothing changed, and each claim fails
    untrained = load_checkpoint(out / "model.pt")
    untrained["encoder"] = initial_state(untrained)
    torch.save(untrained, tmp_path / "model.pt")
    fresh = first_layer(tmp_path / "model.pt")
    assert fresh["relative_change"] == 0 and fresh["channels"] == 0 and fresh["smooth"]["change"] == 0


def test_the_built_in_clips_are_rendered_again_as_the_pipeline_makes_them():
    from fractalvid.clips.actions import ActionConfig, clip_for_index
    from fractalvid.tour_clips import rendered_actions

    section = {"family": "actions", "classes": 10, "per_class": 3, "seed": 5, "options": {"res": 32, "frames": 6}}
    drawn = rendered_actions(section, "jack", sample=4)
    frames, label, _, _ = clip_for_index(5, 3, 3, ActionConfig(res=32, frames=6))   # jack is class 1: clip 3
    assert np.array_equal(drawn["frames"], frames) and label == 1
    assert drawn["label"] == "jack, clip 3 of 30" and drawn["y_up"] is False
    assert drawn["black"] < 0.3 and 0 < drawn["changing"] < 0.5              # a figure before a background
    with pytest.raises(ValueError, match="class_name"):
        rendered_actions(section, "dance")


def test_the_first_layer_claims_apply_to_a_network_that_learned_from_grey_clips():
    from fractalvid.tour_clips import filter_claims_apply

    params = {"generate": {"classes": 100}, "pretrain": {"real_video": False}}
    assert filter_claims_apply(params, 0.55) and not filter_claims_apply(params, 0.04)
    assert not filter_claims_apply({**params, "pretrain": {"real_video": True}}, 0.55)
