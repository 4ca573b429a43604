"""Distillation: a large teacher's embedding space taught to the small student the box runs.

``bear-train distill --teacher RUN`` is ``fit`` with ``distill.teacher`` set: each
batch goes through the frozen teacher too (resized and renormalised to the
teacher's own input), and the student's loss adds to its metric-learning loss

- an *embedding* target: 1 - cosine between the teacher's embedding and a learned
  linear projection of the student's (any two embedding sizes; the projection
  lives in the loss and is not exported);
- a *relation* target: the mean squared difference between the student's and the
  teacher's batch cosine-similarity matrices (who resembles whom), which needs no
  projection at all.

Weights: ``distill.metric_weight``, ``embedding_weight``, ``relation_weight``.
Only the student is saved: export and the agent see an ordinary checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bearagent.modelcard import InputSpec
from beartrain.config import DistillSection
from beartrain.model import Embedder
from beartrain.training.epoch import TrainStep


class DistillLoss(nn.Module):
    """The student's metric loss plus the embedding and relation targets."""

    def __init__(
        self, metric: nn.Module, student_size: int, teacher_size: int, cfg: DistillSection
    ) -> None:
        super().__init__()
        self.metric = metric
        self.project = nn.Linear(student_size, teacher_size, bias=False)
        self.cfg = cfg
        self.last: dict[str, float] = {}  # the parts of the last batch's loss

    def forward(
        self,
        emb: torch.Tensor,
        labels: torch.Tensor,
        tuples: object,
        teacher: torch.Tensor,
    ) -> torch.Tensor:
        """The weighted sum of the three parts for one batch."""
        metric = self.metric(emb, labels, tuples) if self.cfg.metric_weight > 0 else emb.sum() * 0
        projected = F.normalize(self.project(emb), dim=1)
        embedding = (1 - (projected * teacher).sum(dim=1)).mean()
        relation = F.mse_loss(emb @ emb.T, teacher @ teacher.T)
        self.last = {
            "metric": float(metric.detach()),
            "embedding": float(embedding.detach()),
            "relation": float(relation.detach()),
        }
        total: torch.Tensor = (
            self.cfg.metric_weight * metric
            + self.cfg.embedding_weight * embedding
            + self.cfg.relation_weight * relation
        )
        return total


class TeacherInput(nn.Module):
    """The student's normalised batch as the teacher's input (its size, mean and std)."""

    s_mean: torch.Tensor
    s_std: torch.Tensor
    t_mean: torch.Tensor
    t_std: torch.Tensor

    def __init__(self, student: InputSpec, teacher: InputSpec) -> None:
        super().__init__()
        self.size = (teacher.height, teacher.width)
        self.resize = (student.height, student.width) != self.size
        shape = (1, 3, 1, 1)
        self.register_buffer("s_mean", torch.tensor(student.mean).view(shape), persistent=False)
        self.register_buffer("s_std", torch.tensor(student.std).view(shape), persistent=False)
        self.register_buffer("t_mean", torch.tensor(teacher.mean).view(shape), persistent=False)
        self.register_buffer("t_std", torch.tensor(teacher.std).view(shape), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Renormalise (and resize) a batch."""
        x = (x * self.s_std + self.s_mean - self.t_mean) / self.t_std
        if self.resize:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        return x


class DistillStep(TrainStep):
    """Student + frozen teacher + `DistillLoss` as one module (DDP syncs the projection)."""

    def __init__(
        self,
        model: Embedder,
        loss: DistillLoss,
        miner: nn.Module | None,
        teacher: Embedder,
        adapt: TeacherInput,
    ) -> None:
        super().__init__(model, loss, miner)
        self.teacher = teacher.eval().requires_grad_(False)
        self.adapt = adapt

    def train(self, mode: bool = True) -> DistillStep:
        """Train the student; the teacher stays in eval mode (its BatchNorm and dropout)."""
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The distillation loss of one batch."""
        emb = self.model(images).float()
        with torch.no_grad():
            target = self.teacher(self.adapt(images)).float()
        with torch.autocast(device_type=images.device.type, enabled=False):
            tuples = self.miner(emb, labels) if self.miner is not None else None
            out: torch.Tensor = self.loss(emb, labels, tuples, target)
        return out
