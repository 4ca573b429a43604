"""Errors of the inference runtimes, each saying what went wrong and how to fix it."""

from bearagent.errors import BearIdError


class RuntimeErrorBase(BearIdError):
    """Base class for every inference runtime problem."""


class RuntimeUnavailable(RuntimeErrorBase):
    """The runtime cannot run here: a package, a GPU or a provider is missing."""


class UnknownRuntime(RuntimeErrorBase):
    """The configuration names a runtime that bearid does not have."""


class ModelIncompatible(RuntimeErrorBase):
    """The model's graph does not match its model card (names, shapes, embedding size)."""


class EngineMismatch(RuntimeErrorBase):
    """A TensorRT engine was built for another GPU, TensorRT version or model."""


class BadBatch(RuntimeErrorBase):
    """A batch handed to `embed` has the wrong shape or type for the model."""
