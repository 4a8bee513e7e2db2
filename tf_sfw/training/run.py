"""The training run: :func:`train` builds everything from a config, fits resumably, writes results.

``out`` receives, from a run that finished: ``config.json``, ``model.keras``, ``metrics.json``
(final test accuracy/loss, epochs, wall time, parameter counts, the per-epoch history of the
whole run, full config), ``log.csv`` (one row per epoch, rewritten after every epoch) and
``logs/`` (TensorBoard event files, when the optional ``tensorboard`` package is installed;
see :func:`~tf_sfw.training.callbacks.tensorboard_callback`). While a run is in progress
(or after it was killed) ``out`` holds ``run_state.json`` (the marker of an unfinished run,
with its config) and ``backup/`` (a :class:`~tf_sfw.training.resume.ResumableBackup`). A run
killed at any point continues with ``resume=True`` and ends with bit-identical weights to an
uninterrupted run, because

* every random choice is seeded: initial weights (``keras.utils.set_random_seed``), dropout
  (``tf.random.Generator`` state, which is checkpointed), the data order and augmentation
  (stateless functions of ``(seed, epoch, step)``, see :mod:`tf_sfw.data`);
* the data stream restarts exactly at the number of completed steps read from the backup;
* TensorFlow's op determinism is enabled (``deterministic=True``).
"""

import json
import os
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.training.builders import (
    _as_config,
    build_optimizer,
    build_schedules,
    build_seeded_model,
    build_sfw_init_callback,
    count_params,
    load_run_data,
    make_datasets,
)
from tf_sfw.training.callbacks import (
    DivergenceGuard,
    RunHistory,
    current_learning_rate,
    tensorboard_available,
    tensorboard_callback,
)
from tf_sfw.training.chance_level import record_chance_level
from tf_sfw.training.errors import (
    NothingToResumeError,
    OutputDirError,
    RunAlreadyCompleteError,
    TrainingDivergedError,
    UnfinishedRunError,
)
from tf_sfw.training.resume import (
    RUN_STATE,
    KillHook,
    ResumableBackup,
    clear_run_state,
    read_backup_step,
    read_run_state,
    run_status,
    write_run_state,
)

__all__ = ["train"]

OUTPUTS = ("config.json", "metrics.json", "model.keras", "log.csv", "logs", "backup")
RESUMABLE_CHANGES = ("epochs", "verbose")  # config fields that may differ when resuming


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    raise TypeError(f"not JSON serialisable: {o!r}")


def _write_json(path, obj):
    tmp = str(path) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, default=_json_default)
    os.replace(tmp, path)


def _prepare_out(out):
    """Create ``out`` and check that it is writable (:class:`OutputDirError` otherwise)."""
    if out.exists() and not out.is_dir():
        raise OutputDirError(out, "it exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise OutputDirError(out, err.strerror or err) from None


def _check_run_state(out, config, resume):
    """Refuse what must not happen to ``out``; return the step of the backup to resume from (or 0)."""
    status = run_status(out)
    backup_step = read_backup_step(out / "backup")
    if not resume:
        if status == "interrupted":
            where = f"backup at step {backup_step}" if backup_step is not None else "killed before its first backup"
            raise UnfinishedRunError(
                f"{out} holds an unfinished run ({where}). Pass resume=True (CLI: --resume) to continue it, "
                f"or delete {out} to start over."
            )
        return 0
    if status == "empty":
        raise NothingToResumeError(
            f"Nothing to resume in {out}: it holds no interrupted run (no {RUN_STATE}, no backup). "
            "Start the run without resume (CLI: without --resume)."
        )
    if status == "complete":
        raise RunAlreadyCompleteError(
            f"The run in {out} is already complete (see {out / 'metrics.json'}): nothing to resume; its outputs "
            "are left untouched. Delete it, or choose another output directory, to train again."
        )
    state = read_run_state(out)
    previous = state["config"] if state else None
    if previous is None and (out / "config.json").is_file():
        previous = json.loads((out / "config.json").read_text())
    if previous is not None:
        differ = {k: (previous.get(k), v) for k, v in config.to_dict().items()
                  if k not in RESUMABLE_CHANGES and previous.get(k) != v}
        if differ:
            raise ValueError(
                f"Cannot resume the run in {out} with a different configuration: {differ} (previous, requested). "
                f"Only {', '.join(f'`{k}`' for k in RESUMABLE_CHANGES)} may change on resume."
            )
    if backup_step is None:
        warnings.warn(f"The run in {out} was interrupted before its first backup: restarting it from step 0.",
                      RuntimeWarning, stacklevel=3)
        return 0
    return backup_step


def _clear_outputs(out):
    """Remove a previous run's outputs before a fresh start (``out`` never mixes two runs)."""
    for name in OUTPUTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()


def _on_failure(out, config, err):
    """After an exception: keep a resumable backup (marked failed), else leave no unfinished run."""
    if isinstance(err, TrainingDivergedError) or read_backup_step(out / "backup") is None:
        shutil.rmtree(out / "backup", ignore_errors=True)  # a diverged run is not worth resuming
        clear_run_state(out)
    else:
        write_run_state(out, config.to_dict(), status="failed", error=f"{type(err).__name__}: {err}")


def _callbacks(config, out, data, initial_step, chief, extra_callbacks):
    """The run's callbacks in their required order, and the RunHistory among them."""
    guard = DivergenceGuard(
        config.divergence_factor, description=f"optimizer={config.optimizer!r}, learning_rate={config.learning_rate:g}"
    )
    schedules = build_schedules(config)
    history = RunHistory(out / "log.csv" if chief else None)
    tensorboard = tensorboard_callback(out / "logs", config.tensorboard) if chief else None
    loggers = [tensorboard] if tensorboard is not None else []
    sfw_init = [build_sfw_init_callback(config, data)] if config.sfw_init and initial_step == 0 else []
    backup = ResumableBackup(
        str(out / "backup"), save_freq=config.backup_every or "epoch", stateful_callbacks=[*schedules, history, guard]
    )
    kill = KillHook.from_env()
    callbacks = [guard, *schedules, history, *loggers, *sfw_init, *extra_callbacks, backup, *([kill] if kill else [])]
    return callbacks, history


def train(config, out, resume=False, arrays=None, strategy=None, extra_callbacks=(), save_model=True):
    """Train, evaluate and save one run (see the module docstring for the files in ``out``).

    Args:
        config: :class:`TrainConfig` (or a dict of its fields).
        out: Output directory (created).
        resume: Continue the unfinished run in ``out`` (from its last backup; from step 0 if it
            was killed before its first backup, with a warning). Without ``resume`` an
            unfinished run in ``out`` is an error, so a run is never silently restarted or mixed;
            a finished run in ``out`` is replaced.
        arrays: Optional ``((x_train, y_train), (x_test, y_test))`` uint8/int arrays used instead
            of loading ``config.dataset`` (tests, custom data).
        strategy: Optional ``tf.distribute`` strategy (e.g. MultiWorkerMirroredStrategy); the
            global batch is ``config.batch_size``. Only the chief writes files.
        extra_callbacks: More Keras callbacks (run before the backup callback).
        save_model: Write ``model.keras``.

    Returns:
        ``(model, metrics)``: the trained model and the dict written to ``out/metrics.json``.

    Raises:
        ValueError: bad configuration, or a config differing from the one of the run being resumed.
        OutputDirError: ``out`` cannot be created or written.
        UnfinishedRunError: ``out`` holds an unfinished run and ``resume`` is False.
        NothingToResumeError, RunAlreadyCompleteError: ``resume`` with no run, or a finished one, in ``out``.
        TrainingDivergedError: the training loss became non-finite or exceeded
            ``divergence_factor`` times its initial value (``out`` then holds no unfinished run).
    """
    config, out, start_time = _as_config(config), Path(out), time.time()
    strategy = strategy or tf.distribute.get_strategy()
    chief = strategy.extended.should_checkpoint
    if config.tensorboard and not tensorboard_available():
        tensorboard_callback(out / "logs", True)  # raises the explanation
    if chief:
        _prepare_out(out)
        initial_step = _check_run_state(out, config, resume)
    else:
        initial_step = (read_backup_step(out / "backup") or 0) if resume else 0
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    data = load_run_data(config, arrays)
    if initial_step > config.epochs * data.steps_per_epoch:
        raise ValueError(
            f"The backup in {out / 'backup'} is at step {initial_step}, beyond epochs*steps = "
            f"{config.epochs * data.steps_per_epoch}. Received: epochs={config.epochs}"
        )
    if chief:
        if initial_step == 0:
            _clear_outputs(out)
        write_run_state(out, config.to_dict())
    try:
        return _run(config, out, data, initial_step, strategy, chief, extra_callbacks, save_model, start_time)
    except Exception as err:
        if chief:
            _on_failure(out, config, err)
        raise


def _run(config, out, data, initial_step, strategy, chief, extra_callbacks, save_model, start_time):
    train_ds, test_ds = make_datasets(config, data, initial_step)
    with strategy.scope():
        model = build_seeded_model(config, data.input_shape, data.num_classes)
        optimizer = build_optimizer(model, config, total_steps=config.epochs * data.steps_per_epoch)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    callbacks, history = _callbacks(config, out, data, initial_step, chief, extra_callbacks)
    fit_start = time.time()
    model.fit(train_ds, epochs=config.epochs, steps_per_epoch=data.steps_per_epoch,
              validation_data=test_ds if config.validate else None, callbacks=callbacks, verbose=config.verbose)
    fit_time = time.time() - fit_start
    test_loss, test_accuracy = model.evaluate(test_ds, verbose=0)
    metrics = {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "epochs": config.epochs,
        "steps_per_epoch": data.steps_per_epoch,
        "initial_step": initial_step,
        "augment": data.augment,
        "train_examples": int(len(data.y_train)),
        "test_examples": int(len(data.y_test)),
        "wall_time_s": time.time() - start_time,
        "fit_time_s": fit_time,
        "params": count_params(model),
        "final_learning_rate": current_learning_rate(model.optimizer),
        "history": history.history,
        "history_first_epoch": 1,
        "config": config.to_dict(),
        "versions": {"tensorflow": tf.__version__, "tf_keras": keras.__version__},
    }
    record_chance_level(metrics, data.num_classes)
    if chief:
        if save_model:
            model.save(out / "model.keras")
        _write_json(out / "config.json", config.to_dict())
        _write_json(out / "metrics.json", metrics)  # written last among the outputs: the run is complete
        clear_run_state(out)
        shutil.rmtree(out / "backup", ignore_errors=True)
    return model, metrics
