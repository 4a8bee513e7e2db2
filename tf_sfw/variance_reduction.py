r"""Variance-reduced stochastic Frank-Wolfe (SVRF, SVFW) as a Keras model wrapper.

For a finite sum :math:`F(x) = \frac{1}{n}\sum_{i=1}^n f_i(x)` over a convex compact set
:math:`C` (the `tf_sfw.SFW` constraints), both methods replace the minibatch gradient by the
SVRG estimator around a snapshot :math:`\tilde x` (`tf_sfw.fw.variance_reduced_gradient`):

.. math::
    \tilde\nabla_t = \nabla f_{B_t}(x_t) - \nabla f_{B_t}(\tilde x) + \nabla F(\tilde x),
    \qquad \mathbb{E}_{B_t}\,\tilde\nabla_t = \nabla F(x_t),

then take the Frank-Wolfe step of `tf_sfw.SFW` on :math:`\tilde\nabla_t`. The snapshot
:math:`\tilde x \leftarrow x_t` and its full gradient :math:`\nabla F(\tilde x)` are retaken at
the start of every epoch, or every ``snapshot_every`` steps.

* **SVRF** (Hazan & Luo, ICML 2016, "Variance-Reduced and Projection-Free Stochastic
  Optimization"): inner step :math:`x_k = (1-\gamma_k)\,x_{k-1} + \gamma_k\,\mathrm{LMO}(\tilde\nabla_k)`
  with :math:`\gamma_k = 2/(k+1)` restarted at each snapshot (:func:`svrf_optimizer`: SFW
  with ``learning_rate=RestartingPowerDecay(period)``, no momentum, no rescale). The paper
  grows the minibatch as :math:`m_k = 96(k+1)` and the inner loop as :math:`N_t = 2^{t+3}-2`;
  here the minibatch is the one of ``fit`` and the inner loop one epoch (or
  ``snapshot_every`` steps), a practical variant.
* **SVFW** (Reddi, Sra, Póczos, Smola, Allerton 2016, "Stochastic Frank-Wolfe Methods for
  Nonconvex Optimization"): the same estimator with a fixed step :math:`\gamma` and a fixed
  inner-loop length (:func:`svfw_optimizer`). The paper outputs an iterate drawn at random;
  this returns the last one.

Cost: a snapshot costs :math:`n` example gradients (or ``snapshot_size``, a fresh random
sample each time), a step :math:`2b` (two backward passes); memory: a copy of the model (the
snapshot) and one full-gradient buffer, two times the parameters. `VarianceReducedModel`
counts the example gradients in ``gradient_evaluations``.

The user's model stays plain: `VarianceReducedModel` wraps it (``wrapper.model``), trains its
variables with the compiled optimizer and its own ``train_step``, and prunes / exports as
``wrapper.model``. Functional and Sequential models only (the snapshot is a
``clone_model``); one loss for a single output. Stochastic layers (Dropout) draw independent
masks in the two passes, and BatchNorm uses batch statistics in both, which weakens the
correlation the estimator relies on.
"""

import numpy as np
import tensorflow as tf

from tf_sfw import fw
from tf_sfw import validation
from tf_sfw._keras import keras

__all__ = ["FrankWolfeEstimatorModel", "VarianceReducedModel", "svrf_optimizer", "svfw_optimizer"]


class _Untracked:
    """Holds an object out of Keras' attribute tracking (the snapshot copy is no part of the
    wrapper's weights, checkpoints or saved model)."""

    def __init__(self, value):
        self.value = value


def loss_callable(loss):
    r"""The compiled ``loss`` as ``fn(y, y_pred, sample_weight) -> scalar``, reduced like Keras'
    default (the mean over the batch of the per-example losses times the sample weights).

    Raises:
        ValueError: for a list or dict of losses (one loss for a single output only).
    """
    if isinstance(loss, keras.losses.Loss):
        return loss
    if loss is None or isinstance(loss, (list, tuple, dict)):
        raise ValueError(
            f"`loss` must be one loss (a name, function or Loss) for a single output. Received: loss={loss!r}"
        )
    fn = keras.losses.get(loss)
    if isinstance(fn, keras.losses.Loss):
        return fn

    def reduced(y, y_pred, sample_weight=None):
        values = fn(y, y_pred)
        if sample_weight is not None:
            values = values * tf.cast(sample_weight, values.dtype)
        return tf.reduce_mean(values)

    return reduced


def _dense(grads, variables):
    """Gradients as dense tensors, zeros for variables the loss does not reach."""
    return [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]


class FrankWolfeEstimatorModel(keras.Model):
    """Base of the gradient-estimator wrappers: holds the user's model as ``.model``, forwards
    ``call`` to it, counts example gradients and runs the estimator's callback under ``fit``.

    Subclasses implement ``train_step`` and ``_callback()``.
    """

    def __init__(self, model, name=None, **kwargs):
        if not isinstance(model, keras.Model) or not model.built:
            raise ValueError(f"`model` must be a built Keras model. Received: model={model!r}")
        super().__init__(name=name, **kwargs)
        self.model = model
        self.gradient_evaluations = tf.Variable(0, dtype=tf.int64, trainable=False, name="gradient_evaluations")

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def compile(self, *args, **kwargs):
        """`keras.Model.compile`; ``steps_per_execution`` must be 1 (the estimators' state changes
        between steps)."""
        steps = kwargs.get("steps_per_execution")
        if steps not in (None, 1):
            raise ValueError(f"`steps_per_execution` must be 1. Received: steps_per_execution={steps!r}")
        super().compile(*args, **kwargs)
        self._loss_fn = loss_callable(self.loss)

    def _loss_of(self, model, x, y, sample_weight=None):
        """The compiled loss of ``model`` on a batch, plus its regularization losses."""
        loss = self._loss_fn(y, model(x, training=True), sample_weight)
        if model.losses:
            loss = loss + tf.add_n(model.losses)
        return loss

    def _gradients(self, model, x, y, sample_weight=None):
        with tf.GradientTape() as tape:
            loss = self._loss_of(model, x, y, sample_weight)
        return _dense(tape.gradient(loss, model.trainable_variables), model.trainable_variables)

    def _current_gradients(self, x, y, sample_weight):
        """Gradients of the current iterate; updates the compiled loss and metrics."""
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        return _dense(tape.gradient(loss, self.model.trainable_variables), self.model.trainable_variables), y_pred

    def _count(self, examples):
        self.gradient_evaluations.assign_add(tf.cast(examples, tf.int64))

    def build_optimizer(self):
        """Builds the compiled optimizer on the model's variables: `tf_sfw.SFW` moves them into
        their sets there, so that the first snapshot / table fill sees the feasible start."""
        self.optimizer.build(self.model.trainable_variables)

    def _callback(self):
        raise NotImplementedError

    def fit(self, *args, callbacks=None, **kwargs):
        """`keras.Model.fit` with the estimator's callback (snapshots / table set-up) added."""
        return super().fit(*args, callbacks=list(callbacks or []) + [self._callback()], **kwargs)

    def get_config(self):
        return {"model": keras.saving.serialize_keras_object(self.model), "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"], custom_objects=custom_objects)
        return cls(**config)


@keras.saving.register_keras_serializable(package="tf_sfw")
class VarianceReducedModel(FrankWolfeEstimatorModel):
    r"""Trains ``model`` on the SVRG estimator of SVRF / SVFW (see the module docstring).

    Example::

        wrapper = VarianceReducedModel(model, snapshot_data=(x_train, y_train))
        wrapper.compile(svfw_optimizer(constraints, 0.05), "sparse_categorical_crossentropy", ["accuracy"])
        wrapper.fit(x_train, y_train, batch_size=128, epochs=3)
        tf_sfw.pruning.sweep(wrapper.model, (x_test, y_test))

    Args:
        model: A built functional or Sequential tf_keras model (trained in place).
        snapshot_data: ``(x, y)`` arrays, or a ``tf.data.Dataset`` of ``(x, y)`` batches, over
            which :math:`\nabla F(\tilde x)` is computed; required before ``fit`` (not part
            of the config).
        snapshot_every: Steps between snapshots, or None for the start of every epoch.
        snapshot_size: Number of examples drawn at random (without replacement, anew at each
            snapshot) for :math:`\nabla F(\tilde x)` from array ``snapshot_data``; None for all.
        snapshot_batch_size: Batch size of the full-gradient pass (arrays only).
        seed: Seed of the ``snapshot_size`` draws.
        name: Name of the wrapper.

    Attributes:
        model: The user's model.
        gradient_evaluations: int64 variable, example gradients so far (snapshot: n; step: 2b).
        full_gradients: :math:`\nabla F(\tilde x)`, one variable per trainable variable.
        snapshots: Number of snapshots taken.
    """

    def __init__(self, model, snapshot_data=None, snapshot_every=None, snapshot_size=None,
                 snapshot_batch_size=1000, seed=0, name="variance_reduced", **kwargs):
        super().__init__(model, name=name, **kwargs)
        if snapshot_every is not None:
            snapshot_every = validation.check_positive_int(snapshot_every, "snapshot_every")
        if snapshot_size is not None:
            snapshot_size = validation.check_positive_int(snapshot_size, "snapshot_size")
        self.snapshot_every, self.snapshot_size = snapshot_every, snapshot_size
        self.snapshot_batch_size = validation.check_positive_int(snapshot_batch_size, "snapshot_batch_size")
        self.seed = validation.check_int(seed, "seed", minimum=0)
        clone = keras.models.clone_model(model)
        if [v.shape for v in clone.weights] != [v.shape for v in model.weights]:
            raise ValueError(f"`model` could not be cloned with the same variables. Received: model={model.name!r}")
        self._snapshot = _Untracked(clone)
        self.full_gradients = [
            tf.Variable(tf.zeros_like(v), trainable=False, name="full_gradient") for v in model.trainable_variables
        ]
        self.snapshots = 0
        self._steps_since = 0
        self._rng = np.random.default_rng(self.seed)
        self.snapshot_data = None
        if snapshot_data is not None:
            self.set_snapshot_data(snapshot_data)

    @property
    def snapshot_model(self):
        """The copy of the model at the snapshot :math:`\\tilde x`."""
        return self._snapshot.value

    def set_snapshot_data(self, snapshot_data):
        """Sets the data of the full-gradient pass (``(x, y)`` arrays or a batched Dataset)."""
        if isinstance(snapshot_data, tf.data.Dataset):
            if self.snapshot_size is not None:
                raise ValueError(
                    f"`snapshot_size` needs array `snapshot_data`. Received: snapshot_size={self.snapshot_size}"
                )
        elif not (
            isinstance(snapshot_data, (tuple, list))
            and len(snapshot_data) == 2
            and len(snapshot_data[0]) == len(snapshot_data[1])
        ):
            raise ValueError("`snapshot_data` must be (x, y) arrays of equal length or a tf.data.Dataset of (x, y) "
                             f"batches. Received: snapshot_data={type(snapshot_data).__name__}")
        elif self.snapshot_size is not None and self.snapshot_size > len(snapshot_data[0]):
            raise ValueError(f"`snapshot_size` must be <= the {len(snapshot_data[0])} examples of `snapshot_data`. "
                             f"Received: snapshot_size={self.snapshot_size}")
        self.snapshot_data = snapshot_data

    def _snapshot_batches(self):
        if isinstance(self.snapshot_data, tf.data.Dataset):
            return self.snapshot_data
        x, y = self.snapshot_data
        if self.snapshot_size is not None:
            index = np.sort(self._rng.choice(len(x), self.snapshot_size, replace=False))
            x, y = x[index], y[index]
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(self.snapshot_batch_size)

    @tf.function
    def _accumulate(self, x, y):
        batch = tf.shape(x)[0]
        for total, g in zip(self.full_gradients, self._gradients(self.snapshot_model, x, y)):
            total.assign_add(g * tf.cast(batch, g.dtype))
        return batch

    def take_snapshot(self):
        r"""Sets :math:`\tilde x \leftarrow x` and computes :math:`\nabla F(\tilde x)` (eagerly,
        between steps): the mean of the per-batch gradients weighted by batch size."""
        if self.snapshot_data is None:
            raise ValueError("`snapshot_data` is required to take a snapshot: pass it to VarianceReducedModel or "
                             "set_snapshot_data. Received: snapshot_data=None")
        for copy, var in zip(self.snapshot_model.weights, self.model.weights):
            copy.assign(var)
        for total in self.full_gradients:
            total.assign(tf.zeros_like(total))
        n = 0
        for x, y in self._snapshot_batches():
            n += int(self._accumulate(x, y))
        for total in self.full_gradients:
            total.assign(total / tf.cast(n, total.dtype))
        self._count(n)
        self.snapshots += 1
        self._steps_since = 0

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        grads, y_pred = self._current_gradients(x, y, sample_weight)
        snapshot_grads = self._gradients(self.snapshot_model, x, y, sample_weight)
        estimate = [fw.variance_reduced_gradient(g, s, f) for g, s, f in zip(grads, snapshot_grads, self.full_gradients)]
        self.optimizer.apply_gradients(zip(estimate, self.model.trainable_variables))
        self._count(2 * tf.shape(x)[0])
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def _callback(self):
        return _SnapshotCallback(self)

    def get_config(self):
        return {
            **super().get_config(),
            "snapshot_every": self.snapshot_every,
            "snapshot_size": self.snapshot_size,
            "snapshot_batch_size": self.snapshot_batch_size,
            "seed": self.seed,
        }


class _SnapshotCallback(keras.callbacks.Callback):
    """Takes the snapshots of a `VarianceReducedModel`: before the first step, then at the start
    of every epoch or every ``snapshot_every`` steps."""

    def __init__(self, wrapper):
        super().__init__()
        self.wrapper = wrapper

    def on_train_begin(self, logs=None):
        if self.wrapper.snapshots == 0:
            self.wrapper.build_optimizer()
            self.wrapper.take_snapshot()

    def on_epoch_begin(self, epoch, logs=None):
        if self.wrapper.snapshot_every is None and self.wrapper._steps_since > 0:
            self.wrapper.take_snapshot()

    def on_train_batch_begin(self, batch, logs=None):
        every = self.wrapper.snapshot_every
        if every is not None and self.wrapper._steps_since >= every:
            self.wrapper.take_snapshot()

    def on_train_batch_end(self, batch, logs=None):
        self.wrapper._steps_since += 1


def svrf_optimizer(constraints, period, **kwargs):
    r"""`tf_sfw.SFW` as SVRF's inner step (Hazan & Luo, ICML 2016):
    :math:`x_k = (1-\gamma_k)x_{k-1} + \gamma_k\,\mathrm{LMO}(\tilde\nabla_k)`,
    :math:`\gamma_k = 2/(k+1)`, :math:`k` restarting every ``period`` steps (set it to the steps
    between snapshots: the steps per epoch, or ``snapshot_every``). No momentum, no rescale.

    ``**kwargs`` go to `tf_sfw.SFW` (e.g. ``scale``/``offset`` are not; use
    ``learning_rate=RestartingPowerDecay(period, offset=...)`` there for a slower start).
    """
    from tf_sfw.optimizers import SFW
    from tf_sfw.schedules import RestartingPowerDecay

    kwargs.setdefault("learning_rate", RestartingPowerDecay(period))
    kwargs.setdefault("momentum", 0.0)
    kwargs.setdefault("rescale", None)
    return SFW(constraints=constraints, **kwargs)


def svfw_optimizer(constraints, learning_rate, **kwargs):
    r"""`tf_sfw.SFW` as SVFW's step (Reddi et al., 2016): :math:`x_{t+1} = x_t +
    \gamma\,(\mathrm{LMO}(\tilde\nabla_t) - x_t)` with the fixed step ``learning_rate``
    :math:`\gamma` (no momentum, no rescale unless given in ``**kwargs``)."""
    from tf_sfw.optimizers import SFW

    kwargs.setdefault("momentum", 0.0)
    kwargs.setdefault("rescale", None)
    return SFW(learning_rate=learning_rate, constraints=constraints, **kwargs)
