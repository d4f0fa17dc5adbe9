"""fractalvid: fractal video pre-training for action recognition (arXiv 2411.17584).

    from fractalvid import DatasetSpec, FractalConfig, generate, open_dataset
    generate("data/fractal", DatasetSpec(classes=10, per_class=20))
    ds = open_dataset("data/fractal"); frames, label = ds[0]
"""
__version__ = "0.1.0"

from .generate import DatasetSpec, generate, make_clip, merge  # noqa: E402
from .ifs import FractalConfig  # noqa: E402
from .store import open_dataset  # noqa: E402

__all__ = ["DatasetSpec", "FractalConfig", "generate", "make_clip", "merge", "open_dataset"]
