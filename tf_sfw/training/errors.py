"""Errors of a training run that are not bad arguments.

Bad configuration values raise ``ValueError`` (they name the argument and the value); failures
of the run itself raise a :class:`TrainingError`, so that a command line can tell the two apart
(usage error vs. runtime failure). Importing this module imports nothing heavy.
"""

__all__ = [
    "NothingToResumeError",
    "OutputDirError",
    "RunAlreadyCompleteError",
    "TrainingDivergedError",
    "TrainingError",
    "UnfinishedRunError",
]


class TrainingError(RuntimeError):
    """Base class of every runtime failure of :func:`tf_sfw.training.train`."""


class OutputDirError(TrainingError):
    """The output directory cannot be created or written.

    Attributes:
        path: The output directory as given.
        reason: The operating system's explanation (e.g. "Permission denied").
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = str(reason)
        super().__init__(f"Cannot write the output directory `out`: {self.reason}. Received: out={self.path!r}")


class UnfinishedRunError(TrainingError, FileExistsError):
    """The output directory holds an interrupted run and ``resume`` was not requested."""


class NothingToResumeError(TrainingError):
    """``resume=True`` but the output directory holds no run to continue."""


class RunAlreadyCompleteError(TrainingError):
    """``resume=True`` on a run that already finished (its outputs are left untouched)."""


class TrainingDivergedError(TrainingError):
    """The training loss became non-finite or grew far beyond its initial value."""
