"""The agent's whole configuration: one typed object, one section per concern."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bearagent.chips.config import CaptureConfig
from bearagent.config.agent import AgentSection, PipelineConfig
from bearagent.decisions.config import DecisionConfig
from bearagent.detection.config import DetectorConfig
from bearagent.encounters.config import EncounterConfig
from bearagent.fleet.config import UploadConfig
from bearagent.mqtt.config import MqttConfig
from bearagent.review.config import ReviewConfig
from bearagent.runtime.config import RuntimeConfig
from bearagent.watch.config import WatchConfig


class AgentConfig(BaseModel):
    """Configuration of ``bearagent`` (TOML, e.g. /etc/bearagent/config.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: AgentSection = Field(default_factory=AgentSection)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    encounter: EncounterConfig = Field(default_factory=EncounterConfig)
    decision: DecisionConfig = Field(default_factory=DecisionConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    upload: UploadConfig = Field(default_factory=UploadConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
