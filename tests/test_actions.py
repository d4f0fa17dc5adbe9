"""The built-in action benchmark: layout, determinism, visibility, motion, learnability, bad input."""
import json

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from fractalvid.clips.actions import (ACTIONS, ActionConfig, Body, action_index, actor_body, clip_for_index,
                                      clip_layout, render_action)


def _mask_render(seed, action, actor, cfg):
    rng = np.random.default_rng([seed, ACTIONS.index(action), actor])
    return render_action(rng, action, actor_body(seed, actor, cfg), cfg, with_mask=True)


def _centre_x(mask):
    w = mask.sum((1, 2))
    return (mask.sum(1) * np.arange(mask.shape[2])).sum(1) / w


# ------------------------------------------------------------------ settings and bad input

def test_config_round_trip_through_json():
    cfg = ActionConfig(res=64, frames=12, actors=5, test_actors=(3, 4), noise=2.0)
    d = json.loads(json.dumps(cfg.to_dict()))
    assert d["test_actors"] == [3, 4]
    assert ActionConfig.from_dict(d) == cfg
    assert cfg.train_actors == (0, 1, 2)
    assert ActionConfig().train_actors == (0, 1, 2, 3, 4, 5)


@pytest.mark.parametrize("kwargs, name", [
    (dict(res=16), "res"), (dict(res=128.0), "res"), (dict(frames=1), "frames"), (dict(fps=0), "fps"),
    (dict(actors=1, test_actors=(0,)), "actors"), (dict(test_actors=(9,)), "test_actors"),
    (dict(test_actors=()), "test_actors"), (dict(test_actors=(1, 1)), "test_actors"),
    (dict(actors=3, test_actors=(0, 1, 2)), "test_actors"), (dict(test_actors=(-1,)), "test_actors"),
    (dict(min_height=0.6, max_height=0.5), "min_height"), (dict(max_height=0.9), "max_height"),
    (dict(max_span=0.0), "max_span"), (dict(jitter=-1), "jitter"), (dict(noise=float("nan")), "noise"),
    (dict(p_blur=1.5), "p_blur"), (dict(p_clutter=-0.1), "p_clutter"),
])
def test_bad_config_raises_naming_the_value(kwargs, name):
    with pytest.raises(ValueError, match=rf"{name}=.* is not accepted: expected"):
        ActionConfig(**kwargs)


def test_unknown_setting_is_named():
    with pytest.raises(ValueError, match="unknown action setting.*'colour'"):
        ActionConfig.from_dict({"colour": 3})


@pytest.mark.parametrize("bad", ["dance", 10, -1, True, 2.0])
def test_bad_action_is_rejected(bad):
    with pytest.raises(ValueError, match=r"action=.* is not accepted: expected one of"):
        action_index(bad)


def test_action_by_name_or_index():
    assert [action_index(a) for a in ACTIONS] == list(range(10))
    assert action_index(np.int64(7)) == 7 == ACTIONS.index("walk")


def test_bad_indices_are_rejected():
    cfg = ActionConfig()
    with pytest.raises(ValueError, match="actor_id=9 is not accepted"):
        actor_body(0, 9, cfg)
    with pytest.raises(ValueError, match=r"index=50 is not accepted: expected an integer in \[0, 50\)"):
        clip_layout(50, 5, cfg)
    with pytest.raises(ValueError, match="per_class=0 is not accepted"):
        clip_layout(0, 0, cfg)
    with pytest.raises(ValueError, match="seed=-1 is not accepted"):
        clip_for_index(-1, 0, 5, cfg)


# ------------------------------------------------------------------ layout, actors, determinism

def test_layout_is_class_major_and_test_actors_never_train():
    cfg = ActionConfig()
    for per_class in (1, 7, 9, 20):
        for index in range(per_class * len(ACTIONS)):
            label, actor, split = clip_layout(index, per_class, cfg)
            assert label == index // per_class
            assert actor == (index % per_class) % cfg.actors
            assert split == ("test" if actor in (6, 7, 8) else "train")
    # the split of a rendered clip is the layout's, and its info names the same actor
    for index in (0, 6, 7, 15, 89):
        _, label, split, info = clip_for_index(3, index, 9, ActionConfig(res=32, frames=4))
        assert (label, info["actor"], split) == clip_layout(index, 9, cfg)
        assert info["action"] == ACTIONS[label]
        json.dumps(info)  # manifest-ready


def test_actors_are_fixed_per_seed_and_differ():
    cfg = ActionConfig()
    bodies = [actor_body(11, a, cfg) for a in range(cfg.actors)]
    assert all(isinstance(b, Body) for b in bodies)
    assert bodies == [actor_body(11, a, cfg) for a in range(cfg.actors)]
    assert len({(b.thigh, b.shirt) for b in bodies}) == cfg.actors
    assert actor_body(12, 0, cfg) != bodies[0]
    for b in bodies:
        assert 0.9 < b.height < 1.1 and 0 <= min(b.skin, b.shirt, b.pants) and max(b.skin, b.shirt, b.pants) <= 255


def test_same_seed_and_index_give_identical_bytes_in_any_order():
    cfg = ActionConfig(res=64, frames=10)
    a = [clip_for_index(5, i, 4, cfg)[0] for i in (3, 17, 38)]
    b = [clip_for_index(5, i, 4, cfg)[0] for i in (38, 17, 3)][::-1]
    for x, y in zip(a, b):
        assert x.tobytes() == y.tobytes()
    assert clip_for_index(6, 3, 4, cfg)[0].tobytes() != a[0].tobytes()
    assert clip_for_index(5, 2, 4, cfg)[0].tobytes() != a[0].tobytes()


def test_shape_dtype_and_values():
    frames, label, split, info = clip_for_index(0, 0, 9)
    assert frames.shape == (20, 128, 128) and frames.dtype == np.uint8
    assert label == 0 and split == "train" and info["actor"] == 0
    assert frames.std() > 5 and frames.min() < frames.max()
    cfg = ActionConfig(res=48, frames=7)
    small = render_action(np.random.default_rng(0), "walk", actor_body(0, 3, cfg), cfg)
    assert small.shape == (7, 48, 48) and small.dtype == np.uint8


# ------------------------------------------------------------------ what is drawn

@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_draws_a_visible_figure_in_view(action):
    cfg = ActionConfig()
    for actor in (0, 4, 7):
        frames, mask = _mask_render(1, action, actor, cfg)
        assert mask.shape == frames.shape and mask.dtype == np.float32
        assert (mask.max((1, 2)) > 0.99).all(), "the figure leaves the frame"
        area = (mask > 0.5).sum((1, 2)) / cfg.res ** 2
        assert (area > 0.005).all() and (area < 0.25).all()
        # the figure stands out from the background just around it
        core = mask > 0.95
        near = np.pad(mask > 0.05, ((0, 0), (4, 4), (4, 4)))
        ring = sliding_window_view(near, (9, 9), axis=(1, 2)).any((-1, -2)) & (mask < 0.02)
        contrast = [np.abs(f[c].astype(float) - np.median(f[r])).mean() for f, c, r in zip(frames, core, ring)]
        assert np.mean(contrast) > 25, f"{action} actor {actor}: figure contrast {np.mean(contrast):.1f}"


def test_locomotion_translates_and_in_place_actions_do_not():
    cfg = ActionConfig()
    travel = {a: np.mean([abs(np.ptp(_centre_x(_mask_render(2, a, k, cfg)[1]))) / cfg.res for k in range(4)])
              for a in ("walk", "run", "skip", "jump", "side", "pjump", "jack", "wave1", "wave2", "bend")}
    for a in ("walk", "run", "skip", "jump", "side"):
        assert travel[a] > 0.25, (a, travel[a])
    for a in ("pjump", "jack", "wave1", "wave2"):
        assert travel[a] < 0.06, (a, travel[a])
    assert travel["bend"] < 0.12


def test_waving_moves_the_upper_body_and_walking_the_lower():
    cfg = ActionConfig(jitter=0.0)  # camera shake would move the whole outline
    upper = {}
    for a in ("wave1", "wave2", "walk", "run", "jack"):
        fractions = []
        for k in range(3):
            mask = _mask_render(4, a, k, cfg)[1]
            rows = np.flatnonzero(mask.max((0, 2)) > 0.5)
            mid = int(0.5 * (rows.min() + rows.max()))   # half way up the space the figure uses
            change = np.abs(np.diff(mask, axis=0))
            fractions.append(change[:, :mid].sum() / change.sum())
        upper[a] = np.mean(fractions)
    assert upper["wave1"] > 0.75 and upper["wave2"] > 0.75, upper
    assert upper["walk"] < 0.5 and upper["run"] < 0.5, upper
    assert 0.3 < upper["jack"] < 0.7, upper  # arms and legs together


def _motion_profile(mask: np.ndarray) -> np.ndarray:
    """Where and how the figure's outline changes: 4 height bands, left/right balance, travel, bounce."""
    rows = np.flatnonzero(mask.max((0, 2)) > 0.5)
    top, bottom = rows.min(), rows.max() + 1
    h = bottom - top
    change = np.abs(np.diff(mask, axis=0))
    bands = np.array([b.sum() for b in np.array_split(change[:, top:bottom].sum((0, 2)), 4)]) / change.sum()
    cx = _centre_x(mask)
    left = (change * (np.arange(mask.shape[2])[None, None, :] < cx[1:, None, None])).sum() / change.sum()
    feet = np.array([np.flatnonzero(m.max(1) > 0.5).max() for m in mask])
    return np.concatenate([bands, [abs(2 * left - 1), np.ptp(cx) / h, feet.std() / h]])


def test_actions_differ_in_motion_profile():
    """The mean outline-change profiles of every two actions differ (same bodies, same seeds)."""
    cfg = ActionConfig(res=64, jitter=0.0)
    profiles = {a: np.mean([_motion_profile(_mask_render(5, a, k, cfg)[1]) for k in range(4)], 0) for a in ACTIONS}
    for i, a in enumerate(ACTIONS):
        for b in ACTIONS[i + 1:]:
            # (over seeds the closest pair, run/walk or side/skip, stays above 0.13)
            assert np.abs(profiles[a] - profiles[b]).sum() > 0.08, (a, b, profiles[a], profiles[b])
    # wave1 is lopsided, wave2 and jack symmetric; bend leans one way
    asym = {a: p[4] for a, p in profiles.items()}
    assert asym["wave1"] > 0.5 and asym["bend"] > 0.3 and asym["wave2"] < 0.15 and asym["jack"] < 0.15, asym
    # jumps leave the ground, walking does not
    bounce = {a: p[6] for a, p in profiles.items()}
    assert min(bounce["pjump"], bounce["jump"]) > 2 * bounce["walk"] + 0.01, bounce


# ------------------------------------------------------------------ learnability

def _motion_features(frames: np.ndarray) -> np.ndarray:
    """Hand-made motion descriptors of a clip: where (in height) and when it moves, and how it travels."""
    d = np.maximum(np.abs(np.diff(frames.astype(np.float32), axis=0)) - 12, 0)  # ignore noise, slow drift
    energy = d.sum(0) + 1e-6
    rows = energy.sum(1)
    cum = np.cumsum(rows) / rows.sum()
    y0, y1 = np.searchsorted(cum, 0.03), np.searchsorted(cum, 0.97) + 1
    h = max(y1 - y0, 4)
    profile = np.array([rows[y0 + i * h // 8: y0 + (i + 1) * h // 8].sum() for i in range(8)]) / rows.sum()
    et = d.sum((1, 2)) + 1e-6
    xs, ys = np.arange(d.shape[2]), np.arange(d.shape[1])
    cx = (d.sum(1) * xs).sum(1) / et
    cy = (d.sum(2) * ys).sum(1) / et
    sx = np.sqrt(np.maximum((d.sum(1) * xs ** 2).sum(1) / et - cx ** 2, 0)) / h
    sy = np.sqrt(np.maximum((d.sum(2) * ys ** 2).sum(1) / et - cy ** 2, 0)) / h
    spectrum = np.abs(np.fft.rfft(et - et.mean()))[1:7]
    spectrum /= spectrum.sum() + 1e-6
    travel = [abs(cx[-1] - cx[0]) / h, np.abs(np.diff(cx)).mean() / h, np.abs(np.diff(cy)).mean() / h, cy.std() / h]
    return np.concatenate([profile, spectrum, travel, [sx.mean(), sx.std(), sy.mean(), sy.std(),
                                                       et.std() / et.mean(), np.log(et.mean() / h ** 2)]])


def test_a_tiny_classifier_trained_on_train_actors_recognises_unseen_actors():
    cfg = ActionConfig(res=64)
    per_class = 18  # each actor twice per class: 12 train and 6 test clips per class
    # (over seeds this scores 0.5-0.75 at 64 px; chance is 0.1)
    motion, looks, labels, splits = [], [], [], []
    for index in range(per_class * len(ACTIONS)):
        frames, label, split, _ = clip_for_index(21, index, per_class, cfg)
        motion.append(_motion_features(frames))
        looks.append([frames.mean(), frames.std(), np.median(frames)])
        labels.append(label)
        splits.append(split)
    y, splits = np.array(labels), np.array(splits)
    train, test = splits == "train", splits == "test"
    assert train.sum() == 120 and test.sum() == 60

    def nearest_centroid_accuracy(x):
        z = (x - x[train].mean(0)) / (x[train].std(0) + 1e-6)
        centroids = np.stack([z[train & (y == c)].mean(0) for c in range(len(ACTIONS))])
        pred = np.argmin(((z[test, None] - centroids[None]) ** 2).sum(-1), axis=1)
        return (pred == y[test]).mean()

    accuracy = nearest_centroid_accuracy(np.array(motion))
    assert accuracy > 0.4, f"nearest-centroid accuracy on unseen actors {accuracy:.2f} (chance 0.10)"
    # appearance alone (brightness and contrast of the clip) says nothing about the action
    assert nearest_centroid_accuracy(np.array(looks)) < 0.25
