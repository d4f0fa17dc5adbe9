"""fractalvid: fractal video pre-training for action recognition (arXiv 2411.17584).

    from fractalvid import DatasetSpec, FractalConfig, generate, open_dataset
    generate("data/fractal", DatasetSpec(classes=10, per_class=20))
    ds = open_dataset("data/fractal"); frames, label = ds[0]
"""
from .version import __version__  # noqa: F401

# first, before torch computes anything: the instruction-set caps (the same digits on x86-64 CPUs of one vendor)
from .numerics import pin_instruction_sets  # noqa: E402

pin_instruction_sets()

from .clips.generate import DatasetSpec, generate, make_clip, merge  # noqa: E402
from .clips.ifs import FractalConfig  # noqa: E402
from .storage.store import open_dataset  # noqa: E402

__all__ = ["DatasetSpec", "FractalConfig", "generate", "make_clip", "merge", "open_dataset"]
