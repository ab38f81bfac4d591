"""Errors raised by the ops on bad input or an unavailable backend."""
from __future__ import annotations

from evalkit.errors import EvalkitError


class OpInputError(EvalkitError, ValueError):
    """A tensor given to an op has the wrong shape, dtype or device; the message names it."""


class KernelUnavailableError(EvalkitError, RuntimeError):
    """A backend was requested explicitly that cannot run here (no Triton, no CUDA...)."""
