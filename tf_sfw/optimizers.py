r"""Stochastic Frank-Wolfe as a tf_keras optimizer."""


import tensorflow as tf

from tf_sfw import constraints as constraints_lib
from tf_sfw import fw
from tf_sfw import k_annealing as k_annealing_lib
from tf_sfw import lmo as lmo_lib
from tf_sfw import recipe_math
from tf_sfw import validation
from tf_sfw import structured_constraints  # noqa: F401  (registers the group / N:M sets for from_config)
from tf_sfw._keras import keras

__all__ = ["SFW", "RESCALES", "one_shot_fw"]

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

    **One-shot Frank-Wolfe** (Chen, Harshaw, Hassani, Karbasi, ICML 2018, "Projection-Free
    Online Optimization with Stochastic Gradient: From Convexity to Submodularity"):
    ``momentum`` may be a schedule :math:`\mu_t` (evaluated at ``iterations``, at every step
    including the first, from :math:`m_{-1} = 0`). With
    `tf_sfw.schedules.AveragingMomentum` (:math:`\mu_t = 1-\rho_t`),
    ``learning_rate=tf_sfw.schedules.PowerDecay()`` and ``rescale=None`` the step is

    .. math::
        d_t = (1-\rho_t)\,d_{t-1} + \rho_t\,g_t, \quad
        x_{t+1} = x_t + \eta_t\,(\mathrm{LMO}_C(d_t) - x_t), \quad
        \rho_t = 2/(t+3)^{2/3},\ \eta_t = 2/(t+3)

    (1-based :math:`t`); :func:`one_shot_fw` builds it. The variance-reduced variants
    (SVRF, SVFW, SAGA-FW) feed this optimizer corrected gradients: `tf_sfw.variance_reduction`,
    `tf_sfw.saga_fw`.

    Variables whose constraint is `tf_sfw.constraints.Unconstrained` (e.g. BatchNorm
    parameters) are updated by SGD with the same momentum and their own learning rate
    :math:`\mathrm{ulr}_t` (``unconstrained_learning_rate``):
    :math:`\theta_{t+1} = \theta_t - \mathrm{ulr}_t\, m_t`. It is separate from the SFW
    learning rate because the latter is a step-size factor for a convex combination (1.0 in
    the paper's setting), which as an SGD step makes such variables diverge.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`; the
            paper uses 1.0 with ``rescale="gradient"``. It may exceed 1 (``η`` is clipped).
        momentum: :math:`\mu \in [0, 1)`, or a `keras.optimizers.schedules.LearningRateSchedule`
            giving :math:`\mu_t` (e.g. `tf_sfw.schedules.AveragingMomentum`).
        rescale: None, "diameter" or "gradient".
        constraints: `tf_sfw.constraints.VariableConstraints` (from
            `tf_sfw.constraints_for_model`), or a single `Constraint` with mode "radius" or
            "diameter" used for every variable.
        selection: Algorithm for the K-th largest magnitude in top-K LMOs
            (`tf_sfw.lmo.SELECTIONS`): "radix" (default, exact radix selection) or "topk".
        unconstrained_learning_rate: float >= 0 or
            `keras.optimizers.schedules.LearningRateSchedule` (evaluated at ``iterations``),
            the SGD learning rate of unconstrained variables. Default 0.5, the recipe's
            (`tf_sfw.recipe_math.DEFAULTS`, chosen on held-out data for biases when only the
            kernels are constrained): with the averaged momentum above, :math:`m_t` is an
            average of gradients, so this is heavy-ball SGD at 0.05 with momentum 0.9.
        k_annealing: None, or a `tf_sfw.KAnnealing`: the K of every top-K set for the first
            steps (a dense start before the sparse phase; see `tf_sfw.k_annealing`).
        sgd_steps: int >= 0 (default 0): steps :math:`t <` ``sgd_steps`` update every variable
            as an unconstrained one, :math:`\theta_{t+1} = \theta_t - \mathrm{ulr}_t\, m_t`
            (an SGD start, as gradual magnitude pruning trains densely before pruning; the
            momentum carries on into the Frank-Wolfe steps; `tf_sfw.fw.sgd_start_step`).
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
        unconstrained_learning_rate=recipe_math.DEFAULTS["unconstrained_learning_rate"],
        k_annealing=None,
        sgd_steps=0,
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
        self.momentum = momentum if isinstance(momentum, _SCHEDULE) else float(momentum)
        self.rescale = rescale
        self.constraints = constraints
        self.selection = selection
        self.unconstrained_learning_rate = unconstrained_learning_rate
        self.k_annealing = k_annealing_lib.check_k_annealing(k_annealing)
        self.sgd_steps = validation.check_int(sgd_steps, "sgd_steps", minimum=0)

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

    def _momentum_at(self, dtype):
        """:math:`\mu_t`: the schedule's value, or 0 at the first step and ``momentum`` after."""
        if isinstance(self.momentum, _SCHEDULE):
            return tf.cast(self.momentum(self.iterations), dtype)
        return tf.where(tf.equal(self.iterations, 0), tf.zeros([], dtype), tf.constant(self.momentum, dtype))

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
        mu = self._momentum_at(dtype)
        fw.assign_momentum(m, gradient, mu)  # m <- mu m + (1 - mu) g, fused in place
        lr = tf.cast(self.learning_rate, dtype)

        if not constraint.is_constrained:
            variable.assign_sub(self._unconstrained_lr(dtype) * m)
            return

        theta = tf.convert_to_tensor(variable)
        momentum = tf.convert_to_tensor(m)
        v = k_annealing_lib.annealed_lmo(self.k_annealing, constraint, momentum, self.iterations, self.selection)
        direction = v - theta
        diameter = constraint.l2_diameter(variable.shape.num_elements()) if self.rescale == "diameter" else None
        eta = fw.step_size(lr, self.rescale, direction, gradient=momentum, diameter=diameter)
        if self.sgd_steps:
            variable.assign(fw.sgd_start_step(self.iterations, self.sgd_steps, theta, momentum,
                                              self._unconstrained_lr(dtype), fw.convex_step(theta, v, eta)))
        else:
            fw.assign_convex_step(variable, direction, eta)  # (1 - eta) theta + eta v, fused in place

    def get_config(self):
        config = super().get_config()
        learning_rate = self._serialize_hyperparameter(self._learning_rate)
        if hasattr(learning_rate, "item"):  # numpy scalar from the lr variable: JSON-friendly
            learning_rate = learning_rate.item()
        config.update(
            {
                "learning_rate": learning_rate,
                "momentum": _serialize_schedule(self.momentum),
                "rescale": self.rescale,
                "constraints": constraints_lib.serialize(self.constraints),
                "selection": self.selection,
                "unconstrained_learning_rate": _serialize_schedule(self.unconstrained_learning_rate),
                "k_annealing": None if self.k_annealing is None else self.k_annealing.get_config(),
                "sgd_steps": self.sgd_steps,
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


def _serialize_schedule(value):
    return keras.optimizers.schedules.serialize(value) if isinstance(value, _SCHEDULE) else value


def one_shot_fw(constraints, rho=None, eta=None, **kwargs):
    r"""`SFW` as one-shot Frank-Wolfe (Chen et al., ICML 2018):
    :math:`d_t = (1-\rho_t)\,d_{t-1} + \rho_t\,g_t`, :math:`x_{t+1} = x_t + \eta_t(v_t - x_t)`.

    Args:
        constraints: As for `SFW`.
        rho: `tf_sfw.schedules.AveragingMomentum` (:math:`\mu_t = 1-\rho_t`); default
            :math:`\rho_t = 2/(t+3)^{2/3}`.
        eta: Step-size schedule or float; default `tf_sfw.schedules.PowerDecay()`,
            :math:`\eta_t = 2/(t+3)`.
        **kwargs: Other `SFW` arguments (``rescale`` defaults to None: the step is
            :math:`\eta_t` itself).

    Returns:
        An `SFW` optimizer.
    """
    from tf_sfw import schedules

    rho = schedules.AveragingMomentum() if rho is None else rho
    if not isinstance(rho, schedules.AveragingMomentum):
        raise ValueError(
            "`rho` must be a tf_sfw.schedules.AveragingMomentum (mu_t = 1 - rho_t), or None for "
            f"Chen et al.'s 2/(t+3)^(2/3). Received: rho={rho!r}"
        )
    kwargs.setdefault("rescale", None)
    eta = schedules.PowerDecay() if eta is None else eta
    return SFW(learning_rate=eta, momentum=rho, constraints=constraints, **kwargs)


def _shift_inside(variable, constraint, rtol=1e-6):
    """Assigns ``constraint.shift_inside(variable)`` unless it is within ``rtol`` of the value."""
    value = tf.convert_to_tensor(variable)
    shifted = constraint.shift_inside(value)
    if not bool(tf.reduce_all(tf.abs(shifted - value) <= rtol * tf.abs(value))):
        variable.assign(shifted)
