"""The agent's configuration: schema, loading with overrides, and the generated reference."""

from bearagent.config.agent import AgentSection, PipelineConfig
from bearagent.config.loader import ConfigError, ConfigProblem, load_config
from bearagent.config.schema import AgentConfig

__all__ = [
    "AgentConfig",
    "AgentSection",
    "ConfigError",
    "ConfigProblem",
    "PipelineConfig",
    "load_config",
]
