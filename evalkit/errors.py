"""User-facing errors.

Every error a user can cause (a bad name, a broken dataset, a malformed results file, missing
weights) derives from :class:`EvalkitError`. The CLI prints such errors as one line and exits
non-zero; other exceptions are bugs and print a traceback.
"""
from __future__ import annotations


class EvalkitError(Exception):
    """An error caused by the user's input; the message says what was expected and where."""

    exit_code = 2


class UnknownNameError(EvalkitError, KeyError):
    """An id that is not registered (model, benchmark, metric...)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DatasetError(EvalkitError):
    """A dataset on disk does not follow the official layout."""


class ResultsError(EvalkitError):
    """A results / ground-truth file given to a metric is malformed or inconsistent."""


class WeightsError(EvalkitError):
    """Weights cannot be found, downloaded, verified or loaded safely."""


class UnsupportedTaskError(EvalkitError):
    """An adapter was asked for a task or prompt kind it does not support."""


class DistributedError(EvalkitError):
    """A distributed run failed (timeout waiting for ranks, inconsistent shards)."""
