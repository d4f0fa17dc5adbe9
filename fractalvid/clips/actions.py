"""A built-in downstream benchmark: procedurally rendered people performing 10 actions.

This is a *stand-in* for a real action dataset, modelled on the Weizmann
"actions as space-time shapes" set (Blank et al., ICCV 2005): the same ten
classes, a fixed cast of nine actors, a static-ish camera, one person per clip.
It exists so that the default pipeline (pre-train on fractals, fine-tune on a
downstream set, compare with training from scratch) runs offline, with no
download. It does not replace real data: its figures are stick-like, its
motions are hand-written joint-angle curves, and numbers measured on it say
whether the pipeline works and roughly how pre-training helps, not what the
paper reports on HMDB51 or UCF101.

The classes (Weizmann's descriptions):

    bend   bend at the waist towards the ground and back up      (side view)
    jack   jumping jack                                          (front view)
    jump   jump forward on two legs, again and again             (side view)
    pjump  jump in place on two legs                             (front view)
    run    run across                                            (side view)
    side   gallop sideways                                       (front view)
    skip   skip forward, hopping on one leg then the other       (side view)
    walk   walk across                                           (side view)
    wave1  wave one hand over the head                           (front view)
    wave2  wave both hands over the head                         (front view)

How a clip is made (:func:`render_action`):

- The body (:class:`Body`, one per actor, :func:`actor_body`) is a 3D
  skeleton: pelvis, torso, neck and a round head; per side an upper arm,
  forearm (with hand), thigh, shin and foot. Every action uses the same body
  model; only the joint-angle trajectories differ, so the classes differ by
  motion (and by the pose that motion passes through), not by appearance.
- Pose is a set of joint angles, each a function of the phase of the action
  (periodic for cyclic actions), plus a hop height and a travel along the
  body's forward or sideways axis. The pelvis is put on the ground by the
  lowest foot, so legs carry the body and jumps leave the ground.
- The skeleton is turned by a yaw (side view about +-90 degrees, front view
  about 0, each jittered), projected orthographically and drawn as
  anti-aliased, tapered capsules (distance fields on each capsule's bounding
  box), far-side limbs slightly darker, in depth order.
- Variety: body proportions, thickness and clothing shades per actor; per
  clip the speed (cycles per clip), start phase, amplitude, small per-joint
  offsets and sway, direction (left/right), size and position; a background
  of smooth noise, a gradient and sometimes a floor and a few blurred blobs,
  of random brightness; camera jitter (a small random translation per frame);
  a camera that pans to follow when the actor would cross more than
  ``max_span`` of the frame; slight blur and sensor noise.
- Actors: ``actors`` fixed identities drawn from (seed, actor id); the
  ``test_actors`` are never in the training split, so test bodies are unseen.

Clips are grey uint8 (T, R, R), R = 128 and T = 20 by default (a model can
sample 8 frames with stride 2), at 12 fps. :func:`clip_for_index` is the
deterministic layout for a dataset: class-major indices, the j-th clip of a
class played by actor ``j % actors``, randomness from
``np.random.default_rng([seed, 0, index])``. Rendering needs numpy only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..checks import check as _check, is_int, is_number
from ..config import Settings

ACTIONS = ("bend", "jack", "jump", "pjump", "run", "side", "skip", "walk", "wave1", "wave2")
CLIP_STREAM, ACTOR_STREAM = 0, 1
LIMBS = ("la", "ra", "ll", "rl")          # left arm, right arm, left leg, right leg
SIDE = {"la": 1.0, "ra": -1.0, "ll": 1.0, "rl": -1.0}  # body +x is the body's own left
ANGLES = ("lean", "tilt") + tuple(f"{limb}_{k}" for limb in LIMBS for k in ("f", "b", "df", "db"))
# Standing still: arms hang slightly away from the body with soft elbows, knees barely bent.
NEUTRAL = {"lean": 4.0, "tilt": 0.0,
           **{f"{a}_{k}": v for a in ("la", "ra") for k, v in (("f", 0.0), ("b", 7.0), ("df", 12.0), ("db", 0.0))},
           **{f"{g}_{k}": v for g in ("ll", "rl") for k, v in (("f", 0.0), ("b", 2.5), ("df", -4.0), ("db", 0.0))}}


# ------------------------------------------------------------------ settings

@dataclass(frozen=True)
class ActionConfig(Settings):
    """Settings of the action benchmark; equal configs give byte-identical clips."""
    kind = "action"  # in messages: "unknown action setting(s) ..."

    res: int = 128                    # frame side in pixels
    frames: int = 20                  # frames per clip
    fps: float = 12.0                 # frame rate the motion speeds are meant for
    actors: int = 9                   # actor identities (Weizmann has 9)
    test_actors: tuple[int, ...] = (6, 7, 8)  # never in the training split
    min_height: float = 0.38          # standing height of the figure, fraction of res
    max_height: float = 0.58
    max_span: float = 0.6             # widest on-screen travel (fraction of res); the camera pans beyond it
    jitter: float = 0.7               # camera shake, std of the per-frame shift in pixels
    noise: float = 5.0                # largest std of the added pixel noise (grey levels)
    p_blur: float = 0.5               # probability of a slight blur
    p_clutter: float = 0.5            # probability of blurred blobs in the background

    def __post_init__(self):
        if isinstance(self.test_actors, list):  # from JSON/YAML
            object.__setattr__(self, "test_actors", tuple(self.test_actors))
        validate_config(self)

    @property
    def train_actors(self) -> tuple[int, ...]:
        return tuple(a for a in range(self.actors) if a not in self.test_actors)




def validate_config(c: ActionConfig) -> None:
    """Raise ValueError naming the first bad setting and what would be accepted."""
    _check(is_int(c.res) and 32 <= c.res <= 1024, "res", c.res, "an integer in [32, 1024]")
    _check(is_int(c.frames) and 2 <= c.frames <= 1000, "frames", c.frames, "an integer in [2, 1000]")
    _check(is_number(c.fps) and 1 <= c.fps <= 240, "fps", c.fps, "a number in [1, 240]")
    _check(is_int(c.actors) and 2 <= c.actors <= 1000, "actors", c.actors, "an integer in [2, 1000]")
    _check(isinstance(c.test_actors, tuple) and len(c.test_actors) >= 1
           and all(is_int(a) and 0 <= a < c.actors for a in c.test_actors)
           and len(set(c.test_actors)) == len(c.test_actors) and len(c.test_actors) < c.actors,
           "test_actors", c.test_actors,
           f"distinct actor ids in [0, actors={c.actors}), at least one, leaving at least one training actor")
    _check(is_number(c.min_height) and 0.1 <= c.min_height <= c.max_height, "min_height", c.min_height,
           "a fraction in [0.1, max_height]")
    _check(is_number(c.max_height) and c.max_height <= 0.7, "max_height", c.max_height,
           "a fraction in [min_height, 0.7]")
    _check(is_number(c.max_span) and 0.1 <= c.max_span <= 1.0, "max_span", c.max_span, "a fraction in [0.1, 1]")
    _check(is_number(c.jitter) and 0 <= c.jitter <= 4, "jitter", c.jitter, "a number of pixels in [0, 4]")
    _check(is_number(c.noise) and 0 <= c.noise <= 50, "noise", c.noise, "a grey-level std in [0, 50]")
    for name in ("p_blur", "p_clutter"):
        v = getattr(c, name)
        _check(is_number(v) and 0 <= v <= 1, name, v, "a probability in [0, 1]")


def action_index(action: int | str) -> int:
    """An action given by name or index -> its index in :data:`ACTIONS`."""
    if isinstance(action, str):
        _check(action in ACTIONS, "action", action, f"one of {ACTIONS} or an index in [0, {len(ACTIONS)})")
        return ACTIONS.index(action)
    _check(is_int(action) and 0 <= action < len(ACTIONS), "action", action,
           f"one of {ACTIONS} or an index in [0, {len(ACTIONS)})")
    return int(action)


# ------------------------------------------------------------------ actors

@dataclass(frozen=True)
class Body:
    """One actor: proportions (standing height is about 1), thickness, clothing and style."""

    head_r: float
    neck: float
    torso: float          # pelvis to neck
    shoulder_w: float     # half the distance between the shoulder joints
    hip_w: float          # half the distance between the hip joints
    upper_arm: float
    forearm: float        # elbow to fingertips
    thigh: float
    shin: float           # knee to ankle
    foot: float
    torso_r: float        # torso half-thickness at the chest (tapers towards the waist)
    arm_r: float
    leg_r: float
    skin: float           # grey levels 0..255
    hair: float
    shirt: float
    sleeves: float        # forearms: shirt colour (long sleeves) or skin
    pants: float
    shins: float          # shins: pants colour or skin (shorts)
    shoes: float
    speed: float          # personal tempo factor
    amplitude: float      # personal range-of-motion factor
    lean: float           # personal posture, degrees of forward lean

    @property
    def height(self) -> float:
        return self.shin + self.thigh + self.leg_r * 0.8 + self.torso + self.neck + 2 * self.head_r

    @property
    def leg(self) -> float:
        return self.thigh + self.shin


def actor_body(seed: int, actor_id: int, cfg: ActionConfig = ActionConfig()) -> Body:
    """The fixed body of actor ``actor_id``: a pure function of (seed, actor id)."""
    _check(is_int(actor_id) and 0 <= actor_id < cfg.actors, "actor_id", actor_id,
           f"an integer in [0, actors={cfg.actors})")
    rng = np.random.default_rng([seed, ACTOR_STREAM, actor_id])
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    build = u(0.85, 1.25)                            # slim .. heavy
    skin = u(90, 235)
    shirt = u(10, 245)
    pants = u(10, 210)
    return Body(head_r=u(0.062, 0.074), neck=u(0.03, 0.045), torso=u(0.28, 0.33),
                shoulder_w=u(0.095, 0.12), hip_w=u(0.05, 0.065),
                upper_arm=u(0.15, 0.19), forearm=u(0.17, 0.21), thigh=u(0.22, 0.26), shin=u(0.22, 0.26),
                foot=u(0.075, 0.095),
                torso_r=0.06 * build * u(0.9, 1.1), arm_r=0.027 * build * u(0.9, 1.1),
                leg_r=0.04 * build * u(0.9, 1.1),
                skin=skin, hair=u(10, 120) if rng.random() < 0.8 else u(150, 220), shirt=shirt,
                sleeves=shirt if rng.random() < 0.6 else skin, pants=pants,
                shins=pants if rng.random() < 0.75 else skin, shoes=u(10, 90),
                speed=u(0.9, 1.1), amplitude=u(0.85, 1.15), lean=u(-3, 5))


# ------------------------------------------------------------------ motion
# Each action maps phase ph (T,) in radians to joint angles in degrees.
# Angle conventions (see _skeleton): for a limb, f swings it forward (0 = hanging
# down, 90 = pointing forward), b raises it sideways away from the body (90 =
# horizontal, 180 = straight up); df and db are the lower segment's extra
# swing relative to the upper one (elbows bend forward: df > 0; knees bend
# backward: df < 0). lean tilts the torso forward, tilt sideways towards +x.
# hop is the height of the feet above the ground, fwd and lat the travel along
# the body's forward and left axes, all in body heights.

def _pos(x):
    return np.maximum(x, 0.0)


def _smooth01(x):
    """0..1 -> 0..1 with zero slope at both ends (dwells at the extremes)."""
    return x * x * (3 - 2 * x)


def _walk(ph, rng, body, p):
    for limb, shift in (("ll", 0.0), ("rl", math.pi)):
        q = ph + shift
        p[f"{limb}_f"] = 24 * np.sin(q) + 4
        p[f"{limb}_df"] = -(5 + 55 * _pos(np.cos(q + 0.4)) ** 2)   # knee folds in early swing
    for limb, shift in (("la", math.pi), ("ra", 0.0)):           # arms swing against the legs
        q = ph + shift
        p[f"{limb}_f"] = 22 * np.sin(q)
        p[f"{limb}_df"] = 15 + 15 * _pos(np.sin(q))
    p["lean"] = np.full_like(ph, 5.0)
    p["fwd"] = (ph - ph[0]) / (2 * math.pi) * 4 * body.leg * math.sin(math.radians(24)) * 0.95


def _run(ph, rng, body, p):
    for limb, shift in (("ll", 0.0), ("rl", math.pi)):
        q = ph + shift
        p[f"{limb}_f"] = 38 * np.sin(q) + 14
        p[f"{limb}_df"] = -(15 + 100 * _pos(np.cos(q + 0.5)) ** 1.5)  # heel kicks up behind
    for limb, shift in (("la", math.pi), ("ra", 0.0)):
        q = ph + shift
        p[f"{limb}_f"] = 40 * np.sin(q) + 8
        p[f"{limb}_df"] = 85 + 10 * np.sin(q)
    p["lean"] = np.full_like(ph, 13.0)
    p["hop"] = 0.05 * (0.5 - 0.5 * np.cos(2 * ph))                  # flight twice a cycle
    p["fwd"] = (ph - ph[0]) / (2 * math.pi) * 4 * body.leg * math.sin(math.radians(38)) * 1.35


def _skip(ph, rng, body, p):
    for limb, shift in (("ll", 0.0), ("rl", math.pi)):
        q = ph + shift
        up = _pos(np.sin(q)) ** 2                                      # this knee lifts high in front
        p[f"{limb}_f"] = 12 * np.sin(q) + 48 * up
        p[f"{limb}_df"] = -(8 + 80 * up)
    for limb, shift in (("la", math.pi), ("ra", 0.0)):
        q = ph + shift
        p[f"{limb}_f"] = 45 * np.sin(q) + 5
        p[f"{limb}_df"] = 25 + 25 * _pos(np.sin(q))
    p["lean"] = np.full_like(ph, 6.0)
    p["hop"] = 0.12 * np.abs(np.sin(ph)) ** 1.5                       # a hop on each step
    p["fwd"] = (ph - ph[0]) / (2 * math.pi) * 1.7 * body.leg


def _jump_pose(ph, p, crouch_thigh, crouch_knee, crouch_lean, arm_back, arm_up, height):
    crouch = _pos(np.cos(ph)) ** 1.5      # on the ground, knees bent, around ph = 0
    flight = _pos(-np.cos(ph))            # in the air around ph = pi
    for limb, off in (("ll", 2.0), ("rl", -2.0)):
        p[f"{limb}_f"] = crouch_thigh * crouch + 18 * flight + off
        p[f"{limb}_df"] = -(6 + crouch_knee * crouch + 40 * flight)
    for limb in ("la", "ra"):
        p[f"{limb}_f"] = -arm_back * crouch + arm_up * flight
    p["lean"] = 6 + crouch_lean * crouch
    p["hop"] = height * flight ** 1.2
    return crouch, flight


def _jump(ph, rng, body, p):
    _jump_pose(ph, p, 55, 105, 40, 50, 70, 0.13)
    for limb in ("la", "ra"):
        p[f"{limb}_df"] = np.full_like(ph, 15.0)
    # travel happens in the air: (ph - sin ph) grows fastest at ph = pi
    p["fwd"] = ((ph - np.sin(ph)) - (ph[0] - np.sin(ph[0]))) / (2 * math.pi) * 0.8 * body.height


def _pjump(ph, rng, body, p):
    crouch, flight = _jump_pose(ph, p, 50, 95, 22, 12, 12, 0.15)
    for limb in ("la", "ra"):
        p[f"{limb}_b"] = 10 + 14 * flight
        p[f"{limb}_df"] = 20 + 20 * crouch


def _jack(ph, rng, body, p):
    open_ = _smooth01(0.5 - 0.5 * np.cos(ph))   # 0 closed .. 1 open, pausing at both
    for limb in ("la", "ra"):
        p[f"{limb}_b"] = 8 + 158 * open_
        p[f"{limb}_df"] = 8 + 12 * (1 - open_)
        p[f"{limb}_db"] = 10 * open_
    for limb in ("ll", "rl"):
        p[f"{limb}_b"] = 3 + 20 * open_
        p[f"{limb}_f"] = 8 * np.abs(np.sin(ph))
        p[f"{limb}_df"] = -(5 + 18 * np.abs(np.sin(ph)))
    p["hop"] = 0.05 * np.abs(np.sin(ph))          # a jump to open and a jump to close


def _side(ph, rng, body, p):
    way = 1.0 if rng.random() < 0.5 else -1.0      # towards the body's left (+x) or right
    lead, trail = ("ll", "rl") if way > 0 else ("rl", "ll")
    apart = 0.5 - 0.5 * np.cos(ph)                 # the lead leg steps out, the trail leg closes in
    p[f"{lead}_b"] = 3 + 24 * apart
    p[f"{trail}_b"] = 3 + 8 * _pos(np.sin(ph - 1.0))
    for limb in ("ll", "rl"):
        p[f"{limb}_df"] = -(12 + 18 * _pos(np.sin(ph)))
        p[f"{limb}_f"] = 6 + 8 * _pos(np.sin(ph))
    for limb in ("la", "ra"):
        p[f"{limb}_b"] = 25 + 25 * apart
        p[f"{limb}_df"] = np.full_like(ph, 25.0)
    p["tilt"] = -6 * way * np.sin(ph)
    p["hop"] = 0.07 * _pos(np.cos(ph)) ** 2       # feet together in the air
    p["lat"] = way * ((ph - 0.6 * np.sin(ph)) - (ph[0] - 0.6 * np.sin(ph[0]))) / (2 * math.pi) * 0.5 * body.height


def _bend(ph, rng, body, p):
    down = _smooth01(0.5 - 0.5 * np.cos(ph))       # 0 upright .. 1 folded over
    p["lean"] = 4 + 96 * down
    for limb in ("ll", "rl"):
        p[f"{limb}_f"] = 14 * down
        p[f"{limb}_df"] = -(4 + 22 * down)
    for limb in ("la", "ra"):
        p[f"{limb}_f"] = p["lean"] * 0.9 + 12 * down   # arms hang, hands reach for the floor
        p[f"{limb}_df"] = 10 + 10 * down
    p["fwd"] = -0.12 * body.height * down            # hips go back to keep balance


def _wave(ph, rng, body, p, arms):
    for limb in arms:
        p[f"{limb}_b"] = 135 + 25 * np.sin(ph)
        p[f"{limb}_db"] = 25 + 40 * np.sin(ph - 0.9)     # the forearm whips over the head
        p[f"{limb}_df"] = 10 + 5 * np.sin(ph)
        p[f"{limb}_f"] = np.full_like(ph, 8.0)
    p["tilt"] = -2 * np.sin(ph) * (1 if arms == ("la",) else -1 if arms == ("ra",) else 0)


def _wave1(ph, rng, body, p):
    _wave(ph, rng, body, p, ("la",) if rng.random() < 0.5 else ("ra",))


def _wave2(ph, rng, body, p):
    _wave(ph, rng, body, p, ("la", "ra"))


@dataclass(frozen=True)
class _Motion:
    fn: Callable  # (phase, rng, body, pose dict to fill) -> None
    hz: tuple[float, float]   # cycles per second
    view: str                 # "side" (yaw about +-90 degrees) or "front" (about 0)


MOTIONS = {
    "bend": _Motion(_bend, (0.45, 0.7), "side"),
    "jack": _Motion(_jack, (1.0, 1.4), "front"),
    "jump": _Motion(_jump, (0.9, 1.25), "side"),
    "pjump": _Motion(_pjump, (1.3, 1.8), "front"),
    "run": _Motion(_run, (1.25, 1.6), "side"),
    "side": _Motion(_side, (1.3, 1.8), "front"),
    "skip": _Motion(_skip, (1.0, 1.35), "side"),
    "walk": _Motion(_walk, (0.85, 1.15), "side"),
    "wave1": _Motion(_wave1, (1.1, 1.6), "front"),
    "wave2": _Motion(_wave2, (1.1, 1.6), "front"),
}


def _pose(rng, name: str, ph: np.ndarray, body: Body) -> dict[str, np.ndarray]:
    """Joint angles (radians) and travel of every frame for action ``name``."""
    p: dict[str, np.ndarray] = {}
    MOTIONS[name].fn(ph, rng, body, p)
    t = np.arange(ph.size, dtype=np.float64)
    amp = body.amplitude * rng.uniform(0.9, 1.1)
    out = {}
    for k in ANGLES:
        base = NEUTRAL[k]
        v = base + amp * (np.broadcast_to(p.get(k, base), ph.shape) - base)
        # nobody holds still or repeats exactly: a small offset and a slow sway per joint
        v = v + rng.normal(0, 2.5) + rng.uniform(0, 2.5) * np.sin(t * rng.uniform(0.05, 0.3) + rng.uniform(0, 6.3))
        out[k] = np.radians(v)
    out["lean"] = out["lean"] + math.radians(body.lean)
    for k in ("hop", "fwd", "lat"):
        out[k] = np.broadcast_to(np.asarray(p.get(k, 0.0), np.float64), ph.shape).astype(np.float64)
    return out


# ------------------------------------------------------------------ skeleton

def _dir(f, b, side):
    """Unit direction (T, 3) of a limb swung forward by f and out sideways by b (radians)."""
    return np.stack([side * np.sin(b), -np.cos(b) * np.cos(f), np.cos(b) * np.sin(f)], axis=-1)


def _torso_rotation(lean, tilt):
    """(T, 3, 3): lean forward about the left axis, then tilt sideways."""
    cl, sl, ct, st = np.cos(lean), np.sin(lean), np.cos(tilt), np.sin(tilt)
    z, o = np.zeros_like(lean), np.ones_like(lean)
    rx = np.stack([np.stack([o, z, z], -1), np.stack([z, cl, -sl], -1), np.stack([z, sl, cl], -1)], -2)
    rz = np.stack([np.stack([ct, st, z], -1), np.stack([-st, ct, z], -1), np.stack([z, z, o], -1)], -2)
    return rz @ rx


def _skeleton(pose: dict, body: Body):
    """Capsules of every frame in body coordinates (x left, y up, z forward; pelvis at height 0).

    Returns the capsules' end points p0, p1 (T, N, 3), their end radii (N, 2),
    grey levels (N,) and sides (N,: +1 left limb, -1 right limb, 0 trunk and
    head), and ground (T,), the height of the lowest point of either foot.
    """
    rot = _torso_rotation(pose["lean"], pose["tilt"])
    T = rot.shape[0]
    up = lambda v: np.einsum("tij,j->ti", rot, np.asarray(v, np.float64))  # noqa: E731
    in_torso = lambda d: np.einsum("tij,tj->ti", rot, d)  # noqa: E731
    neck = up([0, body.torso, 0])
    head = up([0, body.torso + body.neck + body.head_r, 0])
    caps = []  # (start, end, r0, r1, shade, side)
    r_t = body.torso_r
    caps.append((np.zeros((T, 3)), neck, 0.85 * r_t, r_t, body.shirt, 0))  # spine
    for s in (1.0, -1.0):  # the torso's flanks give it width in front view
        sh = up([s * (body.shoulder_w - 0.6 * body.arm_r - 0.3 * r_t), body.torso - 0.03, 0])
        hp = np.tile([s * body.hip_w * 0.9, 0.0, 0.0], (T, 1))
        caps.append((hp, sh, 0.85 * r_t, 0.8 * r_t, body.shirt, 0))
    caps.append((neck, head, body.arm_r * 0.9, body.arm_r * 0.9, body.skin, 0))
    feet = []
    for limb in LIMBS:
        s = SIDE[limb]
        f, b, df, db = (pose[f"{limb}_{k}"] for k in ("f", "b", "df", "db"))
        if limb[1] == "a":
            root = up([s * body.shoulder_w, body.torso - 0.03, 0])
            elbow = root + in_torso(_dir(f, b, s)) * body.upper_arm
            hand = elbow + in_torso(_dir(f + df, b + db, s)) * body.forearm
            caps.append((root, elbow, body.arm_r, 0.9 * body.arm_r, body.shirt, s))
            caps.append((elbow, hand, 0.9 * body.arm_r, 0.75 * body.arm_r, body.sleeves, s))
        else:
            root = np.tile([s * body.hip_w, 0.0, 0.0], (T, 1))
            knee = root + _dir(f, b, s) * body.thigh
            ankle = knee + _dir(f + df, b + db, s) * body.shin
            toe = ankle + _dir(f + df + math.pi / 2, b + db, s) * body.foot
            caps.append((root, knee, body.leg_r, 0.85 * body.leg_r, body.pants, s))
            caps.append((knee, ankle, 0.85 * body.leg_r, 0.65 * body.leg_r, body.shins, s))
            caps.append((ankle, toe, 0.75 * body.leg_r, 0.6 * body.leg_r, body.shoes, s))
            feet += [ankle[:, 1] - 0.75 * body.leg_r, toe[:, 1] - 0.6 * body.leg_r]
    # the head last among equals: a disc, with a cap of hair on top
    caps.append((head, head, body.head_r, body.head_r, body.skin, 0))
    hair = head + up([0, 0.4 * body.head_r, -0.25 * body.head_r])   # on top, towards the back
    caps.append((hair, hair, 0.75 * body.head_r, 0.75 * body.head_r, body.hair, 0))
    p0 = np.stack([c[0] for c in caps], 1)
    p1 = np.stack([c[1] for c in caps], 1)
    radii = np.array([[c[2], c[3]] for c in caps])
    shades = np.array([c[4] for c in caps])
    sides = np.array([c[5] for c in caps])
    ground = np.min(np.stack(feet), axis=0)   # (T,) lowest point of either foot
    return p0, p1, radii, shades, sides, ground


# ------------------------------------------------------------------ drawing

def _capsule(img, mask, x0, y0, x1, y1, r0, r1, value):
    """Blend an anti-aliased tapered capsule into img (H, W) in place; pixel (i, j) has centre (j, i)."""
    h, w = img.shape
    rmax = max(r0, r1) + 1.0
    c0, c1 = max(int(min(x0, x1) - rmax), 0), min(int(max(x0, x1) + rmax) + 2, w)
    l0, l1 = max(int(min(y0, y1) - rmax), 0), min(int(max(y0, y1) + rmax) + 2, h)
    if c0 >= c1 or l0 >= l1:
        return
    xs = np.arange(c0, c1, dtype=np.float32)[None, :] - x0
    ys = np.arange(l0, l1, dtype=np.float32)[:, None] - y0
    dx, dy = x1 - x0, y1 - y0
    L2 = dx * dx + dy * dy
    # (np.minimum/np.maximum: np.clip's wrapper costs more than the arithmetic at these sizes)
    if L2 > 1e-9:
        t = np.minimum(np.maximum((xs * dx + ys * dy) * (1.0 / L2), 0.0), 1.0)
        ex, ey = xs - t * dx, ys - t * dy
        alpha = (r0 + 0.5) + (r1 - r0) * t - np.sqrt(ex * ex + ey * ey)
    else:
        alpha = (r0 + 0.5) - np.sqrt(xs * xs + ys * ys)
    alpha = np.minimum(np.maximum(alpha, 0.0), 1.0)
    region = img[l0:l1, c0:c1]
    region += alpha * (value - region)
    if mask is not None:
        np.maximum(mask[l0:l1, c0:c1], alpha, out=mask[l0:l1, c0:c1])


def _upsample(grid: np.ndarray, h: int, w: int) -> np.ndarray:
    """Smooth (cosine-eased bilinear) upsampling of a small grid to (h, w)."""
    def weights(n_in, n_out):
        pos = np.linspace(0, n_in - 1, n_out)
        i0 = np.minimum(pos.astype(int), n_in - 2)
        fr = _smooth01(pos - i0)
        m = np.zeros((n_out, n_in))
        m[np.arange(n_out), i0] = 1 - fr
        m[np.arange(n_out), i0 + 1] = fr
        return m
    return weights(grid.shape[0], h) @ grid @ weights(grid.shape[1], w).T


def _background(rng, h: int, w: int, ground_y: float, avoid: tuple[float, ...], cfg: ActionConfig):
    """A static scene (h, w) float32: smooth texture, gradient, maybe a floor and blobs.

    Its brightness keeps away from the grey levels in ``avoid`` (the clothes)
    where it can, so that torso and legs stand out, as a camera operator would see to.
    """
    best, best_gap = 128.0, -1.0
    for _ in range(20):
        mean = rng.uniform(20, 235)
        gap = min(abs(mean - a) for a in avoid)
        if gap > best_gap:
            best, best_gap = mean, gap
        if gap > 50:
            break
    mean = best
    contrast = rng.uniform(4, 30)
    img = np.full((h, w), mean)
    for k, cells in enumerate((3, 6, 12)):
        gh, gw = cells + 1, max(2, int(cells * w / h) + 1)
        img += contrast * 0.6 ** k * _upsample(rng.standard_normal((gh, gw)), h, w)
    ang = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img += rng.uniform(-30, 30) * (np.cos(ang) * xx + np.sin(ang) * yy)
    if rng.random() < 0.5:  # a floor of another shade, with a soft edge just below the feet
        edge = ground_y + rng.uniform(-0.06, 0.03) * h
        img += rng.uniform(-35, 35) / (1 + np.exp(-(yy * max(h, w) - edge) / 1.5))
    if rng.random() < cfg.p_clutter:
        for _ in range(rng.integers(1, 6)):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            sig = rng.uniform(0.03, 0.12) * h
            img += rng.uniform(-70, 70) * np.exp(-((yy * max(h, w) - cy) ** 2 + (xx * max(h, w) - cx) ** 2)
                                                  / (2 * sig * sig))
    return img.astype(np.float32)


def _blur(frames: np.ndarray) -> np.ndarray:
    """One pass of the separable [1, 2, 1] / 4 kernel over each frame (edges repeated)."""
    p = np.pad(frames, ((0, 0), (1, 1), (1, 1)), mode="edge")
    v = 0.25 * p[:, :-2] + 0.5 * p[:, 1:-1] + 0.25 * p[:, 2:]
    return 0.25 * v[:, :, :-2] + 0.5 * v[:, :, 1:-1] + 0.25 * v[:, :, 2:]


def _render(rng: np.random.Generator, action: int | str, body: Body, cfg: ActionConfig, with_mask: bool):
    a = action_index(action)
    name = ACTIONS[a]
    T, R = cfg.frames, cfg.res
    motion = MOTIONS[name]

    # --- motion: tempo, phase, pose
    hz = rng.uniform(*motion.hz) * body.speed
    ph = rng.uniform(0, 2 * math.pi) + 2 * math.pi * hz * np.arange(T) / cfg.fps
    pose = _pose(rng, name, ph, body)
    p0, p1, radii, shades, sides, ground = _skeleton(pose, body)
    pelvis = np.stack([pose["lat"], pose["hop"] - ground, pose["fwd"]], -1)  # (T, 3) body coords
    p0, p1 = p0 + pelvis[:, None], p1 + pelvis[:, None]

    # --- view: yaw about the vertical, then orthographic projection
    if motion.view == "side":
        yaw = math.radians((90 + rng.uniform(-20, 20)) * (1 if rng.random() < 0.5 else -1))
    else:
        yaw = math.radians(rng.uniform(-30, 30))
    cos_y, sin_y = math.cos(yaw), math.sin(yaw)
    X0, X1 = p0[..., 0] * cos_y + p0[..., 2] * sin_y, p1[..., 0] * cos_y + p1[..., 2] * sin_y
    depth = 0.5 * ((p0[..., 2] + p1[..., 2]) * cos_y - (p0[..., 0] + p1[..., 0]) * sin_y)  # larger = nearer
    depth = depth + 1e-4 * np.arange(len(shades))  # ties keep drawing order
    depth[:, -1] = depth[:, -2] + 1e-4              # the hair right after the head it sits on
    # far-side limbs in shadow, as real limbs are
    shade = shades[None, :] * np.where((sides[None, :] != 0) & (depth < -0.03), 0.78, 1.0)
    light = rng.uniform(0.85, 1.1)                  # lighting of this clip
    shade = shade * light

    # --- size and place; a camera that pans to follow long travel
    height_px = rng.uniform(cfg.min_height, cfg.max_height) * R
    sc = height_px / body.height
    path = sc * (pelvis[:, 0] * cos_y + pelvis[:, 2] * sin_y)               # pelvis screen x, relative
    span = float(path.max() - path.min())
    pan = np.zeros(T)
    if span > cfg.max_span * R:
        pan = (path - path[0]) * (1 - cfg.max_span * R / span)
    onscreen = path - pan
    centre = rng.uniform(0.38, 0.62) * R
    cx = centre - 0.5 * (onscreen.max() + onscreen.min())
    ground_y = rng.uniform(max(0.72 * R, 1.3 * height_px + 2), 0.97 * R)
    ground_y = min(ground_y, R - 2.0)

    # --- camera jitter: a mean-reverting random walk, in whole pixels
    lim = int(math.ceil(2 * cfg.jitter))
    jit = np.zeros((T, 2))
    if cfg.jitter > 0:
        for t in range(T):
            jit[t] = (0.6 * jit[t - 1] if t else 0.0) + rng.normal(0, cfg.jitter, 2)
    jit = np.clip(np.round(jit), -lim, lim).astype(int)
    pan_i = np.round(pan).astype(int)
    m = lim + 1
    bg_w = R + 2 * m + int(pan_i.max() - pan_i.min())
    avoid = (light * body.shirt, light * body.pants, light * body.shins)
    scene = _background(rng, R + 2 * m, bg_w, ground_y + m, avoid, cfg)

    frames = np.empty((T, R, R), np.float32)
    mask = np.zeros((T, R, R), np.float32) if with_mask else None
    sx0, sy0 = cx + sc * X0 - jit[:, None, 0] - pan[:, None], ground_y - sc * p0[..., 1] - jit[:, None, 1]
    sx1, sy1 = cx + sc * X1 - jit[:, None, 0] - pan[:, None], ground_y - sc * p1[..., 1] - jit[:, None, 1]
    rad = (radii * sc).tolist()
    order = np.argsort(depth, axis=1, kind="stable").tolist()
    sx0, sy0, sx1, sy1, shade = sx0.tolist(), sy0.tolist(), sx1.tolist(), sy1.tolist(), shade.tolist()
    for t in range(T):
        ox = m + pan_i[t] - pan_i.min() + jit[t, 0]
        oy = m + jit[t, 1]
        img = frames[t]
        img[:] = scene[oy:oy + R, ox:ox + R]
        mk = mask[t] if with_mask else None
        for n in order[t]:
            _capsule(img, mk, sx0[t][n], sy0[t][n], sx1[t][n], sy1[t][n], rad[n][0], rad[n][1], shade[t][n])
    blur = rng.random() < cfg.p_blur
    if blur:
        frames = _blur(frames)
    sigma = rng.uniform(0.3, 1.0) * cfg.noise
    frames += rng.standard_normal(frames.shape, dtype=np.float32) * np.float32(sigma)
    out = np.clip(np.rint(frames), 0, 255).astype(np.uint8)
    info = {"action": name, "hz": round(float(hz), 4), "cycles": round(float(hz * T / cfg.fps), 4),
            "yaw": round(math.degrees(yaw), 2), "height_px": round(float(height_px), 2),
            "travel_px": round(span, 2), "pan_px": round(float(pan[-1] - pan[0]), 2),
            "blur": bool(blur), "noise": round(float(sigma), 3)}
    return out, mask, info


def render_action(rng: np.random.Generator, action: int | str, body: Body, cfg: ActionConfig = ActionConfig(),
                  with_mask: bool = False):
    """One clip of ``body`` performing ``action``: uint8 (T, R, R).

    With ``with_mask=True`` returns (frames, mask), mask float32 (T, R, R) in
    [0, 1], the figure's coverage of each pixel before blur and noise.
    """
    frames, mask, _ = _render(rng, action, body, cfg, with_mask)
    return (frames, mask) if with_mask else frames


def clip_layout(index: int, per_class: int, cfg: ActionConfig = ActionConfig()) -> tuple[int, int, str]:
    """Where clip ``index`` sits, without rendering it: (label, actor, split).

    Class c owns indices c * per_class .. (c + 1) * per_class - 1; the j-th
    clip of a class is played by actor j % cfg.actors, and its split is
    "test" when that actor is a test actor, "train" otherwise.
    """
    _check(is_int(per_class) and per_class >= 1, "per_class", per_class, "an integer >= 1")
    _check(is_int(index) and 0 <= index < per_class * len(ACTIONS), "index", index,
           f"an integer in [0, {per_class * len(ACTIONS)}) ({len(ACTIONS)} classes x per_class={per_class})")
    label, j = divmod(int(index), per_class)
    actor = j % cfg.actors
    return label, actor, ("test" if actor in cfg.test_actors else "train")


def clip_for_index(seed: int, index: int, per_class: int, cfg: ActionConfig = ActionConfig()):
    """Clip ``index`` of the class-major layout -> (frames, label, split, info); pure in (seed, index, cfg).

    The layout is :func:`clip_layout`'s; the clip's randomness is
    ``np.random.default_rng([seed, 0, index])`` and its actor's body
    :func:`actor_body` (seed, actor), so any clip can be regenerated alone.
    info holds JSON-ready facts about the clip (actor, tempo, yaw, size, ...).
    """
    _check(is_int(seed) and 0 <= seed < 2**63, "seed", seed, "an integer in [0, 2**63)")
    label, actor, split = clip_layout(index, per_class, cfg)
    body = actor_body(seed, actor, cfg)
    frames, _, info = _render(np.random.default_rng([seed, CLIP_STREAM, int(index)]), label, body, cfg, False)
    info = {"index": int(index), "actor": actor, **info}
    return frames, label, split, info
