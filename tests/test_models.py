"""TSM models: the shift, where it sits, time mixing, shapes, heads, checkpoints, bad input."""
import datetime

import pytest
import torch
import torch.nn.functional as F
import torchvision

from conftest import tsm_kinetics_state_dict, write_tsm_kinetics_checkpoint
from fractalvid.learning.models import (LoadReport, TemporalShift, build_model, load_trunk, load_tsm_kinetics,
                                        temporal_shift, trunk_state_dict)


def clips(b=2, t=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, t, size, size, generator=g)


def seeded(arch, num_classes=5, seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(arch, num_classes, **kw)


def calibrated(model, seed=99):
    """The model in eval mode with BatchNorm statistics measured on one batch: a fresh
    model's running stats (mean 0, var 1) make MobileNetV2's eval features vanish (~1e-10),
    which would let comparisons pass for no reason."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None            # cumulative average: one batch sets the stats
    model.train()
    with torch.no_grad():
        model.frame_features(clips(b=2, t=4, seed=seed))
    return model.eval()


# -----------------------------------------------------------------------------
# the shift itself, on hand-made tensors

def test_shift_moves_one_eighth_each_way_with_zero_padding():
    b, t, c = 2, 3, 16                                   # fold = 16 // 8 = 2
    x5 = torch.zeros(b, t, c, 1, 2)
    for i in range(b):
        for j in range(t):
            for k in range(c):
                x5[i, j, k] = 1000 * i + 100 * j + k + 1    # every value non-zero and unique
    out = temporal_shift(x5.reshape(b * t, c, 1, 2), frames=t).reshape(b, t, c, 1, 2)
    for i in range(b):
        for j in range(t):
            for k in range(c):
                if k < 2:        # back in time: frame j sees frame j+1
                    want = x5[i, j + 1, k] if j + 1 < t else torch.zeros(1, 2)
                elif k < 4:      # forward in time: frame j sees frame j-1
                    want = x5[i, j - 1, k] if j >= 1 else torch.zeros(1, 2)
                else:
                    want = x5[i, j, k]
                assert torch.equal(out[i, j, k], want), (i, j, k)
    # clips never leak into each other: the last frame of clip 0 got zeros, not clip 1's first frame
    assert torch.all(out[0, -1, :2] == 0) and torch.all(out[1, 0, 2:4] == 0)


def test_shift_div_sets_the_fold_and_small_channel_counts_pass_through():
    x = torch.arange(2 * 8 * 1 * 1, dtype=torch.float32).reshape(2, 8, 1, 1) + 1
    out = temporal_shift(x, frames=2, shift_div=4)           # fold 2
    assert torch.equal(out[0, :2], x[1, :2]) and torch.all(out[1, :2] == 0)
    assert torch.equal(out[1, 2:4], x[0, 2:4]) and torch.all(out[0, 2:4] == 0)
    assert torch.equal(out[:, 4:], x[:, 4:])
    assert torch.equal(temporal_shift(x, frames=2, shift_div=16), x)   # fold 0: nothing moves


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int64])
def test_shift_keeps_dtype(dtype):
    x = torch.arange(4 * 16 * 2 * 2).reshape(4, 16, 2, 2).to(dtype)
    out = temporal_shift(x, frames=4)
    assert out.dtype == dtype
    assert torch.equal(out.double(), temporal_shift(x.double(), frames=4))


def test_shift_keeps_channels_last_layout_and_values():
    x = torch.randn(6, 16, 3, 5).contiguous(memory_format=torch.channels_last)
    out = temporal_shift(x, frames=3)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, temporal_shift(x.contiguous(), frames=3))


def test_shift_gradient_is_the_reverse_shift():
    x = torch.randn(6, 16, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: temporal_shift(v, 3), (x,))
    g = torch.randn(6, 16, 2, 2, dtype=torch.float64)
    (grad,) = torch.autograd.grad((temporal_shift(x, 3) * g).sum(), x)
    g5, grad5 = g.view(2, 3, 16, 2, 2), grad.view(2, 3, 16, 2, 2)
    assert torch.equal(grad5[:, 1:, :2], g5[:, :-1, :2]) and torch.all(grad5[:, 0, :2] == 0)
    assert torch.equal(grad5[:, :-1, 2:4], g5[:, 1:, 2:4]) and torch.all(grad5[:, -1, 2:4] == 0)


def test_shift_rejects_batches_that_are_not_whole_clips():
    with pytest.raises(ValueError, match="frames=4 does not divide"):
        temporal_shift(torch.zeros(6, 16, 2, 2), frames=4)
    with pytest.raises(ValueError, match=r"\(B\*T, C, H, W\)"):
        temporal_shift(torch.zeros(2, 16, 3, 2, 2), frames=3)


# -----------------------------------------------------------------------------
# where the shift sits: the residual branch only

def capture_inputs(module):
    seen = []
    return seen, module.register_forward_hook(lambda m, inp, out: seen.append((inp[0].detach(), out.detach())))


def test_resnet_block_shifts_its_residual_branch_not_its_identity():
    model = seeded("tsm_r18").eval()
    block = model.trunk.layer1[0]                 # BasicBlock without downsample: identity is the input
    assert isinstance(block.conv1, TemporalShift)
    seen_block, h1 = capture_inputs(block)
    seen_conv, h2 = capture_inputs(block.conv1.net)
    with torch.no_grad():
        model(clips(t=4))
    h1.remove(), h2.remove()
    (x, y), (conv_in, _) = seen_block[0], seen_conv[0]
    assert torch.equal(conv_in, temporal_shift(x, frames=4))
    with torch.no_grad():
        branch = block.bn2(block.conv2(F.relu(block.bn1(block.conv1.net(temporal_shift(x, 4))))))
    torch.testing.assert_close(y, F.relu(branch + x))


def test_mobilenet_shifts_exactly_the_residual_blocks():
    model = calibrated(seeded("tsm_mnv2"))
    blocks = [m for m in model.trunk.features if isinstance(m, torchvision.models.mobilenetv2.InvertedResidual)]
    shifted = [isinstance(m.conv[0], TemporalShift) for m in blocks]
    assert shifted == [m.use_res_connect for m in blocks] and sum(shifted) == 10
    block = next(m for m in blocks if m.use_res_connect)
    seen, h = capture_inputs(block)
    with torch.no_grad():
        model(clips(t=4))
    h.remove()
    x, y = seen[0]
    with torch.no_grad():
        torch.testing.assert_close(y, x + block.conv[1:](block.conv[0].net(temporal_shift(x, 4))))


@pytest.mark.parametrize("arch, count", [("tsm_r18", 8), ("tsm_r50", 16), ("tsm_mnv2", 10)])
def test_every_block_is_shifted_and_shift_div_zero_is_a_tsn(arch, count):
    assert sum(isinstance(m, TemporalShift) for m in build_model(arch, 3).modules()) == count
    assert not any(isinstance(m, TemporalShift) for m in build_model(arch, 3, shift_div=0).modules())


# -----------------------------------------------------------------------------
# time mixing

def test_tsm_mixes_frames_and_tsn_does_not():
    x = clips(b=1, t=4)
    bumped = x.clone()
    bumped[:, :, 0] += 1.0                           # perturb frame 0 only
    for shift_div, spreads in ((0, False), (8, True)):
        model = calibrated(seeded("tsm_r18", shift_div=shift_div))
        with torch.no_grad():
            diff = (model.frame_features(bumped) - model.frame_features(x)).abs().amax(dim=2)[0]
        assert diff[0] > 1e-3
        if spreads:      # 8 shifted blocks reach every frame of a 4-frame clip
            assert torch.all(diff[1:] > 1e-4), diff
        else:            # without the shift, frames are independent images
            assert torch.all(diff[1:] == 0), diff


def test_frame_order_matters_to_tsm_only():
    x = clips(b=2, t=4)
    perm = torch.tensor([2, 0, 3, 1])
    for shift_div, invariant in ((0, True), (8, False)):
        model = calibrated(seeded("tsm_r18", shift_div=shift_div))
        with torch.no_grad():
            a, b = model.features(x), model.features(x[:, :, perm])
        assert torch.allclose(a, b, atol=1e-5) == invariant


def test_frames_come_from_the_input_not_the_constructor():
    model = calibrated(seeded("tsm_r18", frames=8))
    for t in (1, 3, 6):
        x = clips(b=2, t=t)
        with torch.no_grad():
            out = model(x)
            # each clip alone gives the same answer: the shift never crosses clips
            alone = torch.cat([model(x[i:i + 1]) for i in range(2)])
        assert out.shape == (2, 5)
        torch.testing.assert_close(out, alone, rtol=1e-4, atol=1e-5)


# -----------------------------------------------------------------------------
# shapes, consensus, heads, gradients

@pytest.mark.parametrize("arch, feat_dim", [("tsm_r18", 512), ("tsm_r50", 2048), ("tsm_mnv2", 1280)])
def test_output_and_feature_shapes(arch, feat_dim):
    model = calibrated(seeded(arch, num_classes=7))
    x = clips(b=2, t=2) if arch == "tsm_r50" else clips(b=2, t=4)
    with torch.no_grad():
        assert model(x).shape == (2, 7)
        assert model.features(x).shape == (2, feat_dim)
        assert model.frame_features(x).shape == (2, x.shape[2], feat_dim)
    assert (model.arch, model.feat_dim, model.frames, model.num_classes) == (arch, feat_dim, 8, 7)


def test_consensus_is_the_mean_of_per_frame_logits():
    model = calibrated(seeded("tsm_mnv2"))
    with torch.no_grad():
        model.head.weight.normal_(0.0, 1.0)     # the initial head is tiny: make the logits differ visibly
    x = clips(b=3, t=4)
    with torch.no_grad():
        per_frame = model.head(model.frame_features(x))          # (B, T, classes)
        out = model(x)
        torch.testing.assert_close(out, per_frame.mean(dim=1))
        torch.testing.assert_close(out, model.head(model.features(x)), rtol=1e-4, atol=1e-6)
        assert (out - per_frame[:, 0]).abs().max() > 1e-3   # not just one frame's answer           # not just one frame's answer


def test_dropout_is_active_in_training_only():
    model = seeded("tsm_r18", dropout=0.8)
    x = clips(b=2, t=2)
    model.train()
    for m in model.modules():      # keep BatchNorm deterministic: only dropout may differ
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x))
        model.eval()
        torch.testing.assert_close(model(x), model(x))


def test_reset_head_replaces_only_the_head():
    model = seeded("tsm_r18", num_classes=5).eval()
    trunk_before = {k: v.clone() for k, v in trunk_state_dict(model).items()}
    model.reset_head(11)
    assert model.num_classes == 11 and model.head.out_features == 11 and model.head.in_features == 512
    assert model(clips(t=2)).shape == (2, 11)
    for k, v in trunk_state_dict(model).items():
        assert torch.equal(v, trunk_before[k]), k
    with pytest.raises(ValueError, match="num_classes=0"):
        model.reset_head(0)


def test_gradient_reaches_every_parameter():
    model = seeded("tsm_r18", num_classes=3)
    x = clips(b=2, t=4)
    loss = F.cross_entropy(model(x), torch.tensor([0, 2]))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.trunk.layer1[0].conv1.net.weight.grad.abs().sum() > 0
    assert model.trunk.conv1.weight.grad.abs().sum() > 0


def test_autocast_bfloat16_on_cpu():
    model = seeded("tsm_r18").eval()
    x = clips(b=1, t=2)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


# -----------------------------------------------------------------------------
# bad values

@pytest.mark.parametrize("kwargs, message", [
    (dict(arch="tsm_r34"), r"arch='tsm_r34' is not accepted: expected one of \('tsm_r18', 'tsm_r50', 'tsm_mnv2', "
                           r"'tsm_r18_w32', 'tsm_r18_w16', 'x3d_s', 'x3d_m'\)"),
    (dict(arch="x3d_l"), "arch='x3d_l'"),
    (dict(arch="x3d_m", dropout=1.0), r"dropout=1.0 .*\[0, 1\)"),
    (dict(arch="x3d_s", num_classes=0), "num_classes=0"),
    (dict(num_classes=0), "num_classes=0"),
    (dict(num_classes=2.5), "num_classes=2.5"),
    (dict(num_classes=True), "num_classes=True"),
    (dict(dropout=1.0), r"dropout=1.0 .*\[0, 1\)"),
    (dict(dropout=-0.1), "dropout=-0.1"),
    (dict(dropout="0.5"), "dropout='0.5'"),
    (dict(frames=0), "frames=0"),
    (dict(shift_div=1), "shift_div=1"),
    (dict(shift_div=-8), "shift_div=-8"),
])
def test_bad_build_values_raise(kwargs, message):
    args = dict(arch="tsm_r18", num_classes=5) | kwargs
    with pytest.raises(ValueError, match=message):
        build_model(**args)


@pytest.mark.parametrize("x, message", [
    (torch.zeros(8, 3, 32, 32), r"\(B, 3, T, H, W\).*got \(8, 3, 32, 32\)"),
    (torch.zeros(2, 1, 4, 32, 32), r"got \(2, 1, 4, 32, 32\)"),
    (torch.zeros(2, 3, 0, 32, 32), r"got \(2, 3, 0, 32, 32\)"),
    (torch.zeros(2, 3, 4, 32, 32, dtype=torch.uint8), "float clip.*torch.uint8"),
])
def test_bad_input_raises(x, message):
    model = build_model("tsm_mnv2", 5)
    with pytest.raises(ValueError, match=message):
        model(x)


# -----------------------------------------------------------------------------
# trunk checkpoints

def test_trunk_round_trip_through_a_file(tmp_path):
    src, dst = seeded("tsm_r18", num_classes=5, seed=1), seeded("tsm_r18", num_classes=9, seed=2)
    sd = trunk_state_dict(src)
    assert not any(k.startswith("head.") for k in sd) and "trunk.layer1.0.conv1.net.weight" in sd
    torch.save({"arch": src.arch, "state_dict": sd}, tmp_path / "trunk.pt")
    head_before = dst.head.weight.clone()
    report = load_trunk(dst, torch.load(tmp_path / "trunk.pt", weights_only=True))
    assert isinstance(report, LoadReport) and report.missing == [] and report.unexpected == []
    assert sorted(report.loaded) == sorted(sd)
    for k, v in trunk_state_dict(dst).items():
        assert torch.equal(v, sd[k]), k
    assert torch.equal(dst.head.weight, head_before)
    src.eval(), dst.eval()
    x = clips(t=2)
    with torch.no_grad():
        torch.testing.assert_close(dst.features(x), src.features(x))


def test_full_state_dict_with_module_prefix_skips_the_head():
    src, dst = seeded("tsm_mnv2", num_classes=5, seed=1), seeded("tsm_mnv2", num_classes=3, seed=2)
    full = {"module." + k: v for k, v in src.state_dict().items()}
    report = load_trunk(dst, full)
    assert report.skipped == ["head.bias", "head.weight"] and not report.head_loaded
    assert torch.equal(dst.trunk.features[3].conv[0].net[0].weight, src.trunk.features[3].conv[0].net[0].weight)
    assert dst.head.out_features == 3


def test_strict_trunk_and_missing_counters():
    src, dst = seeded("tsm_r18", seed=1), seeded("tsm_r18", seed=2)
    sd = trunk_state_dict(src)
    no_counters = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    assert load_trunk(dst, no_counters).missing                 # reported, not fatal
    partial = {k: v for k, v in sd.items() if k != "trunk.layer2.1.bn2.weight"}
    with pytest.raises(ValueError, match=r"missing from the checkpoint: trunk\.layer2\.1\.bn2\.weight"):
        load_trunk(dst, partial)
    report = load_trunk(dst, partial, strict_trunk=False)
    assert report.missing == ["trunk.layer2.1.bn2.weight"]
    assert torch.equal(dst.trunk.layer2[1].bn1.weight, src.trunk.layer2[1].bn1.weight)


def test_wrong_arch_checkpoints_raise_and_leave_the_model_alone():
    r18 = seeded("tsm_r18", seed=1)
    mnv2, r50 = seeded("tsm_mnv2", seed=2), seeded("tsm_r50", seed=3)
    r50_before = r50.trunk.conv1.weight.clone()
    with pytest.raises(ValueError, match=r"arch='tsm_r18'.*arch='tsm_mnv2'.*another architecture"):
        load_trunk(mnv2, {"arch": "tsm_r18", "state_dict": trunk_state_dict(r18)})
    with pytest.raises(ValueError, match=r"arch not saved.*arch='tsm_r50'.*differ in shape"):
        load_trunk(r50, trunk_state_dict(r18))
    assert torch.equal(r50.trunk.conv1.weight, r50_before)
    with pytest.raises(ValueError, match=r"arch='tsm_mnv2'.*none of its"):
        load_trunk(mnv2, trunk_state_dict(r18))
    with pytest.raises(ValueError, match="named tensors"):
        load_trunk(r18, {"epoch": 3, "weights": [1, 2]})


# -----------------------------------------------------------------------------
# the public TSM Kinetics-400 checkpoint format (faked with random tensors)

def our_name(key):
    key = key.removeprefix("module.")
    return "head." + key.removeprefix("new_fc.") if key.startswith("new_fc.") else "trunk." + key.removeprefix(
        "base_model.")


@pytest.fixture(scope="module")
def kinetics_file(tmp_path_factory):
    sd = tsm_kinetics_state_dict()
    return write_tsm_kinetics_checkpoint(tmp_path_factory.mktemp("tsm"), sd), sd


def test_kinetics_checkpoint_lands_in_the_right_parameters_with_its_head(kinetics_file):
    path, sd = kinetics_file
    model = seeded("tsm_r50", num_classes=400)
    report = load_tsm_kinetics(model, path)
    ours = model.state_dict()
    assert set(ours) == {our_name(k) for k in sd}                # every tensor has a place and vice versa
    for k, v in sd.items():
        assert torch.equal(ours[our_name(k)], v), k
    assert torch.equal(model.trunk.layer1[0].conv1.net.weight, sd["module.base_model.layer1.0.conv1.net.weight"])
    assert torch.equal(model.trunk.layer4[2].bn3.running_var, sd["module.base_model.layer4.2.bn3.running_var"])
    assert torch.equal(model.head.weight, sd["module.new_fc.weight"])
    assert report.head_loaded and report.missing == [] and report.unexpected == [] and report.skipped == []
    assert len(report.loaded) == len(sd)


def test_kinetics_checkpoint_keeps_our_head_for_other_classes(kinetics_file):
    path, sd = kinetics_file
    model = seeded("tsm_r50", num_classes=51)
    head_before = model.head.weight.clone()
    report = load_tsm_kinetics(model, str(path))
    assert torch.equal(model.head.weight, head_before)
    assert torch.equal(model.trunk.layer3[5].conv1.net.weight, sd["module.base_model.layer3.5.conv1.net.weight"])
    assert report.skipped == ["new_fc.bias", "new_fc.weight"] and not report.head_loaded


def test_plain_tsn_checkpoint_without_net_loads_too(tmp_path):
    sd = tsm_kinetics_state_dict(with_net=False, seed=1)
    torch.save({"state_dict": sd}, tmp_path / "tsn.pth")
    model = seeded("tsm_r50", num_classes=10)
    report = load_tsm_kinetics(model, tmp_path / "tsn.pth")
    assert report.missing == [] and report.unexpected == []
    assert torch.equal(model.trunk.layer2[3].conv1.net.weight, sd["module.base_model.layer2.3.conv1.weight"])


def test_kinetics_loader_errors(tmp_path):
    r50 = seeded("tsm_r50", num_classes=400)
    with pytest.raises(ValueError, match=r"arch='tsm_r50' only, got 'tsm_r18'"):
        load_tsm_kinetics(build_model("tsm_r18", 400), tmp_path / "whatever.pth")
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_tsm_kinetics(r50, tmp_path / "nope.pth")

    def saved(name, checkpoint):
        torch.save(checkpoint, tmp_path / name)
        return tmp_path / name

    deep = saved("r101.pth", {"arch": "resnet101", "state_dict": {
        "module.base_model.conv1.weight": torch.zeros(64, 3, 7, 7),
        "module.base_model.layer3.22.conv1.net.weight": torch.zeros(256, 1024, 1, 1),
        "module.new_fc.weight": torch.zeros(400, 2048), "module.new_fc.bias": torch.zeros(400)}})
    with pytest.raises(ValueError, match=r"TSM resnet101.*tsm_r50.*layer3\.22"):
        load_tsm_kinetics(r50, deep)
    small = saved("r18.pth", {"arch": "resnet18", "state_dict": {
        "module.base_model.layer1.0.conv1.net.weight": torch.zeros(64, 64, 3, 3),
        "module.new_fc.weight": torch.zeros(400, 512), "module.new_fc.bias": torch.zeros(400)}})
    with pytest.raises(ValueError, match=r"TSM resnet18.*tsm_r50.*\(64, 64, 3, 3\).*\(64, 64, 1, 1\)"):
        load_tsm_kinetics(build_model("tsm_r50", 10), small)
    with pytest.raises(ValueError, match=r"400 classes.*\(400, 512\)"):
        load_tsm_kinetics(r50, small)
    foreign = saved("moco.pth", {"state_dict": {"encoder_q.conv1.weight": torch.zeros(64, 3, 7, 7)}})
    with pytest.raises(ValueError, match="not in the TSM checkpoint format.*encoder_q"):
        load_tsm_kinetics(r50, foreign)
    pickled = saved("obj.pth", {"state_dict": {}, "when": datetime.date(2020, 1, 1)})
    with pytest.raises(ValueError, match="weights_only"):
        load_tsm_kinetics(r50, pickled)


# ------------------------------------------------------------------ X3D

def test_x3d_parameters_and_multiply_adds_match_the_x3d_paper():
    """Table 3 of Feichtenhofer (2020): X3D-S and X3D-M have 3.76 M parameters (400 classes); X3D-S costs
    1.96 G multiply-adds per 13 x 160^2 clip, X3D-M 4.73 G per 16 x 224^2 clip."""
    from fractalvid.learning.x3d import INPUTS, multiply_adds, parameters

    for arch, gmacs in (("x3d_s", 1.96), ("x3d_m", 4.73)):
        model = build_model(arch, 400)
        assert parameters(model) == pytest.approx(3.76e6, rel=0.05)
        i = INPUTS[arch]
        assert multiply_adds(model, i["frames"], i["size"]) / 1e9 == pytest.approx(gmacs, rel=0.02)
    assert INPUTS == {"x3d_s": dict(frames=13, stride=6, size=160), "x3d_m": dict(frames=16, stride=5, size=224)}


def test_x3d_takes_any_clip_and_has_the_tsm_interface():
    model = build_model("x3d_s", 7, dropout=0.0).eval()
    for t in (4, 13):
        x = clips(b=2, t=t, size=32)
        assert model(x).shape == (2, 7) and model.features(x).shape == (2, model.feat_dim) == (2, 2048)
    assert torch.allclose(model(x), model.head(model.features(x)), atol=1e-6)
    model.reset_head(3)
    assert model(x).shape == (2, 3) and model.num_classes == 3
    with pytest.raises(ValueError, match=r"x3d_s expects a float clip of shape \(B, 3, T, H, W\)"):
        model(torch.zeros(2, 1, 4, 32, 32))
    # a pre-trained X3D trunk moves to a new head, and not into a TSM
    other = build_model("x3d_s", 5)
    report = load_trunk(other, {"arch": "x3d_s", "state_dict": model.state_dict()})
    assert not report.head_loaded and not report.missing
    assert all(torch.equal(other.state_dict()[k], v) for k, v in model.state_dict().items() if not k.startswith("head"))
    with pytest.raises(ValueError, match="another architecture"):
        load_trunk(build_model("tsm_r18", 5), {"arch": "x3d_s", "state_dict": model.state_dict()})
