"""Fine-tuning ("retraining") of a magnitude-pruned Keras 3 model with its masks held fixed.

:func:`fine_tune` zeroes the pruned entries, holds the masks as variable constraints
(`tf_sfw.keras3.pruning.fixed_masks`: applied by the optimizer after every update, on every
backend), runs ``model.fit``, and releases the masks again, so that afterwards the pruned
entries are exactly ``0``, only kept entries have changed, and the model is a plain Keras
model again (nothing of the masks is left on it or in what it saves). No tfmot and no
wrapper layers.
"""

import keras
import numpy as np

from tf_sfw import validation
from tf_sfw.keras3.pruning.fixed_masks import fixed_masks
from tf_sfw.keras3.pruning.masks import check_masks

__all__ = ["default_fine_tune_optimizer", "fine_tune"]


def default_fine_tune_optimizer():
    """``keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)``, the default for fine-tuning."""
    return keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)


def _is_array_like(x):
    return isinstance(x, (np.ndarray, list, tuple, dict)) or (hasattr(x, "shape") and hasattr(x, "dtype"))


def fine_tune(
    model,
    masks,
    x,
    y=None,
    epochs=1,
    steps=None,
    batch_size=128,
    optimizer=None,
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    validation_data=None,
    callbacks=None,
    verbose=0,
):
    """Trains ``model`` with ``model.fit`` while its pruned entries stay exactly ``0``.

    Args:
        model: A built Keras 3 ``keras.Model`` (changed in place).
        masks: Mapping ``{"<layer>/<weight>": 0/1 array}``, e.g. from
            `tf_sfw.keras3.pruning.magnitude_masks`.
        x: Training inputs (arrays), or anything ``model.fit`` takes as ``x`` (a
            ``tf.data.Dataset``, a ``keras.utils.PyDataset``, ...) with ``y=None``.
        y: Training targets for array inputs.
        epochs: Number of epochs (``0`` only zeroes the pruned entries).
        steps: Optional number of batches per epoch (``steps_per_epoch``).
        batch_size: Batch size for array inputs.
        optimizer: Optimizer to compile with. ``None`` keeps the model's optimizer when it
            is compiled, else uses :func:`default_fine_tune_optimizer`.
        loss: Loss used when the model is (re)compiled and has none.
        metrics: Metrics used when the model is (re)compiled.
        validation_data: Passed to ``fit``.
        callbacks: Passed to ``fit``.
        verbose: ``fit`` verbosity.

    Returns:
        The ``keras.callbacks.History`` of ``fit`` (``None`` for ``epochs=0``).

    Raises:
        ValueError: For invalid ``masks``, ``epochs``, ``steps`` or ``batch_size``.
    """
    check_masks(model, masks)
    epochs = validation.check_int(epochs, "epochs", minimum=0)
    if steps is not None:
        steps = validation.check_positive_int(steps, "steps")
    batch_size = validation.check_positive_int(batch_size, "batch_size")
    with fixed_masks(model, masks):
        if epochs == 0:
            return None
        compiled = getattr(model, "compiled", False) and getattr(model, "optimizer", None) is not None
        if optimizer is not None or not compiled:
            kept_loss = getattr(model, "loss", None) if compiled else None
            model.compile(
                optimizer=optimizer if optimizer is not None else default_fine_tune_optimizer(),
                loss=kept_loss if kept_loss is not None else loss,
                metrics=list(metrics),
            )
        return model.fit(
            x,
            y,
            batch_size=batch_size if _is_array_like(x) else None,
            epochs=epochs,
            steps_per_epoch=steps,
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=verbose,
        )
