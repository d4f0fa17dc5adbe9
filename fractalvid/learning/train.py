"""Training: supervised and self-supervised (MoCo, SimCLR, BYOL) pre-training, fine-tuning, evaluation.

The shape follows torchvision's ``references/video_classification``: build the
data, the model and the optimiser from one :class:`TrainConfig`, then loop
``train_one_epoch`` / ``evaluate``, writing a checkpoint after every epoch.

A run lives in one folder::

    last.pt, previous.pt   the two newest checkpoints (model, optimiser, scheduler,
                           scaler, epoch, history, config), while the run trains; a run
                           restarted in the same folder resumes from ``last.pt``
                           (``previous.pt`` if that one is corrupt; from scratch,
                           saying so, if neither is readable)
    best.pt                with ``select_split`` (early stopping), while the run trains:
                           the weights of the epoch that scored best on that split
    model.pt               the final weights (with ``select_split``: the best epoch's),
                           with the arch, class names, config and history; a finished
                           run keeps it alone (no optimiser state: nothing is left to
                           resume), and restarted it only reports
    history.csv            one row per epoch: losses, top-1/top-5, lr, clips/s (with
                           ``select_split``: its loss and top-1 instead of val_split's)
    metrics.json           the last epoch's numbers (what ``dvc metrics`` shows), and
                           train_minutes: the training steps' wall time over all epochs
    confusion.csv          the last evaluation's confusion matrix (rows: truth)

Reproducibility. Every source of randomness is re-derived from (seed, epoch)
at the start of an epoch: the shuffling order, the clip sampling of each item,
the augmentation generator and torch's global generator (dropout, MoCo's
queue). So a run killed mid-way and restarted from its last checkpoint redoes
the interrupted epoch exactly as an uninterrupted run does it, and ends with the
same metrics (bit for bit on the CPU, within float noise on a GPU).

Distributed training: launched with ``torchrun --nproc-per-node N``, each
process trains on 1/N of every epoch (``DistributedSampler``; on a stream each
process draws its own, seeded from the seed and its rank), gradients are
averaged by ``DistributedDataParallel``, the learning rate scales with the
global batch, validation sees every video once, and rank 0 alone writes files.
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
import dataclasses
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from ..atomic import replacing, write_json
from ..config import differing
from ..numerics import machine, set_threads
from ..progress import terminal
from .augment import AugmentConfig, RealVideoAugment, tint
from .loaders import _distributed, _loader, _seed, build_data, setup_device
from .models import build_model, keep_stages, load_checkpoint, load_trunk, load_tsm_kinetics
from .presets import StandardAugment, load_size, luminance, normalise, resize_center_crop
from .selfsup import BYOL, MoCo, SelfSupervised, SimCLR
from .settings import (INITS, PARAMS_ONLY, SELF_SUPERVISED, TASKS, TrainConfig, config_from_params,  # noqa: F401
                       finetune_config, recipe, validate)   # a run's settings, named here too: callers look here

HISTORY_FIELDS = ("epoch", "lr", "train_loss", "train_top1", "val_loss", "val_top1", "val_top5", "clips_per_s",
                  "epoch_s")
SELECT_FIELDS = ("select_loss", "select_top1")   # the history's extra columns of a run with select_split


# ------------------------------------------------------------------ models

def build_model_for(cfg: TrainConfig, num_classes: int) -> nn.Module:
    """The network of a run, initialised as ``cfg.init`` says."""
    model = build_model(cfg.arch, max(num_classes, 1), frames=cfg.frames, dropout=cfg.dropout)
    fresh = keep_stages(model, cfg.reinit)   # the random weights of the stages to re-initialise
    if cfg.init.startswith("kinetics:"):
        load_tsm_kinetics(model, cfg.init.split(":", 1)[1])
    elif cfg.init != "scratch":
        state = load_checkpoint(cfg.init)
        if state["arch"] != cfg.arch:
            raise ValueError(f"init={cfg.init!r} holds a {state['arch']} network, but arch={cfg.arch!r}: "
                             f"set arch: {state['arch']} or choose a {cfg.arch} checkpoint")
        load_trunk(model, state["encoder"])
    model.load_state_dict(fresh, strict=False)
    if cfg.task == "moco":
        return MoCo(model, cfg.moco_dim, cfg.moco_queue, cfg.moco_momentum, cfg.moco_temperature)
    if cfg.task == "simclr":
        return SimCLR(model, cfg.moco_dim, cfg.moco_temperature)
    if cfg.task == "byol":
        return BYOL(model, cfg.moco_dim, cfg.moco_momentum)
    return model


def cosine_with_warmup(epochs: int, warmup: int, steps_per_epoch: int):
    """lr factor per step: linear warm-up over ``warmup`` epochs, then cosine to 0."""
    total, ramp = max(1, epochs * steps_per_epoch), warmup * steps_per_epoch

    def factor(step: int) -> float:
        if step < ramp:
            return (step + 1) / ramp
        return 0.5 * (1 + math.cos(math.pi * (step - ramp) / max(1, total - ramp)))

    return factor


def held_then_warmed(schedule, held: int, warmup: int, steps_per_epoch: int):
    """``schedule``'s lr factor per step, but 0 for the first ``held`` epochs, then ramped linearly from 0 over
    ``warmup`` epochs (at least one) back onto ``schedule``: the pre-trained trunk's lr under head_epochs.
    With ``held`` 0 it is ``schedule`` itself."""
    if held == 0:
        return schedule
    start, ramp = held * steps_per_epoch, max(1, warmup) * steps_per_epoch

    def factor(step: int) -> float:
        if step < start:
            return 0.0
        return min(1.0, (step - start + 1) / ramp) * schedule(step)

    return factor


# ---------------------------------------------------------------- one epoch

def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks=(1, 5)) -> list[int]:
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hit = top == labels[:, None]
    return [int(hit[:, :k].any(1).sum()) for k in ks]


@torch.no_grad()
def evaluate(model: nn.Module, dataset, cfg: TrainConfig, num_classes: int, device: torch.device,
             amp: bool = False, world: int = 1) -> tuple[dict, torch.Tensor]:
    """Top-1/top-5 and loss of scores averaged over each video's clips, and the confusion matrix (rows:
    truth); under DDP every rank scores its share and the sums are gathered."""
    model.eval()
    k = num_classes
    confusion = torch.zeros(k, k, dtype=torch.long)
    total = loss_sum = top1 = top5 = 0
    for clips, labels in _loader(dataset, cfg, 0, train=False, world=world):
        b, n = clips.shape[:2]
        x = clips.flatten(0, 1).to(device).float().div_(255)  # already resized and cropped
        x = normalise(luminance(x) if cfg.grey else x)
        with torch.autocast(device.type, enabled=amp):
            scores = model(x).float().softmax(1).view(b, n, -1).mean(1)
        labels = labels.to(device)
        loss_sum += float(F.nll_loss(scores.clamp_min(1e-8).log(), labels, reduction="sum"))
        c1, c5 = topk_correct(scores, labels)
        top1, top5, total = top1 + c1, top5 + c5, total + b
        confusion += torch.bincount((labels * k + scores.argmax(1)).cpu(), minlength=k * k).view(k, k)
    if _distributed():
        sums = torch.tensor([loss_sum, top1, top5, total], dtype=torch.float64, device=device)
        dist.all_reduce(sums)
        loss_sum, top1, top5, total = sums.tolist()
        confusion = confusion.to(device)
        dist.all_reduce(confusion)
        confusion = confusion.cpu()
    return {"val_loss": loss_sum / max(total, 1), "val_top1": top1 / max(total, 1),
            "val_top5": top5 / max(total, 1)}, confusion


class Run:
    """Everything a training run holds; ``fit()`` runs (or resumes) it."""

    def __init__(self, cfg: TrainConfig, out: str | os.PathLike, progress: bool = True,
                 keep_checkpoint: bool = False):
        self.cfg, self.out, self.progress, self.keep_checkpoint = cfg, Path(out), progress, keep_checkpoint
        self.device, self.rank, self.world = setup_device()
        set_threads(cfg.threads)
        self.machine = machine()   # what the digits depend on, recorded in the metrics
        torch.manual_seed(_seed(cfg.seed, 0, 0))
        self.train_set, self.val_set, self.select_set, self.classes = build_data(cfg, self.rank, self.world)
        num_classes = len(self.classes)
        if cfg.task not in SELF_SUPERVISED and num_classes < 2:
            raise ValueError(f"data={cfg.data or cfg.stream!r} has {num_classes} labelled classes: supervised "
                             "training needs at least 2 (use task: moco, simclr or byol for unlabelled clips)")
        self.model = build_model_for(cfg, num_classes).to(self.device)
        if cfg.channels_last:  # the layout only: the same weights, saved and loaded as in any run
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net = self.eval_net = self.model
        if self.world > 1:
            self.net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if cfg.compile:   # compiled on the first step (its time is in that epoch's); weights stay self.model's
            self.net, self.eval_net = torch.compile(self.net), torch.compile(self.model)
        self.amp = cfg.amp and self.device.type == "cuda"
        self.real_video = RealVideoAugment(AugmentConfig.from_dict(dict(cfg.augment))) if cfg.real_video else None
        self.train_tf = StandardAugment(train=True, size=cfg.size, crop_scale=cfg.crop_scale,
                                        randaugment=cfg.randaugment)
        self.steps_per_epoch = max(1, self._train_len() // cfg.batch_size)
        if cfg.probe:
            self.model.trunk.requires_grad_(False)
        lr = cfg.lr * cfg.batch_size / 32
        params = [p for p in self.model.parameters() if p.requires_grad]
        schedule = cosine_with_warmup(cfg.epochs, cfg.warmup_epochs, self.steps_per_epoch)
        if cfg.trunk_lr != 1 or cfg.head_epochs:  # the head's group first: the history's "lr" is the head's
            trunk = {id(p) for p in self.model.trunk.parameters()}
            params = [{"params": [p for p in params if id(p) not in trunk]},
                      {"params": [p for p in params if id(p) in trunk], "lr": lr * cfg.trunk_lr}]
            schedule = [schedule, held_then_warmed(schedule, cfg.head_epochs, cfg.warmup_epochs,
                                                   self.steps_per_epoch)]
        self.optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.epoch, self.history = 0, []
        # early stopping (select_split): the best epoch's weights, kept in memory and in best.pt for a resume
        self.best_state, self.loaded_finished = None, False

    def _train_len(self) -> int:
        n = self.cfg.epoch_clips if self.cfg.stream is not None else len(self.train_set)
        return min(n, self.cfg.epoch_clips or n)

    # ------------------------------------------------------------ checkpoints
    def weights(self) -> dict:
        """What model.pt holds: the network (self-supervised: the encoder being pre-trained), its arch, classes,
        settings, history."""
        encoder = self.model.encoder if isinstance(self.model, SelfSupervised) else self.model
        return {"arch": self.cfg.arch, "task": self.cfg.task, "classes": self.classes, "config": self.cfg.to_dict(),
                "epoch": self.epoch, "history": self.history, "encoder": encoder.state_dict()}

    def state(self) -> dict:
        """What last.pt holds: the weights and everything needed to go on training."""
        return {**self.weights(), "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict()}

    def save(self) -> None:
        if self.rank != 0:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        last = self.out / "last.pt"
        with replacing(last) as tmp:
            torch.save(self.state(), tmp)
            if last.exists():   # the one before stays until the new one is whole
                os.replace(last, self.out / "previous.pt")

    def resume(self) -> str | None:
        """Load the newest readable checkpoint of this folder (a finished run's model.pt last); say what
        happened."""
        notes = []
        for name in ("last.pt", "previous.pt", "model.pt"):
            path = self.out / name
            if not path.exists():
                continue
            try:
                state = load_checkpoint(path)
            except ValueError as e:
                notes.append(str(e))
                continue
            old, new = _comparable(state["config"]), _comparable(self.cfg.to_dict())
            if old != new:
                changed = differing(old, new)
                raise ValueError(f"{self.out} holds a run with other settings (differing: {changed}); "
                                 "choose another folder or delete it")
            if name == "model.pt":  # a finished run: its weights and history, nothing left to train
                self.epoch, self.history = state.get("epoch", 0), state.get("history", [])
                if "history" not in state or not self.finished():
                    self.epoch, self.history = 0, []
                    notes.append(f"{path} is not a finished run of these settings")
                    continue
                weights = self.model.encoder if isinstance(self.model, SelfSupervised) else self.model
                weights.load_state_dict(state["encoder"])   # with select_split: the best epoch's
                self.loaded_finished = True
            else:
                self.model.load_state_dict(state["model"])
                self.optimizer.load_state_dict(state["optimizer"])
                self.scheduler.load_state_dict(state["scheduler"])
                self.scaler.load_state_dict(state["scaler"])
            self.epoch, self.history = state["epoch"], state["history"]
            notes.append(f"resumed from {path} after epoch {self.epoch}")
            break
        else:
            if notes:
                notes.append(f"no readable checkpoint in {self.out}: starting from scratch")
        return "; ".join(notes) or None

    # ---------------------------------------------------------------- epochs
    def _inputs(self, clips: torch.Tensor, gen: torch.Generator, progress: float) -> torch.Tensor:
        x = clips.to(self.device, non_blocking=True).float().div_(255)
        if self.cfg.grey:
            x = luminance(x)
        x = resize_center_crop(x, load_size(self.cfg.size), load_size(self.cfg.size))  # a stream's clips
        if self.real_video is not None:
            x = self.real_video(x, gen, epoch=progress)
        if not self.cfg.tint:
            return self.train_tf(x, gen)
        # tinted after the crop, which then works on one channel instead of three: the same clips as tinting first
        return self.train_tf(x, gen, recolour=lambda v: tint(v, gen, fg=self.cfg.tint_fg, bg=self.cfg.tint_bg))

    def train_one_epoch(self) -> dict:
        cfg, epoch = self.cfg, self.epoch
        torch.manual_seed(_seed(cfg.seed, epoch, 2))  # dropout
        gen = torch.Generator().manual_seed(_seed(cfg.seed, epoch, 3, self.rank))
        loader = _loader(self.train_set, cfg, epoch, train=True, world=self.world)
        self.net.train()
        if cfg.probe:  # frozen features: batch norm keeps the trunk's running statistics
            self.model.trunk.eval()
        total = loss_sum = correct = 0
        start = time.perf_counter()
        bar = tqdm(loader, total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not self.progress or self.rank != 0 or not terminal(), leave=False)
        for step, (clips, labels) in enumerate(bar):
            if step >= self.steps_per_epoch:
                break
            progress = epoch + step / self.steps_per_epoch
            labels = labels.to(self.device)
            with torch.autocast(self.device.type, enabled=self.amp):
                if cfg.task in SELF_SUPERVISED:  # two views; labels: each clip's other view among the scores
                    loss, logits, labels = self.net(self._inputs(clips, gen, progress),
                                                    self._inputs(clips, gen, progress))
                else:
                    logits = self.net(self._inputs(clips, gen, progress))
                    loss = F.cross_entropy(logits.float(), labels)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.clip_grad > 0:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            n = len(labels)
            total += n
            loss_sum += loss.item() * n
            correct += topk_correct(logits.detach(), labels, (1,))[0]
            bar.set_postfix(loss=f"{loss_sum / total:.3f}")
        seconds = time.perf_counter() - start
        if _distributed():  # the whole epoch's numbers, not rank 0's share
            sums = torch.tensor([loss_sum, correct, total], dtype=torch.float64, device=self.device)
            dist.all_reduce(sums)
            loss_sum, correct, total = sums.tolist()
        return {"train_loss": loss_sum / max(total, 1), "train_top1": correct / max(total, 1),
                "clips_per_s": total / seconds, "epoch_s": seconds}

    def evaluate(self) -> dict:
        """Top-1/top-5 and loss on the validation set; keeps its confusion matrix for the reports."""
        if self.val_set is None or self.cfg.task in SELF_SUPERVISED:
            return {}
        metrics, self.confusion = evaluate(self.eval_net, self.val_set, self.cfg, len(self.classes), self.device,
                                           self.amp, self.world)
        return metrics

    # ---------------------------------------------------------- early stopping
    def score_selection(self) -> dict:
        """Loss and top-1 on ``select_split``, the split that chooses the epoch."""
        metrics, _ = evaluate(self.eval_net, self.select_set, self.cfg, len(self.classes), self.device, self.amp,
                              self.world)
        return {"select_loss": metrics["val_loss"], "select_top1": metrics["val_top1"]}

    def best_epoch(self) -> int:
        """The epoch (from 1) with the highest select_top1 so far, the lower select_loss breaking ties; 0 if
        none was scored."""
        scored = [(r["select_top1"], -r["select_loss"], -r["epoch"]) for r in self.history if "select_top1" in r]
        return -max(scored)[2] if scored else 0

    def finished(self) -> bool:
        """Every epoch trained, or (with ``patience``) that many epochs past the best one."""
        patience = self.cfg.patience
        return self.epoch >= self.cfg.epochs or (patience is not None and self.epoch - self.best_epoch() >= patience)

    def save_best(self) -> None:
        self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            _save_atomic({"epoch": self.epoch, "model": self.best_state}, self.out / "best.pt")

    def restore_best(self) -> None:
        """Load the best epoch's weights (a finished run loaded from model.pt already holds them)."""
        if self.loaded_finished:
            return
        if self.best_state is None:  # resumed mid-run: the best epoch so far was saved beside last.pt
            path = self.out / "best.pt"
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing: this early-stopped run (select_split="
                                        f"{self.cfg.select_split!r}) cannot restore its best epoch "
                                        f"({self.best_epoch()}); delete {self.out} and run it again")
            self.best_state = torch.load(path, map_location="cpu", weights_only=False)["model"]
        self.model.load_state_dict(self.best_state)

    # ---------------------------------------------------------------- fitting
    def fit(self) -> dict:
        """Train to ``cfg.epochs`` (resuming if this folder has a checkpoint); returns the metrics. With
        ``select_split`` each epoch is scored there, the run may stop early (``patience``), and it ends with the
        best epoch's weights, which score ``val_split`` once."""
        note = self.resume()
        if note and self.rank == 0:
            print(note)
        selecting = self.select_set is not None
        while not self.finished():
            row = {"epoch": self.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
            row.update(self.train_one_epoch())
            scored = (self.epoch + 1) % self.cfg.eval_every == 0 or self.epoch + 1 >= self.cfg.epochs
            row.update(self.score_selection() if selecting else self.evaluate() if scored else {})
            self.epoch += 1
            self.history.append(row)
            if selecting and self.best_epoch() == self.epoch:
                self.save_best()   # before last.pt: a resume never finds a newer epoch than its best.pt knows
            self.save()
            if self.rank == 0:
                self.write_reports()
                if self.progress and (terminal() or self.epoch in _quarters(self.cfg.epochs)):
                    # every epoch at a terminal; in a log or an executed notebook the first, each quarter, the last
                    print(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        if selecting:
            self.restore_best()
            self.final = self.evaluate()
        elif not hasattr(self, "confusion"):
            # a resumed, already finished run still reports its confusion matrix; every rank takes part,
            # as evaluate() sums over ranks
            self.evaluate()
        if self.rank == 0:
            self.write_reports()
            _save_atomic(self.weights(), self.out / "model.pt")
            # the training checkpoints are only needed while training (a finished run resumes from
            # model.pt); keeping them would triple what a finished run stores, e.g. in DVC's cache
            for name in ("previous.pt", "best.pt") if self.keep_checkpoint else ("previous.pt", "last.pt", "best.pt"):
                (self.out / name).unlink(missing_ok=True)
        return self.metrics()

    # ---------------------------------------------------------------- reports
    def metrics(self) -> dict:
        last = dict(self.history[-1]) if self.history else {}
        best = max((r.get("val_top1", 0.0) for r in self.history), default=0.0)
        minutes = sum(r.get("epoch_s", 0.0) for r in self.history) / 60   # training steps only, no evaluation
        out = {**{k: v for k, v in last.items() if k != "lr"}, "best_val_top1": best, "epochs": self.epoch,
               "train_minutes": round(minutes, 3), "task": self.cfg.task, "arch": self.cfg.arch,
               "init": self.cfg.init, "machine": self.machine}
        if self.cfg.select_split is not None:   # val_* are the best epoch's weights' (None until the run ends)
            final = getattr(self, "final", {})
            best_epoch = self.best_epoch()
            out.update(final, best_val_top1=final.get("val_top1"), best_epoch=best_epoch,
                       select_top1=self.history[best_epoch - 1]["select_top1"] if best_epoch else None)
        return out

    def write_reports(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        with replacing(self.out / "history.csv") as tmp, open(tmp, "w", newline="") as f:
            fields = HISTORY_FIELDS + (SELECT_FIELDS if self.cfg.select_split is not None else ())
            w = csv.DictWriter(f, fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(self.history)
        write_json(self.out / "metrics.json", self.metrics())
        if getattr(self, "confusion", None) is not None:
            with replacing(self.out / "confusion.csv") as tmp, open(tmp, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["truth"] + list(self.classes))
                for name, row in zip(self.classes, self.confusion.tolist()):
                    w.writerow([name] + row)


def _quarters(epochs: int) -> set[int]:
    """The epochs a log shows: the first, the end of each quarter, the last."""
    return {1, epochs} | {max(1, round(epochs * q / 4)) for q in (1, 2, 3)}


def _comparable(config: dict) -> dict:
    """Settings as JSON has them (tuples nested in dicts become lists, as after a round trip through a
    checkpoint or params.yaml), without ``workers``: items do not depend on the loader's process count. A
    setting the config lacks (one added to TrainConfig after its checkpoint was saved) counts at its default,
    which is what the run trained with."""
    defaults = {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                for f in dataclasses.fields(TrainConfig)}
    full = {**{k: v for k, v in defaults.items() if v is not dataclasses.MISSING}, **config}
    return {k: v for k, v in json.loads(json.dumps(full)).items() if k != "workers"}


def _save_atomic(obj, path: Path) -> None:
    with replacing(path) as tmp:
        torch.save(obj, tmp)


def train(cfg: TrainConfig, out: str | os.PathLike, progress: bool = True, keep_checkpoint: bool = False) -> dict:
    """Run (or resume) the training run ``cfg`` in folder ``out``; returns its metrics.

    ``keep_checkpoint`` keeps the final training state (``last.pt``: optimiser, scheduler, MoCo's queue,
    the target networks)
    beside ``model.pt``, for inspecting it; by default a finished run keeps ``model.pt`` alone."""
    return Run(cfg, out, progress, keep_checkpoint).fit()


def evaluate_checkpoint(checkpoint: str | os.PathLike, data: str, split: str = "test", val_clips: int = 10,
                        batch_size: int = 16, workers: int = 2, crops: int = 1) -> dict:
    """Top-1/top-5 of a saved model on a split of a dataset (the whole split: no folds), as it was trained
    to see clips (arch, frames, stride, size); ``val_clips`` x ``crops`` views per video (10 x 3: the usual
    multi-view protocol), scores averaged."""
    state = load_checkpoint(checkpoint)
    # train_split too: the evaluated set need not have the split the model was trained on
    cfg = TrainConfig.from_dict({**state["config"], "data": data, "stream": None, "train_split": split,
                                 "val_split": split, "val_clips": val_clips, "batch_size": batch_size,
                                 "workers": workers, "task": "finetune", "init": "scratch", "epoch_clips": None,
                                 "folds": None, "fold": 0, "label_fraction": 1.0, "holdout": 0.0,
                                 "in_memory": False, "val_crops": crops})
    _, dataset, _, classes = build_data(cfg)
    if len(classes) != len(state["classes"]):
        raise ValueError(f"{checkpoint} was trained on {len(state['classes'])} classes but {data} split {split!r} "
                         f"has {len(classes)}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = build_model(cfg.arch, len(classes), frames=cfg.frames, dropout=cfg.dropout).to(device)
    model.load_state_dict(state["encoder"])
    return evaluate(model, dataset, cfg, len(classes), device, amp=cfg.amp and device.type == "cuda")[0]
