r"""A short fine-tune of a structurally pruned (shrunken) model, optionally distilled from the dense one.

After filters are removed (`tf_sfw.pruning.shrink`) the model has no masks to hold: every
weight it has left may move. :func:`fine_tune_shrunk` trains it for exactly ``steps`` batches
of ``data`` with two options that matter when the budget is a few dozen steps:

* ``teacher``: the targets are the teacher's predicted class probabilities instead of the
  labels, i.e. the loss is the cross-entropy
  :math:`-\sum_c p^{\text{teacher}}_c(x) \log p^{\text{student}}_c(x)`, which differs from
  :math:`\mathrm{KL}(p^{\text{teacher}} \,\|\, p^{\text{student}})` by a constant (knowledge
  distillation at temperature 1: Hinton, Vinyals and Dean, 2015, "Distilling the Knowledge in a
  Neural Network"). Each example then tells the student the dense network's whole output,
  not only its class.
* ``freeze_batchnorm``: every BatchNormalization layer is set non-trainable during the
  fine-tune, which in Keras also makes it normalise with its moving statistics (inference
  mode); its moving mean and variance, ``gamma`` and ``beta`` stay as they are. A few batches
  in training mode would otherwise pull the moving statistics, often just re-estimated or
  refit, toward a handful of batch statistics.

The batches are the first ``steps`` of ``data`` in order, so two fine-tunes of different
kinds see the same images.
"""

import numpy as np

from tf_sfw import validation
from tf_sfw._keras import keras
from tf_sfw.pruning.batchnorm import batchnorm_layers

__all__ = ["fine_tune_batches", "fine_tune_shrunk"]


def _batches(data, steps):
    """The first ``steps`` ``(x, y)`` batches of ``data`` as NumPy arrays."""
    xs, ys = [], []
    for batch in data:
        if len(xs) == steps:
            break
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError("`data` must yield `(x, y)` batches. Received a batch of type " f"{type(batch).__name__}")
        xs.append(np.asarray(batch[0]))
        ys.append(np.asarray(batch[1]))
    if len(xs) < steps:
        raise ValueError(f"`data` holds {len(xs)} batches, fewer than `steps`. Received: steps={steps}")
    return xs, ys


def _teacher_targets(teacher, xs, from_logits):
    probs = [np.asarray(teacher(x, training=False), dtype=np.float32) for x in xs]
    if from_logits:
        probs = [np.exp(p - p.max(axis=-1, keepdims=True)) for p in probs]
        probs = [p / p.sum(axis=-1, keepdims=True) for p in probs]
    return probs


def fine_tune_batches(data, steps, teacher=None, from_logits=False):
    """The first ``steps`` batches of ``data`` as ``(x, target)`` NumPy pairs.

    ``target`` is the batch's labels, or with a ``teacher`` its predicted class probabilities
    (inference mode; softmax of its outputs when ``from_logits``), the targets of a distilled
    fine-tune. `tf_sfw.pruning.fine_tune` (fixed masks) trains on them with
    ``loss="categorical_crossentropy"`` just as :func:`fine_tune_shrunk` does.
    """
    if teacher is not None and not isinstance(teacher, keras.Model):
        raise ValueError(f"`teacher` must be a keras.Model or None. Received: teacher of type {type(teacher).__name__}")
    steps = validation.check_positive_int(steps, "steps")
    xs, ys = _batches(data, steps)
    return list(zip(xs, ys if teacher is None else _teacher_targets(teacher, xs, from_logits)))


def fine_tune_shrunk(model, data, steps, optimizer=None, teacher=None, freeze_batchnorm=False, from_logits=False):
    """Trains ``model`` in place on the first ``steps`` batches of ``data``.

    Args:
        model: A plain functional or Sequential ``keras.Model`` (e.g. a shrunken one) whose
            output is class probabilities (``from_logits=False``) or logits.
        data: A ``tf.data.Dataset`` or iterable of ``(x, y)`` batches with integer labels
            ``y``; at least ``steps`` of them (a repeated training dataset).
        steps: Number of optimizer steps (one per batch), a positive integer.
        optimizer: The optimizer (default ``SGD(learning_rate=0.01, momentum=0.9)``).
        teacher: Optional model whose predicted probabilities are the targets (knowledge
            distillation, see the module docstring); None trains on the labels.
        freeze_batchnorm: Keep every BatchNorm layer in inference mode with its statistics,
            ``gamma`` and ``beta`` unchanged.
        from_logits: ``model`` (and ``teacher``) output logits rather than probabilities.

    Returns:
        The list of the per-step training losses.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
    batches = fine_tune_batches(data, steps, teacher, from_logits)
    loss = (keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits) if teacher is None
            else keras.losses.CategoricalCrossentropy(from_logits=from_logits))
    frozen = [layer for layer in batchnorm_layers(model) if layer.trainable] if freeze_batchnorm else []
    for layer in frozen:
        layer.trainable = False
    try:
        model.compile(optimizer=optimizer or keras.optimizers.SGD(learning_rate=0.01, momentum=0.9), loss=loss)
        losses = [float(model.train_on_batch(x, t)) for x, t in batches]
    finally:
        for layer in frozen:
            layer.trainable = True
    return losses
