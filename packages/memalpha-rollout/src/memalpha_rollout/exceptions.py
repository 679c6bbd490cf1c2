"""Errors raised by memalpha-rollout.

MemalphaRolloutError
├── PolicyError(RuntimeError)              a policy backend failed to generate (server down, bad response, ...)
├── BackendUnavailableError(ImportError)   a backend's optional dependencies are not installed (names the extra)
├── UnknownNameError(KeyError)             no policy, answerer, judge, format or baseline of that name
└── RunFolderError(ValueError)             a run folder is missing, incomplete or not ours
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "EvalConfigError",
    "MemalphaRolloutError",
    "PolicyError",
    "RunFolderError",
    "UnknownNameError",
]


class MemalphaRolloutError(Exception):
    """Base class of every error memalpha-rollout raises."""


class PolicyError(MemalphaRolloutError, RuntimeError):
    """A policy backend could not produce completions; the message says which backend and why."""


class BackendUnavailableError(MemalphaRolloutError, ImportError):
    """An optional backend was asked for but its dependencies are missing; the message names the extra."""


class UnknownNameError(MemalphaRolloutError, KeyError):
    """A name (policy backend, answerer, judge, tool-call format, baseline) that is not registered."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0]) if self.args else ""


class RunFolderError(MemalphaRolloutError, ValueError):
    """A run folder cannot be read or written as asked."""


class EvalConfigError(MemalphaRolloutError, ValueError):
    """The evaluation harness was given options that do not fit together; the message says which and how to fix."""
