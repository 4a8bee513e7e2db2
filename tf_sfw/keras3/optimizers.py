r"""Stochastic Frank-Wolfe as a Keras 3 optimizer (TensorFlow, JAX and PyTorch backends)."""

import contextlib

import keras
from keras import ops as kops

from tf_sfw import fw, recipe_math
from tf_sfw import k_annealing as k_annealing_lib
from tf_sfw import selection as selection_lib
from tf_sfw import validation
from tf_sfw.keras3 import _ops
from tf_sfw.keras3 import constraints as constraints_lib

__all__ = ["SFW"]

_SCHEDULE = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="tf_sfw.keras3")
class SFW(keras.optimizers.Optimizer):
    r"""Stochastic Frank-Wolfe for Keras 3: every variable moves inside its own convex set.

    The update of `tf_sfw.SFW` (Pokutta, Spiegel, Zimmer 2020, "Deep Neural Network Training
    with Frank-Wolfe"), written once in `tf_sfw.fw` / `tf_sfw.lmo` and run here over
    ``keras.ops``. For each variable :math:`\theta` with constraint :math:`C`, at step
    :math:`t = 0, 1, \dots`:

    .. math::
        m_t &= \mu_t\, m_{t-1} + (1 - \mu_t)\, g_t, \qquad \mu_0 = 0,\ \mu_{t>0} = \mu \\
        v_t &= \mathrm{LMO}_C(m_t) \\
        \eta_t &= \mathrm{clip}(\mathrm{lr}_t \cdot f_t,\ 0,\ 1), \quad
            f_t \in \{1,\ 1/D,\ \|m_t\|_2 / \|v_t - \theta_t\|_2\} \\
        \theta_{t+1} &= \theta_t + \eta_t\,(v_t - \theta_t)

    (so :math:`m_0 = g_0`). When the optimizer is built with ``iterations == 0``, every
    constrained variable is first moved into its set (``shift_inside``), unless it is
    already within :math:`10^{-6}` relative of its shifted value. Unconstrained variables
    take the SGD step :math:`\theta_{t+1} = \theta_t - \mathrm{ulr}_t\, m_t`.

    Args:
        learning_rate, momentum, rescale, selection, unconstrained_learning_rate, k_annealing, sgd_steps: as for
            `tf_sfw.SFW` (same validation; ``momentum`` may be a schedule :math:`\mu_t`, e.g.
            `tf_sfw.keras3.AveragingMomentum` for one-shot Frank-Wolfe).
        constraints: `tf_sfw.keras3.VariableConstraints` (from
            `tf_sfw.keras3.constraints_for_model`) or one `tf_sfw.keras3` constraint with
            mode "radius" or "diameter" for every variable.
        jit_compile: accepted for the signature of `tf_sfw.SFW`; Keras 3 compiles the
            update with the model (``model.compile(jit_compile=...)``).
        name and the other keyword arguments: as for every Keras 3 optimizer.
    """

    def __init__(
        self,
        learning_rate=1.0,
        momentum=0.9,
        rescale="gradient",
        constraints=None,
        selection=selection_lib.DEFAULT_SELECTION,
        unconstrained_learning_rate=recipe_math.DEFAULTS["unconstrained_learning_rate"],
        k_annealing=None,
        sgd_steps=0,
        jit_compile=True,
        name="SFW",
        **kwargs,
    ):
        unconstrained_learning_rate = fw.check_optimizer_arguments(
            learning_rate, momentum, rescale, selection, unconstrained_learning_rate, constraints, _SCHEDULE,
            "tf_sfw.keras3.constraints_for_model",
        )
        constraints = constraints_lib.check_constraints(constraints)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = momentum if isinstance(momentum, _SCHEDULE) else float(momentum)
        self.rescale = rescale
        self.constraints = constraints
        self.selection = selection
        self.unconstrained_learning_rate = unconstrained_learning_rate
        self.k_annealing = k_annealing_lib.check_k_annealing(k_annealing)
        self.sgd_steps = validation.check_int(sgd_steps, "sgd_steps", minimum=0)
        self.jit_compile = bool(jit_compile)

    def build(self, var_list):
        """Creates one momentum slot per variable and resolves each variable's set."""
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "m")
        self._variable_constraints = constraints_lib.constraints_per_variable(self.constraints, var_list)
        with _eager_scope():
            if int(kops.convert_to_numpy(self.iterations)) == 0:
                for var, constraint in zip(var_list, self._variable_constraints):
                    if constraint.is_constrained:
                        _shift_inside(var, constraint)

    def _unconstrained_lr(self, dtype):
        lr = self.unconstrained_learning_rate
        if isinstance(lr, _SCHEDULE):
            return kops.cast(lr(self.iterations), dtype)
        return kops.cast(lr, dtype)

    def update_step(self, gradient, variable, learning_rate):
        """One SFW step for one variable (see the class docstring)."""
        index = self._get_variable_index(variable)
        constraint = self._variable_constraints[index]
        m = self._momentums[index]
        dtype = variable.dtype
        gradient = kops.cast(gradient, dtype)
        if isinstance(self.momentum, _SCHEDULE):  # mu_t at every step (one-shot FW: 1 - rho_t)
            mu = kops.cast(self.momentum(self.iterations), dtype)
        else:
            mu = kops.where(kops.equal(self.iterations, 0), kops.zeros([], dtype), kops.cast(self.momentum, dtype))
        momentum = fw.momentum_average(kops.convert_to_tensor(m), gradient, mu)
        self.assign(m, momentum)
        if not constraint.is_constrained:
            self.assign_sub(variable, self._unconstrained_lr(dtype) * momentum)
            return
        theta = kops.convert_to_tensor(variable)
        v = k_annealing_lib.annealed_lmo(self.k_annealing, constraint, momentum, self.iterations, self.selection, _ops)
        direction = v - theta
        diameter = constraint.l2_diameter(_ops.num_elements(theta)) if self.rescale == "diameter" else None
        lr = kops.cast(learning_rate, dtype)
        eta = fw.step_size(lr, self.rescale, direction, gradient=momentum, diameter=diameter, ops=_ops)
        theta_next = fw.convex_step(theta, v, eta)
        if self.sgd_steps:
            theta_next = fw.sgd_start_step(self.iterations, self.sgd_steps, theta, momentum,
                                           self._unconstrained_lr(dtype), theta_next, _ops)
        self.assign(variable, theta_next)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": (
                    keras.optimizers.schedules.serialize(self.momentum)
                    if isinstance(self.momentum, _SCHEDULE)
                    else self.momentum
                ),
                "rescale": self.rescale,
                "constraints": keras.saving.serialize_keras_object(self.constraints),
                "selection": self.selection,
                "unconstrained_learning_rate": (
                    keras.optimizers.schedules.serialize(self.unconstrained_learning_rate)
                    if isinstance(self.unconstrained_learning_rate, _SCHEDULE)
                    else self.unconstrained_learning_rate
                ),
                "k_annealing": None if self.k_annealing is None else self.k_annealing.get_config(),
                "sgd_steps": self.sgd_steps,
                "jit_compile": self.jit_compile,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("momentum", "unconstrained_learning_rate"):
            if isinstance(config.get(key), dict):
                config[key] = keras.optimizers.schedules.deserialize(config[key], custom_objects=custom_objects)
        return super().from_config(config, custom_objects=custom_objects)


def _eager_scope():
    """Eager execution for the one-time shift at build: the TensorFlow backend builds the
    optimizer inside the traced train step (``tf.init_scope`` lifts out of it, as tf_keras
    optimizers do); the other backends build eagerly."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # only under the TensorFlow backend

        return tf.init_scope()
    return contextlib.nullcontext()


def _shift_inside(variable, constraint, rtol=1e-6):
    """Assigns ``constraint.shift_inside(variable)`` unless it is within ``rtol`` of the value
    (the rule of `tf_sfw.SFW`: float rounding of a reloaded run's iterates is left alone)."""
    value = kops.convert_to_tensor(variable)
    shifted = constraint.shift_inside(value)
    if not bool(kops.all(kops.abs(shifted - value) <= rtol * kops.abs(value))):
        variable.assign(shifted)
