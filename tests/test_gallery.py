"""The gallery: one picture and one animation per family and per augmentation, each showing its effect."""
import numpy as np
import pytest
from PIL import Image

from fractalvid.cli import main
from fractalvid.clips.generate import FAMILIES
from fractalvid.gallery import EFFECTS, augment_views, family_clips, gallery


def test_gallery_writes_a_sheet_and_an_animation_per_family_and_effect(tmp_path):
    written = gallery(tmp_path, clips=2, res=64, families=("fractal", "dead_leaves"))
    names = {(p.parent.name, p.stem) for p in written}
    assert {("families", "fractal"), ("families", "dead_leaves")} <= names
    assert {("augment", e) for e in (*EFFECTS, "none", "all", "standard")} <= names
    for png in written:
        sheet = np.asarray(Image.open(png).convert("L"))
        assert sheet.std() > 5, f"{png} is blank"
        gif = Image.open(png.with_suffix(".gif"))
        assert gif.n_frames >= 18


def test_each_effect_changes_the_clips_and_none_is_the_input():
    clips = family_clips("fractal", clips=3, res=64, seed=1)
    views = augment_views(clips, seed=1)
    t = min(c.shape[0] for c in clips)
    assert np.array_equal(augment_views(clips, seed=1, shrink=1.0)["none"], np.stack([c[:t] for c in clips]))
    lit = views["none"] > 0  # shrunk to 0.6 and centred: nothing lit near the border
    assert lit[..., :10, :].sum() == 0 and lit[..., :, -10:].sum() == 0 and lit.any()
    for name in (*EFFECTS, "all", "standard"):
        assert views[name].shape == views["none"].shape
        assert np.abs(views[name].astype(int) - views["none"]).mean() > 1, f"{name} left the clips unchanged"


def test_every_family_has_clips():
    for family in FAMILIES:
        clips = family_clips(family, clips=2, res=64)
        assert len(clips) == 2 and all(c.dtype == np.uint8 and c.shape[1:] == (64, 64) for c in clips)


@pytest.mark.parametrize("kwargs, match", [({"clips": 1}, "clips=1"), ({"res": 33}, "res=33"),
                                           ({"families": ("fractal", "mandelbrot")}, "mandelbrot")])
def test_bad_gallery_values_are_named(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        gallery(tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())  # nothing written before the check


def test_cli_gallery_and_bad_training_values(tmp_path, capsys):
    assert main(["gallery", str(tmp_path / "g"), "--clips", "1"]) == 2
    assert "clips=1" in capsys.readouterr().err
    assert main(["finetune", str(tmp_path / "run"), "--data", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert "absent" in err and "manifest.csv" in err
    assert main(["pretrain", str(tmp_path / "run"), "--data", "x", "--arch", "resnet9"]) == 2
    assert "arch='resnet9'" in capsys.readouterr().err
    assert main(["pretrain", str(tmp_path / "run"), "--data", "x", "--set", "task=finetune"]) == 2
    assert "task='finetune'" in capsys.readouterr().err
    assert main(["data", "prepare", "ucf101", str(tmp_path / "nothing"), str(tmp_path / "out")]) == 2
    assert "nothing" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
