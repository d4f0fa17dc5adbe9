import numpy as np
import pytest

from fractalvid import DatasetSpec, FractalConfig

# Small but real: every stage of the generator runs, at a fraction of the paper's cost.
TINY = dict(res=64, walkers=32, steps=500, discard=50, framing_res=64, framing_steps=400)


@pytest.fixture
def tiny_cfg():
    return FractalConfig(**TINY)


@pytest.fixture
def tiny_spec(tiny_cfg):
    return DatasetSpec(classes=3, per_class=4, val_per_class=1, seed=5, chunk_size=5, fractal=tiny_cfg)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
