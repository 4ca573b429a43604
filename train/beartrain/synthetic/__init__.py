"""Synthetic face chips: a deterministic, learnable population for tests and the demo."""

from beartrain.synthetic.appearance import Appearance, make_appearance
from beartrain.synthetic.population import (
    FILENAME_FORMAT,
    METADATA_COLUMNS,
    ChipRecord,
    SyntheticConfig,
    SyntheticConfigError,
    encode_jpeg,
    individual_name,
    iter_population,
    write_population,
)
from beartrain.synthetic.render import Shot, render_chip, render_face

__all__ = [
    "FILENAME_FORMAT",
    "METADATA_COLUMNS",
    "Appearance",
    "ChipRecord",
    "Shot",
    "SyntheticConfig",
    "SyntheticConfigError",
    "encode_jpeg",
    "individual_name",
    "iter_population",
    "make_appearance",
    "render_chip",
    "render_face",
    "write_population",
]
