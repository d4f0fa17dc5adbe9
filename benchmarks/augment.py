"""Augmentation cost beside a training step, measured side by side in one run.

    python benchmarks/augment.py --json          # one JSON line
    python benchmarks/augment.py --input-size 128

augment_ms_per_batch: RealVideoAugment (paper settings, full ranges: after the
curriculum) followed by StandardAugment (pre-training: crop area 0.9-1, flip,
RandAugment 2 x 7, blur p 0.5, ImageNet normalisation, grey -> 3 channels) on one
batch of --batch grey clips x --frames frames. Input size: the data loader is expected
to resize the stored 256 px clips to the training size (112) before augmentation,
so --input-size defaults to 112; the augmentations accept any size (--input-size 128
measures clips loaded at 128 px and cropped down to 112).

train_step_ms_per_batch: TSM-ResNet50 (fractalvid.learning.models.build_model("tsm_r50"), 500
classes; a torchvision ResNet-50 over the B*T frames where that module is missing)
forward + cross-entropy + backward on the augmented batch. The two are timed in
turn (augment, step, augment, step, ...) so both see the same machine load; each
figure is the median of --repeats after one warm-up. ratio = augment / step, which
the project keeps at or below 0.25. torch's default thread count.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from fractalvid.learning.augment import AugmentConfig, RealVideoAugment
from fractalvid.learning.presets import StandardAugment


def fake_clips(batch: int, frames: int, size: int, g: torch.Generator) -> torch.Tensor:
    """Grey clips that look like the generator's: sparse bright structure on black, drifting."""
    dots = (torch.rand(batch, 1, 1, size, size, generator=g) > 0.97).float()
    base = F.avg_pool3d(dots, (1, 5, 5), stride=1, padding=(0, 2, 2)) * 6
    shifts = [torch.roll(base, shifts=(t, t // 2), dims=(3, 4)) for t in range(frames)]
    return torch.cat(shifts, dim=2).clamp(0, 1)


def train_step_fn(batch: int, frames: int, classes: int = 500):
    try:
        from fractalvid.learning.models import build_model
        model, name = build_model("tsm_r50", num_classes=classes, frames=frames), "tsm_r50"
    except ImportError:
        import torchvision
        net = torchvision.models.resnet50(num_classes=classes)

        class Frames(torch.nn.Module):  # average consensus over frames, as TSM without the shift
            def __init__(self):
                super().__init__()
                self.net = net

            def forward(self, x):
                b, c, t, h, w = x.shape
                return self.net(x.transpose(1, 2).reshape(b * t, c, h, w)).view(b, t, -1).mean(1)
        model, name = Frames(), "torchvision_resnet50_frames"
    model.train()
    labels = torch.arange(batch) % classes

    def step(x):
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        model.zero_grad(set_to_none=True)
    return step, name


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--input-size", type=int, default=112)
    parser.add_argument("--size", type=int, default=112, help="training size (StandardAugment output)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    args = parser.parse_args()

    g = torch.Generator().manual_seed(0)
    x = fake_clips(args.batch, args.frames, args.input_size, g)
    real = RealVideoAugment(AugmentConfig())
    standard = StandardAugment(train=True, size=args.size, crop_scale=(0.9, 1.0))
    step, model_name = train_step_fn(args.batch, args.frames)

    real_ms, standard_ms, step_ms = [], [], []
    for i in range(args.repeats + 1):
        t0 = time.perf_counter()
        y = real(x, g)
        t1 = time.perf_counter()
        z = standard(y, g)
        t2 = time.perf_counter()
        step(z)
        t3 = time.perf_counter()
        if i > 0:  # the first round warms up
            real_ms.append(1e3 * (t1 - t0))
            standard_ms.append(1e3 * (t2 - t1))
            step_ms.append(1e3 * (t3 - t2))
    aug = [a + b for a, b in zip(real_ms, standard_ms)]
    result = {
        "benchmark": "augment",
        "batch": [args.batch, 1, args.frames, args.input_size, args.input_size],
        "output": list(z.shape),
        "augment_ms_per_batch": round(statistics.median(aug), 1),
        "real_video_ms": round(statistics.median(real_ms), 1),
        "standard_ms": round(statistics.median(standard_ms), 1),
        "train_step_ms_per_batch": round(statistics.median(step_ms), 1),
        "model": model_name,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
    }
    result["ratio"] = round(result["augment_ms_per_batch"] / result["train_step_ms_per_batch"], 4)
    result["ratio_ok"] = result["ratio"] <= 0.25
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
