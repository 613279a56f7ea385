"""deploykit's errors, and the one table that maps each to its exit code and how the CLI shows it.

Every error carries a ``fix``: the next thing the user should do. Tracebacks appear only with ``--debug``.
"""

from __future__ import annotations

from dataclasses import dataclass


class DeploykitError(Exception):
    """Base class: a message and the fix to print under it."""

    def __init__(self, message: str, *, fix: str = "", suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.suggestions = suggestions or []


class UsageError(DeploykitError):
    """Bad flags or values on the command line."""


class UnknownNameError(DeploykitError):
    """A model or profile name that is not in the catalog."""

    def __init__(self, kind: str, name: str, suggestions: list[str], list_command: str) -> None:
        hint = f"run `{list_command}` to see them all"
        super().__init__(f"unknown {kind} '{name}'", fix=hint, suggestions=suggestions)
        self.kind = kind
        self.name = name


class DataError(DeploykitError):
    """A catalog or profile data file that is missing or invalid."""


class ModelConfigError(DeploykitError):
    """A Hugging Face repo or local directory whose config.json cannot be read or understood."""


class GatedModelError(DeploykitError):
    """The hub refused access to a gated repository (401/403)."""


class HardwareDetectionError(DeploykitError):
    """Hardware was found but could not be read (e.g. the NVIDIA driver is broken)."""


class DoesNotFitError(DeploykitError):
    """No serving configuration fits the hardware; the plan (with alternatives) is attached."""

    def __init__(self, message: str, *, fix: str = "", plan: object = None) -> None:
        super().__init__(message, fix=fix)
        self.plan = plan


class PlanFileError(DeploykitError):
    """A plan lock file that cannot be read, or that was made for a different environment."""


class OutputExistsError(DeploykitError):
    """Refusing to overwrite an existing file."""


class StateError(DeploykitError):
    """The deployment registry or state directory cannot be read or written."""


class NameInUseError(DeploykitError):
    """A deployment name that a running deployment already holds."""


class RuntimeUnavailableError(DeploykitError):
    """The engine binary, Docker daemon or Ollama server is not there."""


class EngineFailedError(DeploykitError):
    """The engine exited or reported a classified failure while starting; ``log_tail`` holds its last lines."""

    def __init__(self, message: str, *, fix: str = "", kind: str = "crash", log_tail: list[str] | None = None) -> None:
        super().__init__(message, fix=fix)
        self.kind = kind
        self.log_tail = log_tail or []


class DiskSpaceError(DeploykitError):
    """Not enough free disk space for a download."""


class NetworkError(DeploykitError):
    """A server deploykit must reach (the Hugging Face hub) cannot be reached: "cannot reach X (offline?)"."""


class OutputWriteError(DeploykitError):
    """A file or folder cannot be written: read-only, permission, not a directory, a dangling link..."""


class NotReadyError(DeploykitError):
    """The engine did not prove it serves (health, model list, smoke completion) before the timeout."""


@dataclass(frozen=True)
class ErrorKind:
    exit_code: int
    label: str


# One table: exception type -> exit code and label. Order matters: the first isinstance match wins. README.md's
# "Exit codes" table lists the same codes, and tests/unit/test_exit_codes.py runs a failure for each of its rows.
ERROR_TABLE: list[tuple[type[BaseException], ErrorKind]] = [
    (UsageError, ErrorKind(2, "usage error")),
    (UnknownNameError, ErrorKind(2, "unknown name")),
    (OutputExistsError, ErrorKind(2, "output exists")),
    (NameInUseError, ErrorKind(2, "name in use")),
    (DoesNotFitError, ErrorKind(3, "does not fit")),
    (GatedModelError, ErrorKind(4, "gated model")),
    (ModelConfigError, ErrorKind(4, "model config")),
    (PlanFileError, ErrorKind(5, "plan file")),
    (DataError, ErrorKind(6, "catalog data")),
    (HardwareDetectionError, ErrorKind(7, "hardware detection")),
    (StateError, ErrorKind(14, "state directory")),
    (RuntimeUnavailableError, ErrorKind(8, "runtime unavailable")),
    (EngineFailedError, ErrorKind(9, "engine failed")),
    (NotReadyError, ErrorKind(10, "not ready")),
    (DiskSpaceError, ErrorKind(11, "disk space")),
    (NetworkError, ErrorKind(12, "network")),
    (OutputWriteError, ErrorKind(13, "cannot write")),
    (DeploykitError, ErrorKind(1, "error")),
    (KeyboardInterrupt, ErrorKind(130, "interrupted")),
]
UNEXPECTED = ErrorKind(70, "internal error")


def classify(exc: BaseException) -> ErrorKind:
    for exc_type, kind in ERROR_TABLE:
        if isinstance(exc, exc_type):
            return kind
    return UNEXPECTED


def describe(exc: BaseException) -> dict[str, object]:
    """The error as data: what `--format json` prints on stderr and what the text form is built from."""
    kind = classify(exc)
    if isinstance(exc, DeploykitError):
        info: dict[str, object] = {"error": kind.label, "message": exc.message, "fix": exc.fix,
                                   "did_you_mean": exc.suggestions, "exit_code": kind.exit_code}
        if isinstance(exc, EngineFailedError):
            info["failure"] = exc.kind
            info["log_tail"] = exc.log_tail
        return info
    if isinstance(exc, KeyboardInterrupt):
        return {"error": kind.label, "message": "interrupted", "fix": "", "did_you_mean": [],
                "exit_code": kind.exit_code}
    return {"error": kind.label, "message": f"{type(exc).__name__}: {exc}",
            "fix": "this is a bug in deploykit: rerun with --debug and report the traceback",
            "did_you_mean": [], "exit_code": kind.exit_code}
