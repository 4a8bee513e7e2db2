"""Fine-tuning ("retraining") of pruned models with their masks held fixed.

After :func:`tf_sfw.pruning.masks.apply_masks`, training a model normally would let the
optimizer move pruned weights away from zero. Here training runs through tfmot's
pruning wrappers with the :class:`~tf_sfw.pruning.masks.FixedMask` schedule and the
``UpdatePruningStep`` callback: before every training forward pass each masked weight
is reset to ``θ ⊙ m`` and at the end of every epoch once more, so after
:func:`fine_tune` the pruned entries are exactly ``0`` and only kept entries changed.
"""

import tensorflow_model_optimization as tfmot

from tf_sfw import validation
from tf_sfw._keras import keras
from tf_sfw.pruning.magnitude import magnitude_masks
from tf_sfw.pruning.masks import apply_masks, is_pruned, strip

__all__ = ["fine_tune", "prune_and_fine_tune", "default_fine_tune_optimizer"]


def default_fine_tune_optimizer():
    """``keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)``, the default for fine-tuning."""
    return keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)


def fine_tune(
    pruned_model,
    train_ds,
    epochs,
    optimizer=None,
    steps_per_epoch=None,
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    validation_data=None,
    callbacks=None,
    verbose=0,
):
    """Fine-tunes a pruned (wrapped) model for ``epochs`` epochs with its masks fixed.

    Args:
        pruned_model: A model returned by :func:`tf_sfw.pruning.masks.apply_masks`.
        train_ds: Training data accepted by ``keras.Model.fit`` (a ``tf.data.Dataset``
            of ``(x, y)`` batches, or a tuple ``(x, y)`` of arrays).
        epochs: Number of epochs (``0`` returns at once without training).
        optimizer: Optimizer to use. If ``None`` and the model is already compiled, its
            optimizer is kept; if ``None`` and not compiled,
            :func:`default_fine_tune_optimizer` is used.
        steps_per_epoch: Optional number of batches per epoch.
        loss: Loss used when the model has to be (re)compiled.
        metrics: Metrics used when the model has to be (re)compiled.
        validation_data: Optional validation data passed to ``fit``.
        callbacks: Extra Keras callbacks; ``UpdatePruningStep`` is always added.
        verbose: ``fit`` verbosity.

    Returns:
        The ``keras.callbacks.History`` of ``fit``.

    Raises:
        ValueError: If ``pruned_model`` has no pruning wrappers or ``epochs`` is invalid.
    """
    epochs = validation.check_int(epochs, "epochs", minimum=0)
    if not is_pruned(pruned_model):
        raise ValueError(
            "`pruned_model` must be a model with pruning wrappers from apply_masks(); "
            f"received {getattr(pruned_model, 'name', pruned_model)!r} without any."
        )
    if steps_per_epoch is not None:
        steps_per_epoch = validation.check_positive_int(steps_per_epoch, "steps_per_epoch")
    if optimizer is not None or pruned_model.optimizer is None:
        compiled_loss = loss if pruned_model.optimizer is None or getattr(pruned_model, "loss", None) is None else pruned_model.loss
        pruned_model.compile(
            optimizer=optimizer if optimizer is not None else default_fine_tune_optimizer(),
            loss=compiled_loss,
            metrics=list(metrics),
        )
    all_callbacks = [tfmot.sparsity.keras.UpdatePruningStep()] + list(callbacks or [])
    if isinstance(train_ds, tuple) and len(train_ds) == 2:
        x, y = train_ds
        return pruned_model.fit(
            x, y, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=validation_data,
            callbacks=all_callbacks, verbose=verbose,
        )
    return pruned_model.fit(
        train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=validation_data,
        callbacks=all_callbacks, verbose=verbose,
    )


def prune_and_fine_tune(
    model,
    sparsity,
    train_ds,
    epochs,
    scope="global",
    include_bias=False,
    include_batchnorm=False,
    layers=None,
    **fit_kwargs,
):
    """Magnitude-prunes ``model`` to ``sparsity`` and fine-tunes it with the mask fixed.

    Args:
        model: A trained, unwrapped ``keras.Model`` (not modified).
        sparsity: Target sparsity in ``[0, 1)``.
        train_ds: Training data for :func:`fine_tune`.
        epochs: Fine-tuning epochs (``0``: prune only).
        scope: ``"global"`` or ``"layerwise"``.
        include_bias: Also prune biases.
        include_batchnorm: Also prune BatchNorm gamma/beta.
        layers: Optional list of layer names to restrict pruning to.
        **fit_kwargs: Passed to :func:`fine_tune` (``optimizer``, ``steps_per_epoch``, ...).

    Returns:
        ``(stripped_model, history)``: the pruned and fine-tuned model without wrappers
        (pruned weights exactly 0) and the fit history (``None`` when ``epochs == 0``).
    """
    epochs = validation.check_int(epochs, "epochs", minimum=0)
    masks = magnitude_masks(model, sparsity, scope=scope, include_bias=include_bias,
                            include_batchnorm=include_batchnorm, layers=layers)
    pruned = apply_masks(model, masks)
    history = fine_tune(pruned, train_ds, epochs, **fit_kwargs) if epochs > 0 else None
    return strip(pruned), history
