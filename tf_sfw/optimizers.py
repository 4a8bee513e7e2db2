r"""Stochastic Frank-Wolfe as a tf_keras optimizer."""


import tensorflow as tf

from tf_sfw import constraints as constraints_lib
from tf_sfw import fw
from tf_sfw import lmo as lmo_lib
from tf_sfw import structured_constraints  # noqa: F401  (registers the group / N:M sets for from_config)
from tf_sfw._keras import keras

__all__ = ["SFW", "RESCALES"]

RESCALES = fw.RESCALES

_SCHEDULE = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="tf_sfw")
class SFW(keras.optimizers.Optimizer):
    r"""Stochastic Frank-Wolfe: every variable moves inside its own convex set.

    For each variable :math:`\theta` with constraint :math:`C`, after gradient aggregation
    (step index :math:`t = 0, 1, \dots`):

    .. math::
        m_t &= \mu_t\, m_{t-1} + (1 - \mu_t)\, g_t, \qquad \mu_0 = 0,\ \mu_{t>0} = \mu \\
        v_t &= \mathrm{LMO}_C(m_t) = \operatorname{argmin}_{v \in C} \langle m_t, v\rangle \\
        \eta_t &= \mathrm{clip}(\mathrm{lr}_t \cdot f_t,\ 0,\ 1), \quad
            f_t = \begin{cases} 1 & \texttt{rescale=None} \\ 1/D & \texttt{"diameter"} \\
            \|m_t\|_2 / \|\theta_t - v_t\|_2 & \texttt{"gradient"} \end{cases} \\
        \theta_{t+1} &= (1 - \eta_t)\,\theta_t + \eta_t\, v_t

    :math:`m_0 = g_0` as in the PyTorch reference (its TF code starts from :math:`m = 0`,
    which makes the first step :math:`1/(1-\mu)` times too small). :math:`D` is the L2
    diameter of :math:`C`; :math:`f_t = 0` when :math:`\theta_t = v_t`. Since
    :math:`\theta_{t+1}` is a convex combination of points of :math:`C`, iterates stay in
    :math:`C`. When the optimizer is built (by its first ``apply_gradients``) with
    ``iterations == 0``, every constrained variable is first moved into its set
    (`Constraint.shift_inside`, the identity on feasible points), eagerly and once, so that
    the step itself carries no branch. A variable the shift would change by at most
    :math:`10^{-6}` relative in every entry (float rounding of an earlier run's iterates,
    e.g. after reloading a saved model) is left as it is. Weights assigned after the build
    are not shifted: use `tf_sfw.constraints.make_feasible` for them.

    Under `tf.distribute` strategies every replica applies the same step to the all-reduced
    gradient. Note that top-K LMOs are discontinuous where magnitudes tie exactly (e.g. the
    two columns of a 2-class softmax kernel's gradient): float-level differences between a
    one-device and a multi-device gradient sum can then select another, equally optimal,
    vertex.

    Variables whose constraint is `tf_sfw.constraints.Unconstrained` (e.g. BatchNorm
    parameters) are updated by SGD with the same momentum and their own learning rate
    :math:`\mathrm{ulr}_t` (``unconstrained_learning_rate``):
    :math:`\theta_{t+1} = \theta_t - \mathrm{ulr}_t\, m_t`. It is separate from the SFW
    learning rate because the latter is a step-size factor for a convex combination (1.0 in
    the paper's setting), which as an SGD step makes such variables diverge.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`; the
            paper uses 1.0 with ``rescale="gradient"``. It may exceed 1 (``η`` is clipped).
        momentum: :math:`\mu \in [0, 1)`.
        rescale: None, "diameter" or "gradient".
        constraints: `tf_sfw.constraints.VariableConstraints` (from
            `tf_sfw.constraints_for_model`), or a single `Constraint` with mode "radius" or
            "diameter" used for every variable.
        selection: Algorithm for the K-th largest magnitude in top-K LMOs
            (`tf_sfw.lmo.SELECTIONS`): "radix" (default, exact radix selection) or "topk".
        unconstrained_learning_rate: float >= 0 or
            `keras.optimizers.schedules.LearningRateSchedule` (evaluated at ``iterations``),
            the SGD learning rate of unconstrained variables. Default 0.01: with the
            averaged momentum above, :math:`m_t` is an average of gradients, so this is plain
            SGD's step size 0.01 (Keras' SGD default), small enough to be safe for
            BatchNorm and other unconstrained parameters.
        name, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, jit_compile: as for every tf_keras optimizer.
    """

    def __init__(
        self,
        learning_rate=1.0,
        momentum=0.9,
        rescale="gradient",
        constraints=None,
        selection=lmo_lib.DEFAULT_SELECTION,
        unconstrained_learning_rate=0.01,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        jit_compile=True,
        name="SFW",
        **kwargs,
    ):
        super().__init__(
            name=name,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            jit_compile=jit_compile,
            **kwargs,
        )
        unconstrained_learning_rate = fw.check_optimizer_arguments(
            learning_rate, momentum, rescale, selection, unconstrained_learning_rate, constraints, _SCHEDULE,
            "tf_sfw.constraints_for_model",
        )
        constraints = constraints_lib.check_constraints(constraints_lib.deserialize(constraints))
        self._learning_rate = self._build_learning_rate(learning_rate)
        self.momentum = float(momentum)
        self.rescale = rescale
        self.constraints = constraints
        self.selection = selection
        self.unconstrained_learning_rate = unconstrained_learning_rate

    def build(self, var_list):
        """Creates one momentum slot per variable and resolves each variable's set."""
        super().build(var_list)
        if getattr(self, "_built", False):
            return
        self._momentums = []
        for var in var_list:
            self._momentums.append(self.add_variable_from_reference(model_variable=var, variable_name="m"))
        self._variable_constraints = constraints_lib.constraints_per_variable(self.constraints, var_list)
        with tf.init_scope():
            if int(self.iterations.numpy()) == 0:
                for var, constraint in zip(var_list, self._variable_constraints):
                    if constraint.is_constrained:
                        _shift_inside(var, constraint)
        self._built = True

    def _unconstrained_lr(self, dtype):
        lr = self.unconstrained_learning_rate
        if isinstance(lr, _SCHEDULE):
            return tf.cast(lr(self.iterations), dtype)
        return tf.constant(lr, dtype)

    def update_step(self, gradient, variable):
        """One SFW step for one variable (see the class docstring)."""
        index = self._index_dict[self._var_key(variable)]
        constraint = self._variable_constraints[index]
        m = self._momentums[index]
        dtype = variable.dtype
        gradient = tf.cast(tf.convert_to_tensor(gradient), dtype)  # IndexedSlices -> dense
        mu = tf.where(tf.equal(self.iterations, 0), tf.zeros([], dtype), tf.constant(self.momentum, dtype))
        fw.assign_momentum(m, gradient, mu)  # m <- mu m + (1 - mu) g, fused in place
        lr = tf.cast(self.learning_rate, dtype)

        if not constraint.is_constrained:
            variable.assign_sub(self._unconstrained_lr(dtype) * m)
            return

        theta = tf.convert_to_tensor(variable)
        momentum = tf.convert_to_tensor(m)
        v = constraint.lmo(momentum, self.selection)
        direction = v - theta
        diameter = constraint.l2_diameter(variable.shape.num_elements()) if self.rescale == "diameter" else None
        eta = fw.step_size(lr, self.rescale, direction, gradient=momentum, diameter=diameter)
        fw.assign_convex_step(variable, direction, eta)  # (1 - eta) theta + eta v, fused in place

    def get_config(self):
        config = super().get_config()
        learning_rate = self._serialize_hyperparameter(self._learning_rate)
        if hasattr(learning_rate, "item"):  # numpy scalar from the lr variable: JSON-friendly
            learning_rate = learning_rate.item()
        config.update(
            {
                "learning_rate": learning_rate,
                "momentum": self.momentum,
                "rescale": self.rescale,
                "constraints": constraints_lib.serialize(self.constraints),
                "selection": self.selection,
                "unconstrained_learning_rate": (
                    keras.optimizers.schedules.serialize(self.unconstrained_learning_rate)
                    if isinstance(self.unconstrained_learning_rate, _SCHEDULE)
                    else self.unconstrained_learning_rate
                ),
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("unconstrained_learning_rate"), dict):
            config["unconstrained_learning_rate"] = keras.optimizers.schedules.deserialize(
                config["unconstrained_learning_rate"], custom_objects=custom_objects
            )
        return super().from_config(config, custom_objects=custom_objects)


def _shift_inside(variable, constraint, rtol=1e-6):
    """Assigns ``constraint.shift_inside(variable)`` unless it is within ``rtol`` of the value."""
    value = tf.convert_to_tensor(variable)
    shifted = constraint.shift_inside(value)
    if not bool(tf.reduce_all(tf.abs(shifted - value) <= rtol * tf.abs(value))):
        variable.assign(shifted)
