r"""The Frank-Wolfe step, written once: momentum, step size, convex combination.

One stochastic Frank-Wolfe step for a point :math:`\theta` of a convex compact set
:math:`C` (Pokutta, Spiegel, Zimmer 2020, "Deep Neural Network Training with Frank-Wolfe"):

.. math::
    m_t &= \mu\, m_{t-1} + (1 - \mu)\, g_t                      && \text{(`momentum_average`)} \\
    v_t &= \mathrm{LMO}_C(m_t) = \operatorname{argmin}_{v \in C} \langle m_t, v \rangle
                                                               && \text{(`tf_sfw.lmo`)} \\
    \eta_t &= \mathrm{clip}(\mathrm{lr}_t \cdot f_t,\ 0,\ 1), \quad
        f_t = \begin{cases} 1 & \texttt{rescale=None} \\ 1/D & \texttt{"diameter"} \\
        \|m_t\|_2 / \|v_t - \theta_t\|_2 & \texttt{"gradient"} \end{cases}
                                                               && \text{(`step_size`)} \\
    \theta_{t+1} &= (1 - \eta_t)\,\theta_t + \eta_t\, v_t = \theta_t + \eta_t (v_t - \theta_t)
                                                               && \text{(`convex_step`)}

with :math:`D` the L2 diameter of :math:`C` and :math:`f_t = 0` when :math:`v_t = \theta_t`.
The iterate stays in :math:`C` (a convex combination of two of its points).

Users: `tf_sfw.SFW` (per variable, applying `assign_momentum` and `assign_convex_step`,
the in-place forms of the same formulas with fused kernels), SFW-Init
(`tf_sfw.sfw_init`, one differentiable `step` without momentum) and Frank-Wolfe pruning
over masks (`tf_sfw.pruning.iterative`, with NumPy arrays: `momentum_average` and
`convex_step` use only arithmetic operators and work on NumPy arrays and tensors alike;
its step sizes are a constant or `harmonic_step_size`), and `tf_sfw.keras3.SFW` (the same
formulas over ``keras.ops``: the tensor functions take an optional op namespace ``ops``,
TensorFlow by default, see `tf_sfw.selection`).

Beyond the momentum average, the gradient estimators of the Frank-Wolfe variants:

.. math::
    \rho_t &= \min\bigl(1,\ a / (t + b)^p\bigr), \quad t = 1, 2, \dots
        && \text{(`power_decay`: one-shot FW's } \rho_t, \eta_t\text{)} \\
    \tilde\nabla &= \nabla f_B(x) - \nabla f_B(\tilde x) + \nabla F(\tilde x)
        && \text{(`variance_reduced_gradient`: SVRF, SVFW)} \\
    \tilde\nabla &= \nabla f_j(x) - \alpha_j + \bar\alpha, \quad
        \bar\alpha \leftarrow \bar\alpha + (\nabla f_j(x) - \alpha_j)/S, \quad
        \alpha_j \leftarrow \nabla f_j(x)
        && \text{(`saga_gradient`, `saga_mean_update`: SAGA-FW)}

One-shot Frank-Wolfe (Chen, Harshaw, Hassani, Karbasi, ICML 2018, "Projection-Free Online
Optimization with Stochastic Gradient: From Convexity to Submodularity") averages
:math:`d_t = (1-\rho_t)\,d_{t-1} + \rho_t\,g_t` from :math:`d_0 = 0`: `momentum_average`
with :math:`\mu_t = 1 - \rho_t`. SVRF is Hazan & Luo (ICML 2016, "Variance-Reduced and
Projection-Free Stochastic Optimization"); SVFW and SAGA-FW are Reddi, Sra, Póczos, Smola
(Allerton 2016, "Stochastic Frank-Wolfe Methods for Nonconvex Optimization").
"""

import numbers

from tf_sfw import lmo as lmo_lib
from tf_sfw import selection as selection_lib
from tf_sfw import validation

__all__ = [
    "RESCALES",
    "momentum_average",
    "step_size",
    "convex_step",
    "unconstrained_step",
    "sgd_start_step",
    "step",
    "harmonic_step_size",
    "assign_momentum",
    "assign_convex_step",
    "power_decay",
    "check_power_decay_arguments",
    "variance_reduced_gradient",
    "saga_gradient",
    "saga_mean_update",
]

#: Step-size rescales of `step_size`.
RESCALES = (None, "diameter", "gradient")


def check_rescale(rescale):
    """Returns ``rescale`` if it is one of `RESCALES`."""
    if rescale not in RESCALES:
        raise ValueError(f"`rescale` must be one of {RESCALES}. Received: rescale={rescale!r}")
    return rescale


def check_optimizer_arguments(learning_rate, momentum, rescale, selection, unconstrained_learning_rate,
                              constraints, schedule_type, resolver):
    """Validates the arguments the SFW optimizers of both Keras flavours share.

    ``learning_rate`` and ``unconstrained_learning_rate`` may be numbers >= 0 and ``momentum``
    a number in [0, 1), or each an instance of ``schedule_type`` (the flavour's
    LearningRateSchedule); ``resolver`` names the flavour's
    ``constraints_for_model`` in the message for missing ``constraints``.

    Returns:
        ``unconstrained_learning_rate`` as a float, or the schedule unchanged.
    """
    if isinstance(learning_rate, (numbers.Real, bool)):
        validation.check_number(learning_rate, "learning_rate", low=0.0)
    if not isinstance(unconstrained_learning_rate, schedule_type):
        unconstrained_learning_rate = validation.check_number(
            unconstrained_learning_rate, "unconstrained_learning_rate", low=0.0
        )
    if not isinstance(momentum, schedule_type):  # a schedule gives mu_t (e.g. one-shot FW's 1 - rho_t)
        validation.check_fraction(momentum, "momentum")
    check_rescale(rescale)
    selection_lib.check_selection(selection)
    if constraints is None:
        raise ValueError(
            f"`constraints` is required: use `{resolver}(model, "
            "KSparsePolytope(...))`, or one Constraint with mode 'radius'/'diameter'. "
            "Received: constraints=None"
        )
    return unconstrained_learning_rate


def momentum_average(previous, gradient, mu):
    r""":math:`\mu\,m + (1-\mu)\,g` (NumPy arrays or tensors).

    With :math:`\mu = 0` at the first step this starts the average at :math:`m_0 = g_0`.
    """
    return mu * previous + (1.0 - mu) * gradient


def convex_step(theta, v, eta):
    r""":math:`\theta + \eta\,(v - \theta) = (1-\eta)\,\theta + \eta\,v` (NumPy arrays or tensors)."""
    return theta + eta * (v - theta)


def unconstrained_step(theta, momentum, learning_rate):
    r""":math:`\theta - \mathrm{lr}\, m`: the SGD step of an unconstrained variable, with
    :math:`m` the averaged momentum of `momentum_average` (so rate ``u`` is heavy-ball SGD at
    :math:`(1-\mu)\,u`)."""
    return theta - learning_rate * momentum


def sgd_start_step(step, sgd_steps, theta, momentum, unconstrained_learning_rate, fw_theta, ops=None):
    r"""A constrained variable's next iterate in a run that starts with ``sgd_steps`` = S SGD steps:

    .. math::
        \theta_{t+1} = \begin{cases} \theta_t - \mathrm{ulr}_t\, m_t & t < S \\
            \theta^{\mathrm{FW}}_{t+1} & t \ge S \end{cases}

    (``fw_theta`` is the Frank-Wolfe iterate :math:`\theta^{\mathrm{FW}}_{t+1}`). The first S steps
    train every variable as an unconstrained one, as gradual magnitude pruning trains densely
    before it prunes; after them each Frank-Wolfe step is a convex combination with a point of
    the set, which draws an iterate that left its set back into it. A ``where`` on the step
    counter, so the update stays one compiled program.
    """
    ops = selection_lib.get_ops(ops)
    return ops.where(step < sgd_steps, unconstrained_step(theta, momentum, unconstrained_learning_rate), fw_theta)


def norm(x, ops=None):
    r""":math:`\|x\|_2` over all entries (`tf_sfw.lmo.squared_norm`, fast in each mode)."""
    ops = selection_lib.get_ops(ops)
    return ops.sqrt(lmo_lib.squared_norm(x, ops))


def step_size(learning_rate, rescale, direction, gradient=None, gradient_norm=None, diameter=None, ops=None):
    r"""The Frank-Wolfe step size :math:`\eta = \mathrm{clip}(\mathrm{lr} \cdot f, 0, 1)`.

    Args:
        learning_rate: :math:`\mathrm{lr}` (float or scalar tensor).
        rescale: ``None`` (:math:`f = 1`), ``"diameter"`` (:math:`f = 1/D`) or
            ``"gradient"`` (:math:`f = \|m\|_2 / \|v - \theta\|_2`, 0 when
            :math:`v = \theta`).
        direction: :math:`v - \theta` (a tensor; its dtype is the result's).
        gradient: :math:`m`, the estimate given to the LMO (``"gradient"`` only), or
        gradient_norm: :math:`\|m\|_2` directly (``"gradient"`` only; e.g. a tensor that
            is differentiated through).
        diameter: :math:`D` (``"diameter"`` only).
        ops: Op namespace (default TensorFlow).

    Returns:
        Scalar tensor :math:`\eta \in [0, 1]` of ``direction``'s dtype.
    """
    check_rescale(rescale)
    ops = selection_lib.get_ops(ops)
    dtype = ops.dtype(direction)
    lr = lmo_lib.as_scalar(learning_rate, dtype, ops)
    if rescale == "gradient":
        if gradient_norm is None:
            gradient_norm = norm(gradient, ops)
        factor = ops.divide_no_nan(lmo_lib.as_scalar(gradient_norm, dtype, ops), norm(direction, ops))
    elif rescale == "diameter":
        factor = ops.constant(1.0 / diameter, dtype)
    else:
        factor = ops.ones([], dtype)
    return ops.clip_by_value(lr * factor, 0.0, 1.0)


def step(theta, v, learning_rate, rescale="gradient", gradient=None, gradient_norm=None, diameter=None):
    r"""One Frank-Wolfe step to the vertex ``v``: `step_size`, then `convex_step`.

    Differentiable in ``theta``, ``learning_rate`` and ``gradient_norm`` (``v`` is an
    input, not recomputed).

    Returns:
        ``(theta_next, eta)``.
    """
    import tensorflow as tf  # SFW-Init's differentiable step runs on TensorFlow

    theta = tf.convert_to_tensor(theta)
    v = tf.cast(v, theta.dtype)
    direction = v - theta
    eta = step_size(learning_rate, rescale, direction, gradient, gradient_norm, diameter)
    return theta + eta * direction, eta


def harmonic_step_size(t, offset=3.0):
    """The classic Frank-Wolfe step size ``γ_t = 2 / (t + offset)`` for iteration ``t >= 0``.

    ``offset=3`` is ``2/(t+2)`` with the initial point counted as iterate 1 (so
    ``γ_0 = 2/3``); ``offset=2`` gives ``γ_0 = 1``.
    """
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
        raise ValueError(f"`t` must be a non-negative integer. Received: t={t!r}")
    if isinstance(offset, bool) or not isinstance(offset, numbers.Real) or not offset >= 2:
        raise ValueError(f"`offset` must be a number >= 2 (so that γ <= 1). Received: offset={offset!r}")
    return 2.0 / (t + float(offset))


def assign_momentum(m, gradient, mu):
    r"""`momentum_average` in place on the resource variable ``m``.

    Written :math:`m \leftarrow m - (1-\mu)(m - g)` so that one fused kernel
    (``ResourceApplyGradientDescent``) applies it: one pass less than ``assign`` without XLA.
    """
    import tensorflow as tf  # TensorFlow resource variables only (the tf_keras SFW)

    tf.raw_ops.ResourceApplyGradientDescent(var=m.handle, alpha=1.0 - mu, delta=m - gradient)


def assign_convex_step(variable, direction, eta):
    r"""`convex_step` in place on the resource variable ``variable`` (:math:`\theta`).

    With ``direction`` :math:`= v - \theta`: :math:`\theta \leftarrow \theta - (-\eta)(v - \theta)`,
    one fused kernel.
    """
    import tensorflow as tf  # TensorFlow resource variables only (the tf_keras SFW)

    tf.raw_ops.ResourceApplyGradientDescent(var=variable.handle, alpha=-eta, delta=direction)


def check_power_decay_arguments(scale, offset, power):
    """Validates `power_decay`'s ``scale`` > 0, ``offset`` >= 0 and ``power`` > 0; returns floats."""
    return (
        validation.check_positive_number(scale, "scale"),
        validation.check_number(offset, "offset", low=0.0),
        validation.check_positive_number(power, "power"),
    )


def power_decay(step, scale, offset, power, ops=None):
    r""":math:`\min(1,\ a / (t + b)^p)` at the 1-based round :math:`t = \mathrm{step} + 1`.

    With :math:`a = 2, b = 3`: :math:`p = 2/3` is the averaging weight :math:`\rho_t` and
    :math:`p = 1` the step size :math:`\eta_t` of one-shot Frank-Wolfe (Chen et al., ICML 2018),
    the decay rates of the momentum-averaged stochastic Frank-Wolfe of Mokhtari, Hassani,
    Karbasi (AISTATS 2018, "Conditional Gradient Method for Stochastic Submodular
    Maximization: Closing the Gap"); :math:`p = 1, b = 1` is the classic :math:`2/(t+1)`.

    Args:
        step: 0-based optimizer step (integer tensor or number).
        scale, offset, power: :math:`a > 0`, :math:`b \ge 0`, :math:`p > 0`.
        ops: Op namespace (default TensorFlow).

    Returns:
        float32 scalar in (0, 1].
    """
    ops = selection_lib.get_ops(ops)
    t = ops.cast(step, ops.float32) + 1.0
    return ops.minimum(ops.constant(1.0, ops.float32), float(scale) / ops.pow(t + float(offset), float(power)))


def variance_reduced_gradient(gradient, snapshot_gradient, full_gradient):
    r"""The SVRG estimator :math:`\nabla f_B(x) - \nabla f_B(\tilde x) + \nabla F(\tilde x)`.

    Unbiased for :math:`\nabla F(x)` over the draw of the minibatch :math:`B`, with variance
    that vanishes as :math:`x \to \tilde x`: the estimator of SVRF (Hazan & Luo, ICML 2016)
    and SVFW (Reddi et al., 2016). NumPy arrays or tensors.
    """
    return gradient - snapshot_gradient + full_gradient


def saga_gradient(gradient, table_row, table_mean):
    r"""The SAGA estimator :math:`\nabla f_j(x) - \alpha_j + \frac{1}{S}\sum_i \alpha_i` of
    SAGA-FW (Reddi et al., 2016), with :math:`\alpha_j` the gradient last seen for component
    :math:`j`. NumPy arrays or tensors."""
    return gradient - table_row + table_mean


def saga_mean_update(table_mean, gradient, table_row, num_slots):
    r""":math:`\bar\alpha + (\nabla f_j(x) - \alpha_j)/S`: the table mean after
    :math:`\alpha_j \leftarrow \nabla f_j(x)` (NumPy arrays or tensors)."""
    return table_mean + (gradient - table_row) / num_slots
