"""Self-supervised pre-training objectives on two views of the same clips: MoCo v2, SimCLR and BYOL.

Each wraps the network being pre-trained (``encoder``, a :mod:`fractalvid.learning.models` network whose
``features`` stop before its classifier) and maps two views to ``(loss, logits, labels)``: the loss to
minimise, and scores in which each clip should pick its own other view (``labels``), from which the
training loop reports a top-1 as it does for classes. The two views come from the same clip sampling and
real-video emulation as supervised pre-training (:class:`fractalvid.learning.train.Run`); checkpoints keep
``encoder`` alone, so any of them fine-tunes the same way.

Under DistributedDataParallel every trainable parameter must take part: the encoder's unused classifier
head is frozen, and so are the momentum (target) copies, which follow the online networks by an
exponential moving average inside ``forward``. MoCo's queue holds the keys of every rank; SimCLR's negatives
and BYOL's batch statistics are each rank's own batch.
"""
from __future__ import annotations

import copy

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


@torch.no_grad()
def _gather(x: torch.Tensor) -> torch.Tensor:
    if not _distributed():
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x)
    return torch.cat(parts)


def _freeze(params) -> None:
    for p in params:
        p.requires_grad = False


@torch.no_grad()
def _follow(online: list[nn.Module], target: list[nn.Module], momentum: float) -> None:
    """target <- momentum * target + (1 - momentum) * online, parameter by parameter; buffers copied."""
    for o, t in zip(online, target):
        for p, q in zip(o.parameters(), t.parameters()):
            q.mul_(momentum).add_(p.detach(), alpha=1 - momentum)
        for p, q in zip(o.buffers(), t.buffers()):
            q.copy_(p)


def _mlp(width: int, hidden: int, dim: int, batch_norm: bool = False) -> nn.Sequential:
    norm = [nn.BatchNorm1d(hidden)] if batch_norm else []
    return nn.Sequential(nn.Linear(width, hidden), *norm, nn.ReLU(inplace=True), nn.Linear(hidden, dim))


class SelfSupervised(nn.Module):
    """What the objectives share: the encoder being pre-trained, its classifier head frozen (unused)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        _freeze(getattr(encoder, "head", nn.Identity()).parameters())


class MoCo(SelfSupervised):
    """MoCo v2 (He et al. 2020; Chen et al. 2020): a query encoder trained to pick
    its key, made by a momentum copy of itself, out of a queue of negatives."""

    def __init__(self, encoder: nn.Module, dim: int = 128, queue: int = 16384, momentum: float = 0.999,
                 temperature: float = 0.07):
        super().__init__(encoder)
        width = encoder.feat_dim
        self.head = nn.Sequential(nn.Linear(width, width), nn.ReLU(inplace=True), nn.Linear(width, dim))
        self.key_encoder = copy.deepcopy(encoder)
        self.key_head = copy.deepcopy(self.head)
        _freeze(list(self.key_encoder.parameters()) + list(self.key_head.parameters()))  # follows by momentum
        self.momentum, self.temperature = momentum, temperature
        self.register_buffer("queue", F.normalize(torch.randn(queue, dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def _momentum_update(self) -> None:
        _follow([self.encoder, self.head], [self.key_encoder, self.key_head], self.momentum)

    @torch.no_grad()
    def _enqueue(self, keys: torch.Tensor) -> None:
        keys = _gather(keys)
        n, size = keys.shape[0], self.queue.shape[0]
        ptr = int(self.queue_ptr)
        idx = (torch.arange(n, device=keys.device) + ptr) % size
        m = min(n, size)  # more keys than places: the newest ones stay, at the places they would take
        self.queue[idx[-m:]] = keys[-m:]
        self.queue_ptr.fill_((ptr + n) % size)

    def forward(self, query: torch.Tensor, key: torch.Tensor):
        """Two views of the same clips -> (InfoNCE loss, logits, labels); the positive is column 0."""
        q = F.normalize(self.head(self.encoder.features(query)), dim=1)
        with torch.no_grad():
            self._momentum_update()
            k = F.normalize(self.key_head(self.key_encoder.features(key)), dim=1)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ self.queue.clone().t()], dim=1) / self.temperature
        self._enqueue(k)
        labels = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
        return F.cross_entropy(logits.float(), labels), logits, labels


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1):
    """SimCLR's NT-Xent loss of two views' embeddings (N, d) each -> (loss, logits (2N, 2N), labels (2N,)).

    The 2N embeddings are L2-normalised; each one's logits are its cosine similarities to all 2N, divided by
    ``temperature``, with itself masked out; its label is its other view (i + N, or i - N), so the loss is
    the mean cross-entropy of picking it among the other 2N - 1.
    """
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    logits = z @ z.t() / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, labels), logits, labels


class SimCLR(SelfSupervised):
    """SimCLR (Chen et al. 2020): an encoder and a projection MLP trained so that the two views of a clip
    are closer to each other than to any other view of the batch (:func:`nt_xent`)."""

    def __init__(self, encoder: nn.Module, dim: int = 128, temperature: float = 0.1):
        super().__init__(encoder)
        width = encoder.feat_dim
        self.head = _mlp(width, width, dim, batch_norm=True)
        self.temperature = temperature

    def forward(self, view1: torch.Tensor, view2: torch.Tensor):
        z = self.head(self.encoder.features(torch.cat([view1, view2])))
        return nt_xent(*z.chunk(2), self.temperature)


def byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """BYOL's regression loss, per pair: 2 - 2 cos(p, z) (the squared distance of the normalised vectors)."""
    return 2 - 2 * F.cosine_similarity(p.float(), z.float(), dim=1)


class BYOL(SelfSupervised):
    """BYOL (Grill et al. 2020): an online encoder, projector and predictor regress, for each view, the
    target network's projection of the other view; the target (encoder and projector) is an exponential
    moving average of the online ones and gets no gradient. No negatives: the logits reported are the
    cosine similarities of each prediction to every target of the batch."""

    def __init__(self, encoder: nn.Module, dim: int = 128, momentum: float = 0.99, hidden: int | None = None):
        super().__init__(encoder)
        width = encoder.feat_dim
        hidden = hidden or 2 * width
        self.projector = _mlp(width, hidden, dim, batch_norm=True)
        self.predictor = _mlp(dim, hidden, dim, batch_norm=True)
        self.target_encoder = copy.deepcopy(encoder)
        self.target_projector = copy.deepcopy(self.projector)
        _freeze(list(self.target_encoder.parameters()) + list(self.target_projector.parameters()))
        self.momentum = momentum

    @torch.no_grad()
    def update_target(self) -> None:
        _follow([self.encoder, self.projector], [self.target_encoder, self.target_projector], self.momentum)

    def forward(self, view1: torch.Tensor, view2: torch.Tensor):
        n = len(view1)
        both = torch.cat([view1, view2])
        p = self.predictor(self.projector(self.encoder.features(both)))
        with torch.no_grad():
            self.update_target()  # the step the optimiser just took, followed before the targets are made
            z = self.target_projector(self.target_encoder.features(both))
        z = torch.cat([z[n:], z[:n]])  # each view's target is the other view's projection
        loss = byol_loss(p, z).mean()
        logits = F.normalize(p.float(), dim=1) @ F.normalize(z.float(), dim=1).t()
        return loss, logits, torch.arange(2 * n, device=p.device)
