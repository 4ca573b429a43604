"""Errors of `bear-export`, each saying what went wrong and how to fix it."""

from bearagent.errors import BearIdError

#: What to install for the parts of bear-export that need torch (export from a checkpoint).
EXPORT_EXTRA = "pip install 'bearid[export]'"
#: What to install for TensorRT engines.
TRT_EXTRA = "pip install 'bearid[trt]'"


class ExportError(BearIdError):
    """Base class for every bear-export problem."""


class ExportSourceError(ExportError):
    """What was given to export is not a run folder, a checkpoint or an exported ONNX model."""


class ChipsError(ExportError):
    """The chips given for parity or calibration cannot be used."""


class ParityFailed(ExportError):
    """An exported model does not compute the same embeddings as its reference."""


class DynamicBatchBroken(ExportError):
    """The exported graph does not take a batch of any size, or gives other rows per batch."""


class ExtraMissing(ExportError):
    """A package that this part of bear-export needs is not installed."""


class TensorRTUnavailable(ExportError):
    """TensorRT or a usable NVIDIA GPU is missing, so no engine can be built here."""


class TensorRTBuildFailed(ExportError):
    """TensorRT could not parse the ONNX model or build an engine from it."""


class ExportOptionError(ExportError):
    """Export options that contradict each other (e.g. a known threshold below the unknown one)."""


class TimmModelUnavailable(ExportError):
    """timm does not know the model, or its weights cannot be downloaded or loaded."""


class NotAnEmbedder(ExportError):
    """An ONNX graph given to `bear-export adopt` does not take images and return embeddings."""
