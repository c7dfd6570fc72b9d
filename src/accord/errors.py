"""One error hierarchy for accord.

Every error a person can cause (a bad charter, a malformed JSONL line, an unknown judge name)
is an :class:`AccordError`. Each knows the exit code the CLI returns and a message written for a
person, so the CLI prints it without a traceback::

    AccordError                 exit 2 unless noted
    ├── InputError              bad user input: files, fields, lines
    │   ├── CharterError        charter.yaml invalid (names file, line, field path)
    │   └── FeedbackError       feedback / cases JSONL invalid (names file and line)
    ├── RegistryError           unknown judge / encoder / target / mutation name
    ├── NotFittedError          a learned judge used before fit (also a sklearn NotFittedError)
    ├── ModelError              a model directory that cannot be loaded
    ├── JudgeError              a judge failed at run time (the gate fails closed on it)
    │   └── JudgeTimeout        a judge exceeded its time budget
    └── StoreError              the audit store cannot be opened or written
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any


class AccordError(Exception):
    """Base of every accord error; ``exit_code`` is what the CLI exits with."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def for_humans(self) -> str:
        """The message a person sees, with the hint on what to do when there is one."""
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class InputError(AccordError):
    """Bad user input: a file, a field or a line that cannot be used."""


class CharterError(InputError):
    """A charter that fails validation; the message names file, line and field path."""


class FeedbackError(InputError):
    """A feedback or cases JSONL file with a bad line; the message names file and line."""


class RegistryError(AccordError):
    """An unknown name asked of a registry; the message lists the names that exist."""


if TYPE_CHECKING:
    class NotFittedError(AccordError, ValueError, AttributeError):
        """A learned judge was asked to predict before it was fitted (scikit-learn contract)."""


def __getattr__(name: str) -> Any:
    """``NotFittedError`` is built on first use: it subclasses scikit-learn's, and importing
    scikit-learn costs about 1.4 s, which ``accord --help`` or ``accord charter lint`` should not pay."""
    if name != "NotFittedError":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from sklearn.exceptions import NotFittedError as _SkNotFittedError

    class NotFittedError(AccordError, _SkNotFittedError):
        """A learned judge was asked to predict before it was fitted (scikit-learn contract)."""

    NotFittedError.__module__, NotFittedError.__qualname__ = __name__, "NotFittedError"
    globals()["NotFittedError"] = NotFittedError
    return NotFittedError


class ModelError(AccordError):
    """A model directory that is missing, incomplete or of an unknown format version."""


class JudgeError(AccordError):
    """A judge failed while judging; the gate turns this into escalate or block, never allow."""

    exit_code = 1


class JudgeTimeout(JudgeError):
    """A judge exceeded its time budget."""


class StoreError(AccordError):
    """The audit store could not be opened, migrated or written."""

    exit_code = 1
