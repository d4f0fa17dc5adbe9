"""The comparison families (Perlin, dead leaves, octopus): geometry, classes, determinism, storage, errors."""
import json
import math

import numpy as np
import pytest

from fractalvid import DatasetSpec, generate, make_clip, merge, open_dataset
from fractalvid.cli import main as cli
from fractalvid.clips.families import (DeadLeavesConfig, Leaves, OctopusConfig, PerlinConfig, limb_points,
                                       perlin_class, render_leaves, render_octopus, render_perlin, sample_leaves,
                                       sample_octopus, smooth_tracks)
from fractalvid.clips.generate import FAMILIES, Family
from fractalvid.clips.ifs import quadratic_spline
from fractalvid.clips.kernels import perlin_octave
from fractalvid.storage.store import encode_clip

NEW = ("perlin", "dead_leaves", "octopus")


def spec_of(family, res=64, **kw):
    kw.setdefault("classes", 3)
    if kw["classes"] is not None:
        kw.setdefault("per_class", 3)
        kw.setdefault("val_per_class", 1)
    return DatasetSpec(family=family, chunk_size=kw.pop("chunk_size", 4), options={"res": res, **kw.pop("opts", {})},
                       **kw)


def dataset_bytes(path):
    files = sorted((path / "chunks").glob("chunk-*")) + [path / "manifest.csv", path / "settings.json"]
    return {f.name: f.read_bytes() for f in files}


# ------------------------------------------------------------------ one clip

@pytest.mark.parametrize("family", NEW)
def test_clip_is_a_pure_function_of_spec_and_index(family):
    spec = spec_of(family)
    a, row_a = make_clip(spec, 4)
    b, row_b = make_clip(spec, 4)
    assert a.dtype == np.uint8 and a.shape[1:] == (64, 64) and 18 <= a.shape[0] <= 20
    assert np.array_equal(a, b) and row_a == row_b and row_a["label"] == 1
    assert not np.array_equal(a[: min(len(a), 18)], make_clip(spec, 3)[0][: min(len(a), 18)])  # another instance
    other_seed = DatasetSpec(**{**spec.__dict__, "seed": 1})
    assert not np.array_equal(a[:18], make_clip(other_seed, 4)[0][:18])


@pytest.mark.parametrize("family", NEW)
def test_unsupervised_sets_work_and_every_frame_changes(family, tmp_path):
    spec = spec_of(family, classes=None, samples=3)
    card = generate(tmp_path / family, spec, workers=1, progress=False)
    ds = open_dataset(tmp_path / family)
    assert card["clips"] == 3 and card["family"] == family and list(ds.labels) == [-1] * 3
    for i in range(3):
        frames, _ = ds[i]
        assert frames.shape[1:] == (64, 64) and frames.std() > 10  # not a flat clip
    assert len({ds.rows[i]["variation"] for i in range(3)}) >= 1 and all(r["n_maps"] >= 1 for r in ds.rows)


def class_separation(feature, spec):
    """Mean feature distance within classes and between classes over a whole dataset."""
    feats, labels = [], []
    for i in range(spec.n_clips):
        frames, row = make_clip(spec, i)
        feats.append(feature(frames))
        labels.append(row["label"])
    feats, labels = np.array(feats), np.array(labels)
    d = np.linalg.norm(feats[:, None] - feats[None], axis=-1)
    same = labels[:, None] == labels[None]
    off_diag = ~np.eye(len(labels), dtype=bool)
    return d[same & off_diag].mean(), d[~same].mean()


def coarse_layout(frames):
    """First and 18th frame, mean-pooled 8 x 8: where things are and how bright, not their fine edges."""
    f = frames[[0, 17]].astype(float) / 255
    return f.reshape(2, 8, 8, 8, 8).mean((2, 4)).ravel()


def spectral_centroid(frames):
    """Power-weighted mean |k_x| and |k_y| of the frames (in cycles per frame width)."""
    f = frames.astype(float) - frames.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fft2(f)) ** 2).mean(0)
    k = np.abs(np.fft.fftfreq(frames.shape[1]) * frames.shape[1])
    return np.array([(power * k[None, :]).sum(), (power * k[:, None]).sum()]) / power.sum()


def test_perlin_classes_are_frequency_pairs_instances_share_their_spectrum():
    # a 2 x 2 grid: the four classes (1, 1), (1, 8), (8, 1), (8, 8), in a seeded order
    spec = spec_of("perlin", classes=4, per_class=3, opts={"freq_levels": 2})
    pairs = {perlin_class(spec, c, None) for c in range(4)}
    assert pairs == {(1.0, 1.0), (1.0, 8.0), (8.0, 1.0), (8.0, 8.0)}
    within, between = class_separation(spectral_centroid, spec)
    assert within * 3 < between, (within, between)
    with pytest.raises(ValueError, match="classes=5"):
        spec_of("perlin", classes=5, opts={"freq_levels": 2})


def test_perlin_frequency_pair_sets_the_spectrum_axis_by_axis():
    cfg = PerlinConfig(res=64)
    cx = {}
    for fx, fy in [(1.0, 8.0), (8.0, 1.0), (1.0, 1.0), (8.0, 8.0)]:
        frames = render_perlin(np.random.default_rng(3), cfg, 8, fx, fy, 0.05)
        assert frames.min() == 0 and frames.max() == 255  # normalised over the clip
        cx[fx, fy] = spectral_centroid(frames)
    assert cx[1.0, 8.0][1] > 2 * cx[1.0, 8.0][0]   # fine along y (rows), coarse along x
    assert cx[8.0, 1.0][0] > 2 * cx[8.0, 1.0][1]
    assert np.all(cx[8.0, 8.0] > 2 * cx[1.0, 1.0])


def test_perlin_kernel_is_gradient_noise():
    """The separable kernel equals the textbook 8-corner sum, and vanishes on lattice nodes."""
    rng = np.random.default_rng(0)
    perm = rng.permutation(256).astype(np.int64)
    grads = rng.normal(size=(256, 3))
    grads = (grads / np.linalg.norm(grads, axis=1, keepdims=True)).astype(np.float32)
    scale, offset = np.array([0.37, 0.21, 0.6]), np.array([250.3, 3.7, 11.2])
    out = np.zeros((4, 9, 11), np.float32)
    perlin_octave(out, perm, grads, scale, offset, np.float32(0.5))

    def fade(u):
        return u ** 3 * (u * (6 * u - 15) + 10)

    def noise(p):
        c = np.floor(p).astype(int)
        total = 0.0
        for corner in np.ndindex(2, 2, 2):
            node = c + corner
            g = grads[perm[(perm[(perm[node[0] & 255] + node[1]) & 255] + node[2]) & 255]]
            w = np.prod([fade(p[a] - c[a]) if corner[a] else 1 - fade(p[a] - c[a]) for a in range(3)])
            total += w * g @ (p - node)
        return total

    for t, y, x in [(0, 0, 0), (1, 4, 7), (3, 8, 10), (2, 5, 1)]:
        assert out[t, y, x] == pytest.approx(0.5 * noise(offset + scale * [x, y, t]), abs=2e-5)
    on_nodes = np.zeros((2, 3, 3), np.float32)
    perlin_octave(on_nodes, perm, grads, np.ones(3), np.array([5.0, 9.0, 2.0]), np.float32(1))
    assert np.abs(on_nodes).max() < 1e-6


def test_dead_leaves_shapes_have_their_radius_sides_and_move():
    cfg = DeadLeavesConfig()
    s = sample_leaves(np.random.default_rng(1), cfg)
    assert 12 <= s.radius.min() and s.radius.max() <= 32 and cfg.min_shapes <= len(s.radius) <= cfg.max_shapes
    assert set(np.unique(s.sides)) <= set(range(1, 9)) and len(np.unique(s.sides)) >= 6
    moved = np.hypot(s.cx[-1] - s.cx[0], s.cy[-1] - s.cy[0])
    assert np.median(moved) > 5  # most shapes travel (those on periodic curves sway near their start)
    frames = render_leaves(s, cfg.res)
    assert np.abs(frames[-1].astype(int) - frames[0]).mean() > 10

    # one shape of radius 20 at the centre: painted area of a disc, a triangle, a square, an octagon
    def area(sides, angle=0.3):
        one = Leaves(np.full((2, 1), 128.0), np.full((2, 1), 128.0), np.full((2, 1), angle), np.array([20.0]),
                     np.array([sides]), np.array([255.0]), 0.0, ["linear"])
        return render_leaves(one, 256)[0].astype(float).sum() / 255

    r = 20
    assert area(1) == pytest.approx(math.pi * r * r, rel=0.01) and area(2) == area(1)  # < 3 sides: a disc
    for n in (3, 4, 8):
        assert area(n) == pytest.approx(0.5 * n * r * r * math.sin(2 * math.pi / n), rel=0.01)
    # a moving shape: its painted centroid follows its track
    track = Leaves(np.array([[60.0], [70.0], [90.0]]), np.array([[100.0], [100.0], [80.0]]), np.zeros((3, 1)),
                   np.array([15.0]), np.array([5]), np.array([255.0]), 0.0, ["curve"])
    frames = render_leaves(track, 256).astype(float)
    ys, xs = np.mgrid[:256, :256]
    cent = [((f * xs).sum() / f.sum(), (f * ys).sum() / f.sum()) for f in frames]
    assert np.allclose(cent, [(60, 100), (70, 100), (90, 80)], atol=1.0)


def test_dead_leaves_instances_resemble_their_class():
    spec = spec_of("dead_leaves", classes=3, per_class=3)
    within, between = class_separation(coarse_layout, spec)
    assert within < 0.8 * between, (within, between)


def test_octopus_limbs_are_curves_that_bend_over_time():
    cfg = OctopusConfig()
    o = sample_octopus(np.random.default_rng(2), cfg)
    assert cfg.min_limbs <= len(o.angle) <= cfg.max_limbs and len(o.angle) == o.bend.shape[1]
    assert np.abs(o.bend[-1] - o.bend[0]).max() > 0.1 or np.abs(o.curl[-1] - o.curl[0]).max() > 0.1
    frames = render_octopus(o, cfg.res, cfg.tip_width)
    assert frames.shape == (len(o.turn), 256, 256)
    assert all(np.abs(frames[t + 1].astype(int) - frames[t]).sum() > 0 for t in range(len(frames) - 1))
    # limb geometry: length is kept, no bend -> straight, a pure bend -> a circular arc
    o.bend[:], o.curl[:] = 0.0, 0.0
    o.bend[:, 0] = math.pi  # limb 0 turns half a circle
    xs, ys, radius = limb_points(o, cfg.tip_width)
    seg = np.hypot(np.diff(xs, axis=-1), np.diff(ys, axis=-1))
    assert np.allclose(seg.sum(-1), o.length[None, :], rtol=1e-9) and seg.max() <= 1.0 + 1e-9
    chord = np.hypot(xs[0, :, -1] - xs[0, :, 0], ys[0, :, -1] - ys[0, :, 0])
    assert np.allclose(chord[1:], o.length[1:], rtol=1e-9)                       # straight limbs
    assert chord[0] == pytest.approx(2 * o.length[0] / math.pi, rel=0.01)        # half circle: diameter L / (pi/2)
    assert radius[0, 0, 0] == pytest.approx(o.width[0]) and radius[0, 0, -1] == pytest.approx(o.width[0] * 0.15)


def test_octopus_instances_resemble_their_class():
    spec = spec_of("octopus", classes=3, per_class=3)
    within, between = class_separation(coarse_layout, spec)
    assert within < 0.6 * between, (within, between)


def test_smooth_tracks_are_the_fractal_instance_splines():
    out = smooth_tracks(np.random.default_rng(4), 19, 6, (4, 7), 0.6, 1.4)
    rng = np.random.default_rng(4)
    counts, values = rng.integers(4, 8, 6), rng.uniform(0.6, 1.4, (6, 7))
    t = np.arange(19, dtype=float)
    for i in range(6):
        expect = quadratic_spline(np.linspace(0, 18, counts[i]), values[i, : counts[i]], t)
        assert np.allclose(out[:, i], expect)


# ------------------------------------------------------------------ datasets

def test_worker_count_does_not_change_a_byte(tmp_path):
    spec = spec_of("dead_leaves", classes=2, per_class=3, chunk_size=2)
    generate(tmp_path / "a", spec, workers=1, progress=False)
    generate(tmp_path / "b", spec, workers=2, progress=False)
    assert dataset_bytes(tmp_path / "a") == dataset_bytes(tmp_path / "b")
    ds = open_dataset(tmp_path / "a")
    for i in (0, 4):
        frames, row = make_clip(spec, i)
        assert encode_clip(frames, spec.crf, spec.preset) == ds.clip_bytes(i) and row["frames"] == ds.rows[i]["frames"]


def test_settings_round_trip_and_params_yaml_sections(tmp_path):
    spec = spec_of("octopus", opts={"max_limbs": 5, "limb_length": [0.1, 0.2]})
    generate(tmp_path / "o", spec, workers=1, progress=False)
    saved = json.loads((tmp_path / "o" / "settings.json").read_text())
    assert "fractal" not in saved and saved["options"]["max_limbs"] == 5 and saved["family"] == "octopus"
    assert DatasetSpec.from_dict(saved) == spec
    section = {"out": "data/x", "workers": None, "family": "octopus", "classes": 3, "per_class": 3,
               "val_per_class": 1, "samples": None, "seed": 0, "chunk_size": 4,
               "options": {"res": 64, "max_limbs": 5, "limb_length": [0.1, 0.2]}}
    assert DatasetSpec.from_params(section) == spec
    assert all(r["n_maps"] <= 5 for r in open_dataset(tmp_path / "o").rows)
    fractal = DatasetSpec(classes=2, per_class=2, val_per_class=0)
    assert "fractal" not in fractal.to_dict() and fractal.to_dict()["options"]["res"] == fractal.res == 256


def test_shards_merge_and_a_resumed_cli_run_match_the_single_run(tmp_path):
    command = ["--family", "perlin", "--classes", "2", "--per-class", "4", "--val-per-class", "1",
               "--chunk-size", "3", "--res", "64", "--option", "octaves=3", "--workers", "1", "--quiet"]
    assert cli(["generate", str(tmp_path / "whole"), *command]) == 0
    assert cli(["generate", str(tmp_path / "p1"), *command, "--shard", "1/2"]) == 0
    assert cli(["generate", str(tmp_path / "p2"), *command, "--shard", "2/2"]) == 0
    assert merge(tmp_path / "merged", [tmp_path / "p1", tmp_path / "p2"])["clips"] == 8
    whole = dataset_bytes(tmp_path / "whole")
    assert dataset_bytes(tmp_path / "merged") == whole
    # a run that lost its last chunk and its manifest resumes to the same bytes
    for name in ("chunks/chunk-00002.csv", "chunks/chunk-00002.bin", "manifest.csv", "card.json"):
        (tmp_path / "whole" / name).unlink()
    assert cli(["generate", str(tmp_path / "whole"), *command]) == 0
    assert dataset_bytes(tmp_path / "whole") == whole
    assert json.loads((tmp_path / "whole" / "settings.json").read_text())["options"]["octaves"] == 3


def test_a_registered_family_gets_its_split_hook_redraws_and_manifest(monkeypatch):
    """The protocol a later family (e.g. actions) plugs into: label_split hook, 'problem' redraws."""
    def clip(spec, index, rng, base):
        if rng.random() < 0.5:
            return None, {"problem": "coin"}
        return np.full((3, 16, 16), base, np.uint8), {"variation": "toy", "n_maps": 2}

    toy = Family(PerlinConfig, lambda spec, label, rng: 10 * label, clip,
                 label_split=lambda spec, index: (index % 2, "val" if index >= 4 else "train"))
    monkeypatch.setitem(FAMILIES, "toy", toy)
    spec = DatasetSpec(family="toy", classes=2, per_class=3, val_per_class=1)
    rows = [make_clip(spec, i) for i in range(6)]
    assert [r["label"] for _, r in rows] == [0, 1, 0, 1, 0, 1]
    assert [r["split"] for _, r in rows] == ["train"] * 4 + ["val"] * 2
    assert all(f[0, 0, 0] == 10 * r["label"] for f, r in rows)
    assert any(r["attempt"] > 0 for _, r in rows)
    assert all(r["rejected"] == "+".join(["coin"] * r["attempt"]) for _, r in rows)
    bad = Family(PerlinConfig, lambda *a: None, lambda *a: (np.zeros((3, 15, 15), np.uint8), {}))
    monkeypatch.setitem(FAMILIES, "bad", bad)
    with pytest.raises(TypeError, match="uint8 frames"):
        make_clip(DatasetSpec(family="bad", samples=1), 0)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(family="blob"), "family='blob'"),
    (dict(family="perlin", options={"octaves": 0}), "octaves=0"),
    (dict(family="perlin", options={"speed": 2}), "speed"),
    (dict(family="perlin", options={"max_freq": 100.0}), "max_freq=100.0"),
    (dict(family="perlin", options={"time_freq": [0.2, 0.1]}), "time_freq"),
    (dict(family="dead_leaves", options={"radius": [30, 10]}), "radius"),
    (dict(family="dead_leaves", options={"max_sides": 20}), "max_sides=20"),
    (dict(family="dead_leaves", options={"curve_weights": [0, 0, 0]}), "curve_weights"),
    (dict(family="octopus", options={"min_limbs": 9}), "min_limbs=9"),
    (dict(family="octopus", options={"tip_width": 0}), "tip_width=0"),
    (dict(family="octopus", options={"res": 63}), "res=63"),
    (dict(family="octopus", options=[1, 2]), "options=[1, 2]"),
    (dict(family="fractal", options={"octaves": 3}), "'octaves'"),   # a Perlin setting is no fractal's
])
def test_bad_family_or_options_are_named(kwargs, needle):
    with pytest.raises(ValueError, match="expected|accepted") as err:
        DatasetSpec(samples=2, **kwargs)
    assert needle in str(err.value)


def test_fractal_settings_are_refused_for_other_families(tmp_path, capsys):
    with pytest.raises(ValueError, match="fractal=.*family 'perlin'"):
        DatasetSpec.from_dict({"family": "perlin", "samples": 2, "fractal": {"steps": 900}})
    with pytest.raises(ValueError, match="unknown perlin setting|'steps'"):
        DatasetSpec.from_dict({"family": "perlin", "samples": 2, "options": {"steps": 900}})
    with pytest.raises(ValueError, match="unknown dataset setting"):
        DatasetSpec.from_params({"family": "perlin", "samples": 2, "perlin": {}})
    out = tmp_path / "never"
    for extra, needle in [(["--family", "octopus", "--image"], "image"),
                          (["--family", "perlin", "--option", "octaves"], "'octaves' is not accepted"),
                          (["--family", "dead_leaves", "--option", "min_shapes=0"], "min_shapes=0"),
                          (["--family", "swirl"], "family='swirl'")]:
        assert cli(["generate", str(out), "--samples", "2", *extra]) == 2
        assert needle in capsys.readouterr().err
    assert not out.exists()
