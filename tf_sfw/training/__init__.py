"""Training runs: configuration, builders, resumable backups and the run itself.

::

    from tf_sfw.training import TrainConfig, train
    model, metrics = train(TrainConfig(model="mnist_cnn", dataset="mnist", epochs=1,
                                       data_dir="../shared/data/keras"), out="/tmp/run")

Submodules: :mod:`~tf_sfw.training.config` (:class:`TrainConfig`; no TensorFlow import),
:mod:`~tf_sfw.training.builders` (optimizer, constraints, schedules, model and data from a
config), :mod:`~tf_sfw.training.resume` (the resumable backup and run-state marker; every
private tf_keras access of the package), :mod:`~tf_sfw.training.callbacks` (run history, CSV
and TensorBoard logs, divergence detection), :mod:`~tf_sfw.training.chance_level` (the finished run's chance-level
check, shared with Keras 3), :mod:`~tf_sfw.training.errors` and
:mod:`~tf_sfw.training.run` (:func:`train`). Names are imported lazily (PEP 562), so that
``from tf_sfw.training import TrainConfig`` or the errors do not import TensorFlow.
"""

import importlib

_NAMES = {
    "config": ("CONSTRAINTS", "MODES", "OPTIMIZERS", "RESCALES", "SCHEDULES", "TOP_K_CONSTRAINTS", "TrainConfig"),
    "errors": ("NothingToResumeError", "OutputDirError", "RunAlreadyCompleteError", "TrainingDivergedError",
               "TrainingError", "UnfinishedRunError"),
    "builders": ("RunData", "build_callbacks", "build_constraints", "build_optimizer", "build_schedules",
                 "build_seeded_model", "build_sfw_init_callback", "count_params", "load_run_data", "make_datasets"),
    "resume": ("KillHook", "ResumableBackup", "StopAfterSteps", "random_generators", "read_backup_step",
               "run_status"),
    "callbacks": ("DivergenceGuard", "RunHistory"),
    "chance_level": ("CHANCE_LEVEL_FACTOR", "chance_level_warning", "record_chance_level"),
    "run": ("train",),
}
_WHERE = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    if name in _NAMES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_WHERE) | set(_NAMES))
