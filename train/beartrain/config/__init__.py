"""``bear-train fit``'s configuration: one typed object, loaded once from YAML at the CLI edge.

`sections` holds the typed sections and `TrainConfig`; `loading` reads YAML and
applies ``--set key=value`` overrides. Unknown keys are errors that name the key.
"""

from beartrain.config.loading import (
    build_config,
    config_to_yaml,
    load_config,
    parse_overrides,
    set_dotted,
)
from beartrain.config.sections import (
    AugmentSection,
    CalibrationSection,
    DataSection,
    DistillSection,
    EvalSection,
    HeadInit,
    InputSection,
    LossName,
    LossSection,
    MinerName,
    MinerSection,
    ModelSection,
    OptimizerSection,
    SamplerSection,
    ScheduleSection,
    SearchParam,
    SearchSection,
    TrainConfig,
    TrainConfigError,
    TrainSection,
)

__all__ = [
    "AugmentSection",
    "CalibrationSection",
    "DataSection",
    "DistillSection",
    "EvalSection",
    "HeadInit",
    "InputSection",
    "LossName",
    "LossSection",
    "MinerName",
    "MinerSection",
    "ModelSection",
    "OptimizerSection",
    "SamplerSection",
    "ScheduleSection",
    "SearchParam",
    "SearchSection",
    "TrainConfig",
    "TrainConfigError",
    "TrainSection",
    "build_config",
    "config_to_yaml",
    "load_config",
    "parse_overrides",
    "set_dotted",
]
