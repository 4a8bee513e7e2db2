r"""SAGA-FW (Reddi, Sra, Póczos, Smola, Allerton 2016, "Stochastic Frank-Wolfe Methods for
Nonconvex Optimization") as a Keras model wrapper, over fixed minibatch slots.

The training set is split once into :math:`S = \lfloor n/b \rfloor` fixed minibatches
:math:`B_1, \dots, B_S` (a seeded permutation; the :math:`n - Sb < b` examples left over are
not used), the components of the finite sum :math:`F = \frac{1}{S}\sum_j f_{B_j}`. A table
keeps, for every slot :math:`j`, the gradient :math:`\alpha_j` last computed on it, and its
mean :math:`\bar\alpha`. At each step, for the drawn slot :math:`j`
(`tf_sfw.fw.saga_gradient`, `tf_sfw.fw.saga_mean_update`):

.. math::
    \tilde\nabla_t = \nabla f_{B_j}(x_t) - \alpha_j + \bar\alpha, \qquad
    \bar\alpha \leftarrow \bar\alpha + \bigl(\nabla f_{B_j}(x_t) - \alpha_j\bigr)/S, \qquad
    \alpha_j \leftarrow \nabla f_{B_j}(x_t),

then the Frank-Wolfe step of `tf_sfw.SFW` on :math:`\tilde\nabla_t` (Reddi et al. use a fixed
step :math:`\gamma` without momentum: `tf_sfw.variance_reduction.svfw_optimizer`). Before the
first step the table is filled by one pass over all slots (:math:`Sb` example gradients);
afterwards a step costs :math:`b` example gradients, one backward pass, against SVRF's /
SVFW's two. Per-example tables (:math:`b = 1`) are the paper's setting and fit only tiny
models.

Memory: the table holds :math:`S \times P` numbers for :math:`P` parameters,
``table_bytes = S * P * dtype size`` (e.g. MNIST, b = 128, a 35k-parameter CNN: 468 × 35k ×
4 B ≈ 66 MB; per example: 60000 × 35k × 4 B ≈ 8.4 GB). `SagaFWModel` refuses tables larger
than ``max_table_bytes`` (default 1 GiB) when it is built.
"""

import numpy as np
import tensorflow as tf

from tf_sfw import fw
from tf_sfw import validation
from tf_sfw._keras import keras
from tf_sfw.variance_reduction import FrankWolfeEstimatorModel

__all__ = ["SagaFWModel", "DEFAULT_MAX_TABLE_BYTES", "table_bytes"]

#: Largest gradient table `SagaFWModel` builds unless told otherwise (1 GiB).
DEFAULT_MAX_TABLE_BYTES = 1 << 30


def table_bytes(num_slots, variables):
    """Bytes of a gradient table of ``num_slots`` rows over ``variables``: slots × params × dtype size."""
    return int(num_slots) * sum(int(np.prod(v.shape)) * v.dtype.size for v in variables)


@keras.saving.register_keras_serializable(package="tf_sfw")
class SagaFWModel(FrankWolfeEstimatorModel):
    r"""Trains ``model`` on the SAGA-FW estimator over fixed minibatch slots (see the module docstring).

    Train on :meth:`dataset` (it yields ``(x, y, slot)``)::

        wrapper = SagaFWModel(model, num_examples=len(x_train), batch_size=128)
        wrapper.compile(svfw_optimizer(constraints, 0.05), "sparse_categorical_crossentropy", ["accuracy"])
        wrapper.fit(wrapper.dataset(x_train, y_train), epochs=3)

    Args:
        model: A built tf_keras model (trained in place; ``wrapper.model``).
        num_examples: :math:`n`, the size of the training set.
        batch_size: :math:`b`, the examples per slot; :math:`S = \lfloor n/b\rfloor` slots.
        max_table_bytes: Largest allowed table (bytes); a larger one raises ValueError.
        seed: Seed of the slot assignment and of the slot order in :meth:`dataset`.
        name: Name of the wrapper.

    Attributes:
        num_slots: :math:`S`.
        table_bytes: Bytes of the gradient table (``num_slots * params * dtype size``).
        gradient_evaluations: int64 variable, example gradients so far.
    """

    def __init__(self, model, num_examples, batch_size=128, max_table_bytes=DEFAULT_MAX_TABLE_BYTES, seed=0,
                 name="saga_fw", **kwargs):
        super().__init__(model, name=name, **kwargs)
        self.num_examples = validation.check_positive_int(num_examples, "num_examples")
        self.batch_size = validation.check_int(batch_size, "batch_size", minimum=1, maximum=self.num_examples)
        self.max_table_bytes = validation.check_positive_int(max_table_bytes, "max_table_bytes")
        self.seed = validation.check_int(seed, "seed", minimum=0)
        self.num_slots = self.num_examples // self.batch_size
        self.table_bytes = table_bytes(self.num_slots, model.trainable_variables)
        if self.table_bytes > self.max_table_bytes:
            raise ValueError(
                f"The SAGA-FW gradient table needs {self.table_bytes} bytes ({self.num_slots} slots x "
                f"{sum(int(np.prod(v.shape)) for v in model.trainable_variables)} parameters x dtype size), more than "
                f"`max_table_bytes`: use a larger `batch_size` (fewer slots) or raise the limit. "
                f"Received: max_table_bytes={self.max_table_bytes}, batch_size={self.batch_size}"
            )
        self.table = [
            tf.Variable(tf.zeros((self.num_slots, *v.shape), v.dtype), trainable=False, name="saga_table")
            for v in model.trainable_variables
        ]
        self.table_mean = [tf.Variable(tf.zeros_like(v), trainable=False, name="saga_mean") for v in model.trainable_variables]
        self.table_filled = tf.Variable(False, trainable=False, name="table_filled")
        self.slots = np.random.default_rng(self.seed).permutation(self.num_examples)[: self.num_slots * self.batch_size]
        self.slots = self.slots.reshape(self.num_slots, self.batch_size)
        self._data = None

    def dataset(self, x, y, shuffle=True):
        """A Dataset of ``(x_batch, y_batch, slot)``, one element per slot (one epoch), the slots
        in a seeded random order each epoch when ``shuffle``. Remembered for the table pass."""
        if len(x) != self.num_examples or len(y) != self.num_examples:
            raise ValueError(f"`x` and `y` must hold the `num_examples`={self.num_examples} examples. "
                             f"Received: len(x)={len(x)}, len(y)={len(y)}")
        self._data = (x, y)
        slots = tf.data.Dataset.range(self.num_slots)
        if shuffle:
            slots = slots.shuffle(self.num_slots, seed=self.seed, reshuffle_each_iteration=True)
        index = tf.constant(self.slots)
        xs, ys = tf.constant(x), tf.constant(y)
        return slots.map(lambda j: (tf.gather(xs, index[j]), tf.gather(ys, index[j]), j))

    @tf.function
    def _fill_slot(self, x, y, slot):
        grads = self._gradients(self.model, x, y)
        for row, mean, g in zip(self.table, self.table_mean, grads):
            row.scatter_nd_update([[slot]], g[None])
            mean.assign_add(g / self.num_slots)

    def fill_table(self):
        r"""Sets :math:`\alpha_j = \nabla f_{B_j}(x)` for every slot and :math:`\bar\alpha` their mean."""
        if self._data is None:
            raise ValueError("Call `dataset(x, y)` first: the table is filled from its data.")
        x, y = self._data
        for mean in self.table_mean:
            mean.assign(tf.zeros_like(mean))
        for j in range(self.num_slots):
            self._fill_slot(tf.constant(x[self.slots[j]]), tf.constant(y[self.slots[j]]), tf.constant(j, tf.int64))
        self._count(self.num_slots * self.batch_size)
        self.table_filled.assign(True)

    def train_step(self, data):
        if not (isinstance(data, tuple) and len(data) == 3):
            raise ValueError("SagaFWModel trains on `wrapper.dataset(x, y)`, whose elements are (x, y, slot).")
        x, y, slot = data
        grads, y_pred = self._current_gradients(x, y, None)
        estimate = []
        for g, row_var, mean in zip(grads, self.table, self.table_mean):
            row, mean_value = tf.gather(row_var, slot), tf.convert_to_tensor(mean)
            estimate.append(fw.saga_gradient(g, row, mean_value))
            mean.assign(fw.saga_mean_update(mean_value, g, row, float(self.num_slots)))
            row_var.scatter_nd_update(tf.reshape(tf.cast(slot, tf.int64), [1, 1]), g[None])
        self.optimizer.apply_gradients(zip(estimate, self.model.trainable_variables))
        self._count(tf.shape(x)[0])
        return self.compute_metrics(x, y, y_pred, None)

    def _callback(self):
        return _FillTableCallback(self)

    def get_config(self):
        return {
            **super().get_config(),
            "num_examples": self.num_examples,
            "batch_size": self.batch_size,
            "max_table_bytes": self.max_table_bytes,
            "seed": self.seed,
        }


class _FillTableCallback(keras.callbacks.Callback):
    """Fills the table of a `SagaFWModel` before its first step."""

    def __init__(self, wrapper):
        super().__init__()
        self.wrapper = wrapper

    def on_train_begin(self, logs=None):
        if not bool(self.wrapper.table_filled.numpy()):
            self.wrapper.build_optimizer()
            self.wrapper.fill_table()
