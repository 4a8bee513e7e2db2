r"""Gradual magnitude pruning (GMP) with tensorflow-model-optimization, as a baseline.

This is what a Keras user gets from tfmot today (Zhu & Gupta, 2017, "To prune, or not to
prune"): every Dense/Conv kernel is wrapped by ``prune_low_magnitude`` and, every
``frequency`` steps between ``begin_step`` and ``end_step``, masked to its own (layer-wise)
sparsity

.. math::
    s_t = s_f + (s_0 - s_f)\,\bigl(1 - \tfrac{t - t_b}{t_e - t_b}\bigr)^3

(`tfmot.sparsity.keras.PolynomialDecay`, power 3). Training runs with the
``UpdatePruningStep`` callback, and ``strip_pruning`` returns a plain model whose pruned
kernel entries are exact zeros. Biases are not pruned.
"""

import numbers

import tensorflow_model_optimization as tfmot

from tf_sfw._keras import keras
from tf_sfw.pruning.magnitude import validate_sparsity
from tf_sfw.validation import check_fraction

__all__ = ["gmp_schedule", "gmp_train"]


def gmp_schedule(final_sparsity, total_steps, begin_frac=0.2, end_frac=0.6, frequency=None):
    """tfmot's `PolynomialDecay` from 0 to ``final_sparsity`` over the middle of a run.

    Args:
        final_sparsity: Target sparsity in [0, 1).
        total_steps: Optimizer steps of the whole run (>= 1).
        begin_frac, end_frac: Pruning starts at step ⌊begin_frac·T⌋ and reaches the target
            at ⌊end_frac·T⌋ (0 <= begin_frac < end_frac <= 1).
        frequency: Steps between mask updates; None uses tfmot's default of 100, lowered so
            that at least 10 updates happen between begin and end.

    Returns:
        A `tfmot.sparsity.keras.PolynomialDecay`.
    """
    final_sparsity = validate_sparsity(final_sparsity, "final_sparsity")
    if isinstance(total_steps, bool) or not isinstance(total_steps, numbers.Integral) or total_steps < 1:
        raise ValueError(f"`total_steps` must be a positive integer. Received: total_steps={total_steps!r}")
    begin_frac = check_fraction(begin_frac, "begin_frac", closed_right=True)
    end_frac = check_fraction(end_frac, "end_frac", closed_right=True)
    if not begin_frac < end_frac:
        raise ValueError(
            f"`begin_frac` must be < `end_frac`. Received: begin_frac={begin_frac}, end_frac={end_frac}"
        )
    begin = int(begin_frac * total_steps)
    end = max(begin + 1, int(end_frac * total_steps))
    if frequency is None:
        frequency = max(1, min(100, (end - begin) // 10))
    elif isinstance(frequency, bool) or not isinstance(frequency, numbers.Integral) or frequency < 1:
        raise ValueError(f"`frequency` must be a positive integer or None. Received: frequency={frequency!r}")
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=final_sparsity, begin_step=begin, end_step=end, frequency=int(frequency)
    )


def gmp_train(
    model,
    train_ds,
    final_sparsity,
    epochs,
    steps_per_epoch,
    optimizer,
    begin_frac=0.2,
    end_frac=0.6,
    frequency=None,
    loss="sparse_categorical_crossentropy",
    verbose=0,
):
    """Trains ``model`` with tfmot's gradual magnitude pruning; returns the stripped model.

    Args:
        model: A built, plain Keras model, the starting point. tfmot wraps its layer
            objects, so its kernels are trained (and left masked) in place.
        train_ds: ``tf.data.Dataset`` of ``(x, y)`` batches covering ``epochs`` epochs.
        final_sparsity: Layer-wise target sparsity of every kernel, in [0, 1).
        epochs, steps_per_epoch: Length of the run (positive integers).
        optimizer: A Keras optimizer (e.g. SGD with momentum and an lr schedule).
        begin_frac, end_frac, frequency: See :func:`gmp_schedule`.
        loss: Training loss.
        verbose: ``fit`` verbosity.

    Returns:
        ``(stripped_model, history)``: a plain model with the same layers whose kernels
        have exactly the final masks applied, and the ``fit`` history.
    """
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    schedule = gmp_schedule(final_sparsity, int(epochs) * int(steps_per_epoch), begin_frac, end_frac, frequency)
    wrapped = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    wrapped.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    history = wrapped.fit(
        train_ds,
        epochs=int(epochs),
        steps_per_epoch=int(steps_per_epoch),
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
        verbose=verbose,
    )
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    if not isinstance(stripped, keras.Model):
        raise ValueError(f"strip_pruning returned {type(stripped).__name__}, not a Keras model.")
    return stripped, history
