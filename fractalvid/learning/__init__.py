"""Learning: networks (models, x3d), self-supervised objectives (selfsup), input transforms (presets), the
real-video emulation (augment), training datasets (data, stream), which clips train (splits), the
training run (train) and its folder read back (runs)."""
