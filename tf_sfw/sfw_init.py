r"""SFW-Init: learned layer-wise scales of the initialization.

The initialization scheme for Stochastic Frank-Wolfe of Miao et al., ICLR 2022 ("Learning
Pruning-Friendly Networks via Frank-Wolfe: One-Shot, Any-Sparsity, and No Retraining").
Every constrained trainable variable :math:`\theta_l` gets one scalar :math:`\beta_l`,
starting at 1, and is re-parametrised as

.. math::  \theta_l(\beta_l) = \beta_l\, u_l, \qquad
           u_l = \frac{\theta_l^0}{\|\theta_l^0\|_2}\, \mathbb{E}\|\theta_l^{init}\|_2 ,

i.e. the initial tensor normalised to the expected norm under the layer's own initializer
(`tf_sfw.constraints.expected_init_norms`). For ``T`` iterations, with three disjoint
random half-batches :math:`B_0, B_1, B_2` (``batch_size / 2`` samples each;
:math:`S = B_0 \cup B_1`, :math:`\tilde S = B_0 \cup B_2`: two overlapping batches):

.. math::
    g_l &= \nabla_{\theta_l} L(S; \theta(\beta)), \qquad v_l = \mathrm{LMO}_{C_l}(g_l) \\
    \eta_l &= \mathrm{clip}\big(\mathrm{lr}\, \|g_l\|_2 / \|\theta_l(\beta) - v_l\|_2,\ 0,\ 1\big) \\
    \theta_l^1 &= \theta_l(\beta) + \eta_l\, (v_l - \theta_l(\beta)) \\
    J(\beta) &= L(\tilde S; \theta^1) / \mathrm{lr} \\
    \beta &\leftarrow \Pi_{[\beta^{lo}, \beta^{hi}]}\Big(\mathrm{Adam}\big(\beta,\
            \mathrm{clip}(\nabla_\beta J, -1, 1)\big)\Big)

This is ONE SFW step without momentum and with the ``"gradient"`` rescale, as the first
step of `tf_sfw.SFW` would take it (`tf_sfw.fw.step`). It is differentiated exactly:

* :math:`v_l` is piecewise constant in :math:`g_l` for polytopes (its derivative is zero
  almost everywhere), so it is treated as a constant (``tf.stop_gradient``);
* :math:`\beta` acts through :math:`\theta_l(\beta)` (directly and inside :math:`\eta_l`), and,
  with ``second_order=True`` (default), also through :math:`\|g_l\|_2`, whose derivative needs
  a Hessian-vector product :math:`\partial \|g_l\| / \partial \beta_j =
  \langle (H\, g_l/\|g_l\|)_j, u_j \rangle` (one double-backward pass per iteration).
  ``second_order=False`` drops that term (a first-order approximation, cheaper).

Variables whose constraint is `tf_sfw.Unconstrained` (e.g. BatchNorm) keep
:math:`\beta = 1` and their initial values; in the differentiable step they move by the
optimizer's SGD fallback :math:`\theta^1 = \theta - \mathrm{lr}\, g` (differentiated as well).
Variables with a zero initial tensor (Keras' zero-initialised biases and BN offsets) have no
direction to scale: their :math:`\beta` has no effect and is not updated.

Clamps: :math:`\beta^{lo}` is ``weight_floor`` (0.01) for weights and ``bias_floor`` (0) for
biases (variables named ``bias`` or ``beta``). With ``project=True`` (default)
:math:`\beta^{hi}_l` is the largest scale with :math:`\beta u_l \in C_l`
(`max_feasible_scale`), so every iterate is feasible. Afterwards the scaled variables are
assigned and `tf_sfw.make_feasible` is applied anyway (the reference implementation does
not; with ``project=False`` it is what restores feasibility).

Side effects are limited to the trainable variables: BatchNorm runs in training mode during
SFW-Init, but its moving statistics (all non-trainable variables) are restored afterwards.
"""

import math

import numpy as np
import tensorflow as tf

from tf_sfw import constraints as constraints_lib
from tf_sfw import fw, validation
from tf_sfw._keras import keras
from tf_sfw.variables import short_name

__all__ = [
    "BIAS_NAMES",
    "SFWInitCallback",
    "adam_update",
    "clip_gradient",
    "initial_directions",
    "is_bias",
    "max_feasible_scale",
    "sfw_init",
    "sfw_step",
]

#: Short variable names that get ``bias_floor`` (all others get ``weight_floor``).
BIAS_NAMES = ("bias", "beta")


def is_bias(variable):
    """Whether ``variable`` is a bias (short name in `BIAS_NAMES`, e.g. ``dense/bias:0``)."""
    return short_name(variable) in BIAS_NAMES


# --------------------------------------------------------------------------------------
# Pure pieces.


def sfw_step(theta, v, gradient_norm, learning_rate):
    r"""One SFW step without momentum and with the ``"gradient"`` rescale (`tf_sfw.fw.step`).

    .. math::  \eta = \mathrm{clip}\big(\mathrm{lr}\,\|g\|_2 / \|\theta - v\|_2, 0, 1\big), \quad
               \theta^1 = \theta + \eta\,(v - \theta)

    (:math:`\eta = 0` when :math:`\theta = v`). Differentiable in ``theta`` and
    ``gradient_norm`` (``v`` is an input, not recomputed).

    Returns:
        ``(theta1, eta)``.
    """
    return fw.step(theta, v, learning_rate, "gradient", gradient_norm=gradient_norm)


def clip_gradient(gradient, limit=1.0):
    """Element-wise clip to ``[-limit, limit]`` (numpy; NaN raises)."""
    gradient = np.asarray(gradient, dtype=np.float64)
    if not np.all(np.isfinite(gradient)):
        raise ValueError(f"SFW-Init produced a non-finite gradient for the scales: {gradient}")
    return np.clip(gradient, -limit, limit)


def adam_update(params, gradient, m, v, step, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    r"""One Adam step (Kingma & Ba, "Adam: A Method for Stochastic Optimization"), NumPy.

    .. math::
        m &\leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\
        p &\leftarrow p - \alpha\, \frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}

    Args:
        params, gradient, m, v: arrays of equal shape.
        step: 1-based step number ``t``.

    Returns:
        ``(params, m, v)`` (new arrays).
    """
    step = validation.check_positive_int(step, "step")
    gradient = np.asarray(gradient, dtype=np.float64)
    m = beta_1 * np.asarray(m, dtype=np.float64) + (1.0 - beta_1) * gradient
    v = beta_2 * np.asarray(v, dtype=np.float64) + (1.0 - beta_2) * gradient**2
    m_hat = m / (1.0 - beta_1**step)
    v_hat = v / (1.0 - beta_2**step)
    params = np.asarray(params, dtype=np.float64) - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)
    return params, m, v


def max_feasible_scale(constraint, direction):
    r"""Largest :math:`s` with :math:`s\,u \in C` (``inf`` when unconstrained or ``u = 0``).

    Uses the constraint's radial `shift_inside` on a far-away multiple of ``u``: for the
    radially rescaled sets of `tf_sfw.constraints` this is exactly
    :math:`r / \mathrm{size}(u)` (e.g. :math:`r / \max(\|u\|_\infty, \|u\|_1/K)` for the
    K-sparse polytope).
    """
    direction = tf.convert_to_tensor(direction, tf.float32)
    norm = float(tf.norm(direction))
    if not constraint.is_constrained or norm == 0.0:
        return math.inf
    n = direction.shape.num_elements()
    far = 1e3 * max(constraint.l2_diameter(n), 1.0) / norm
    inside = constraint.shift_inside(far * direction)
    return float(tf.norm(inside)) / norm


def initial_directions(model, init_norms=None):
    r"""The directions :math:`u_l = \theta_l^0 / \|\theta_l^0\| \cdot \mathbb{E}\|\theta_l^{init}\|`.

    Args:
        model: A built model at its initialization.
        init_norms: Optional ``{variable path or name: expected norm}`` overriding the value
            derived from the layer's initializer (`tf_sfw.constraints.expected_init_norms`);
            variables with neither use their actual norm (``u = θ⁰``).

    Returns:
        List of numpy arrays, one per ``model.trainable_variables`` (all zeros for a zero
        initial tensor).
    """
    expected = constraints_lib.expected_init_norms(model, init_norms)
    directions = []
    for variable, target in zip(model.trainable_variables, expected):
        value = variable.numpy().astype(np.float64)
        norm = float(np.linalg.norm(value))
        if norm == 0.0:
            directions.append(np.zeros(value.shape, np.float32))
            continue
        directions.append((value / norm * (norm if target is None else float(target))).astype(np.float32))
    return directions


# --------------------------------------------------------------------------------------
# The differentiable objective.


def _default_loss(model):
    activation = getattr(model.layers[-1], "activation", None)
    from_logits = activation is not keras.activations.softmax
    return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)


def _dense(grads, variables):
    return [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]


class _ScaleObjective:
    """J(β) and dJ/dβ for the variables of ``model`` (see the module docstring)."""

    def __init__(self, model, constraints, directions, scaled, learning_rate, loss, second_order):
        self.model = model
        self.variables = list(model.trainable_variables)
        self.constraints = constraints
        self.directions = [tf.constant(u) for u in directions]
        self.scaled = scaled
        self.learning_rate = float(learning_rate)
        self.loss = loss
        self.second_order = bool(second_order)
        self.clone = keras.models.clone_model(model)
        self.clone_variables = list(self.clone.trainable_variables)
        if len(self.clone_variables) != len(self.variables):
            raise ValueError("`model` could not be cloned with the same trainable variables.")
        self.initial = [tf.constant(var.numpy()) for var in self.variables]
        self._step = tf.function(self._compute, reduce_retracing=True)

    def __call__(self, beta, x_s, y_s, x_t, y_t):
        return self._step(tf.constant(beta, tf.float32), x_s, y_s, x_t, y_t)

    def _gradients_at_start(self, betas, x_s, y_s):
        """Sets θ0 = θ(β); loss and gradient on S, recorded by the returned outer tape (HVP)."""
        variables = self.variables
        for i, var in enumerate(variables):
            if self.scaled[i]:
                var.assign(betas[i] * self.directions[i])
        with tf.GradientTape(watch_accessed_variables=False) as outer:
            outer.watch(variables)
            with tf.GradientTape() as inner:
                loss0 = self.loss(y_s, self.model(x_s, training=True))
            grads = _dense(inner.gradient(loss0, variables), variables)
            norms = [tf.sqrt(tf.reduce_sum(tf.square(g)) + 1e-30) for g in grads]
        return outer, loss0, grads, norms

    def _step_from(self, betas, grads, grad_norms):
        """θ1 per variable, recorded by the returned persistent tape (w.r.t. β and ‖g‖)."""
        lr = self.learning_rate
        thetas0 = [tf.convert_to_tensor(var) for var in self.variables]
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(betas)
            tape.watch(grad_norms)
            thetas1 = []
            for i, constraint in enumerate(self.constraints):
                if not constraint.is_constrained:
                    thetas1.append(thetas0[i] - lr * tf.stop_gradient(grads[i]))
                    continue
                theta = betas[i] * self.directions[i] if self.scaled[i] else thetas0[i]
                v = tf.stop_gradient(constraint.lmo(tf.stop_gradient(grads[i])))
                thetas1.append(sfw_step(theta, v, grad_norms[i], lr)[0])
        return tape, thetas1

    def _loss_after_step(self, thetas1, x_t, y_t):
        """L(S~; θ1) and its gradient, on the clone (the model keeps θ0 for the HVP)."""
        for var, value in zip(self.clone_variables, thetas1):
            var.assign(value)
        with tf.GradientTape() as tape:
            loss1 = self.loss(y_t, self.clone(x_t, training=True))
        return loss1, _dense(tape.gradient(loss1, self.clone_variables), self.clone_variables)

    def _compute(self, beta, x_s, y_s, x_t, y_t):
        lr, n = self.learning_rate, len(self.variables)
        betas = [beta[i] for i in range(n)]
        outer, loss0, grads, norms = self._gradients_at_start(betas, x_s, y_s)
        grad_norms = [tf.stop_gradient(a) for a in norms]
        step_tape, thetas1 = self._step_from(betas, grads, grad_norms)
        loss1, grads1 = self._loss_after_step(thetas1, x_t, y_t)
        d_beta, targets, cotangents = [], [], []
        for i, constraint in enumerate(self.constraints):
            if not constraint.is_constrained:  # θ1 = θ0 - lr g: only the HVP term
                d_beta.append(tf.zeros([]))
                targets.append(grads[i])
                cotangents.append(-lr * grads1[i])
                continue
            db = step_tape.gradient(thetas1[i], betas[i], output_gradients=grads1[i]) if self.scaled[i] else None
            d_beta.append(tf.zeros([]) if db is None else db)
            da = step_tape.gradient(thetas1[i], grad_norms[i], output_gradients=grads1[i])
            targets.append(norms[i])
            cotangents.append(tf.zeros([]) if da is None else da)
        del step_tape
        if self.second_order:
            hvp = outer.gradient(targets, self.variables, output_gradients=cotangents)
            for i in range(n):
                if self.scaled[i] and hvp[i] is not None:
                    d_beta[i] = d_beta[i] + tf.reduce_sum(tf.convert_to_tensor(hvp[i]) * self.directions[i])
        return loss1 / lr, loss0, tf.stack(d_beta) / lr


# --------------------------------------------------------------------------------------
# Data.


def _batches(data, half, seed):
    """Infinite generator of (B0, B1, B2) half-batches, each ``(x, y)``."""
    if isinstance(data, tf.data.Dataset):
        dataset = data.unbatch().batch(3 * half, drop_remainder=True).repeat()
        for x, y in dataset:
            yield (x[:half], y[:half]), (x[half : 2 * half], y[half : 2 * half]), (x[2 * half :], y[2 * half :])
        return
    x, y = data
    x, y = np.asarray(x), np.asarray(y)
    n = len(x)
    rng = np.random.default_rng(seed)
    while True:
        index = rng.choice(n, size=3 * half, replace=False)
        parts = [np.sort(index[j * half : (j + 1) * half]) for j in range(3)]
        yield tuple((tf.constant(x[p]), tf.constant(y[p])) for p in parts)


def _check_data(data, half):
    if isinstance(data, tf.data.Dataset):
        return
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(
            "`data` must be a tf.data.Dataset of (x, y) batches or a tuple (x, y) of arrays. "
            f"Received: data of type {type(data).__name__}"
        )
    x, y = data
    if len(x) != len(y):
        raise ValueError(f"`data` x and y must have equal length. Received: {len(x)} and {len(y)}")
    if len(x) < 3 * half:
        raise ValueError(
            f"`data` needs at least 3 * (batch_size // 2) = {3 * half} examples for disjoint "
            f"half-batches B0, B1, B2. Received: {len(x)} examples"
        )


def _check_arguments(model, data, a):
    """Validates `sfw_init`'s arguments (``a``: the dict of its keyword arguments); returns half."""
    if not isinstance(model, keras.Model) or not model.built or not model.trainable_variables:
        raise ValueError(f"`model` must be a built keras.Model with trainable variables. Received: model={model!r}")
    validation.check_int(a["iterations"], "iterations", minimum=0)
    for name in ("learning_rate", "beta_learning_rate", "epsilon"):
        validation.check_positive_number(a[name], name)
    for name in ("weight_floor", "bias_floor"):
        validation.check_number(a[name], name, low=0.0)
    for name in ("beta_1", "beta_2"):
        validation.check_fraction(a[name], name)
    half = validation.check_int(a["batch_size"], "batch_size", minimum=2) // 2
    _check_data(data, half)
    if a["loss"] is not None and not callable(a["loss"]):
        raise ValueError(f"`loss` must be callable(y_true, y_pred). Received: loss={a['loss']!r}")
    return half


def _scale_bounds(variables, per_variable, directions, weight_floor, bias_floor, project):
    """``(scaled, lower, upper)``: which scales are learned and their clamps (1 if not learned)."""
    scaled = np.array([c.is_constrained and bool(np.any(u)) for c, u in zip(per_variable, directions)], dtype=bool)
    lower = np.array([bias_floor if is_bias(v) else weight_floor for v in variables], dtype=np.float64)
    upper = np.array(
        [max_feasible_scale(c, u) if project else math.inf for c, u in zip(per_variable, directions)],
        dtype=np.float64,
    )
    upper = np.maximum(upper, lower)
    lower[~scaled], upper[~scaled] = 1.0, 1.0
    return scaled, lower, upper


# --------------------------------------------------------------------------------------
# The public entry point.


def _learn_scales(objective_fn, batches, beta, bounds, adam, iterations, verbose, history):
    """The Adam loop on the scales; appends to ``history`` and returns the last ``beta``."""
    scaled, lower, upper = bounds
    m, v = np.zeros_like(beta), np.zeros_like(beta)
    for step in range(1, iterations + 1):
        (x0, y0), (x1, y1), (x2, y2) = next(batches)
        x_s, y_s = tf.concat([x0, x1], 0), tf.concat([y0, y1], 0)
        x_t, y_t = tf.concat([x0, x2], 0), tf.concat([y0, y2], 0)
        objective, loss0, gradient = objective_fn(beta, x_s, y_s, x_t, y_t)
        objective, loss0 = float(objective), float(loss0)
        if not (math.isfinite(objective) and math.isfinite(loss0)):
            raise ValueError(f"SFW-Init got a non-finite loss at iteration {step}: loss={loss0}, objective={objective}")
        gradient = np.where(scaled, gradient.numpy().astype(np.float64), 0.0)
        new_beta, m, v = adam_update(beta, clip_gradient(gradient), m, v, step, *adam)
        beta = np.clip(np.where(scaled, new_beta, beta), lower, upper)
        history["beta"].append(beta.copy())
        history["objective"].append(objective)
        history["loss"].append(loss0)
        history["gradient"].append(gradient)
        if verbose and (step % 50 == 0 or step == iterations):
            print(f"sfw_init {step}/{iterations}: objective {objective:.4f}, beta mean {beta[scaled].mean():.4f}")
    return beta


def sfw_init(
    model,
    constraints,
    data,
    iterations=390,
    learning_rate=1.0,
    beta_learning_rate=1e-3,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
    weight_floor=0.01,
    bias_floor=0.0,
    batch_size=128,
    project=True,
    second_order=True,
    loss=None,
    init_norms=None,
    seed=0,
    verbose=0,
):
    r"""Learn one scale per variable by differentiating one SFW step, in place.

    See the module docstring for the exact objective and update.

    Args:
        model: A built, freshly initialised Keras model (its variables are overwritten).
        constraints: `tf_sfw.VariableConstraints` (from `tf_sfw.constraints_for_model` on
            ``model``) or one `Constraint` with mode "radius"/"diameter".
        data: A ``tf.data.Dataset`` of ``(x, y)`` batches (re-batched to ``3 * batch_size // 2``
            and repeated), or a tuple ``(x, y)`` of arrays (sampled without replacement with
            ``seed``). Inputs must already be preprocessed for the model.
        iterations: Number of scale updates T (reference: 390, one CIFAR-10 epoch).
        learning_rate: The SFW training lr of the differentiable step (paper: 1.0).
        beta_learning_rate: Adam step size for the scales (1e-3).
        beta_1, beta_2, epsilon: Adam constants (PyTorch defaults 0.9, 0.999, 1e-8).
        weight_floor: Lower clamp of the scales of weights (0.01).
        bias_floor: Lower clamp of the scales of biases (0).
        batch_size: |S| = |S~|; B0, B1, B2 have ``batch_size // 2`` examples each.
        project: Also clamp each scale above at `max_feasible_scale` so that every
            iterate is feasible.
        second_order: Differentiate through the gradient norm in the step size too
            (Hessian-vector product); False uses the first-order approximation.
        loss: ``loss(y_true, y_pred) -> scalar``; default sparse categorical cross-entropy
            (``from_logits`` unless the last layer is a softmax).
        init_norms: Optional ``{variable path or name: expected initial norm}`` (see
            `initial_directions`).
        seed: Seed of the minibatch sampling (arrays) and of TF ops (dropout).
        verbose: 0 silent, 1 a line every 50 iterations.

    Returns:
        dict history: ``"names"`` (variable names), ``"beta"`` (array ``(T+1, L)``, row 0 the
        start), ``"lower"``/``"upper"`` (clamps, ``(L,)``), ``"scaled"`` (bool ``(L,)``, which
        scales are learned), ``"objective"`` (``J`` per iteration), ``"loss"`` (``L(S; θ0)``
        per iteration), ``"gradient"`` (unclipped ``dJ/dβ``, ``(T, L)``).

    Raises:
        ValueError: on invalid arguments, or a non-finite loss or gradient.
    """
    half = _check_arguments(model, data, dict(locals()))
    variables = list(model.trainable_variables)
    per_variable = constraints_lib.constraints_per_variable(constraints, variables)
    loss = _default_loss(model) if loss is None else loss
    tf.random.set_seed(seed)
    directions = initial_directions(model, init_norms)
    bounds = _scale_bounds(variables, per_variable, directions, weight_floor, bias_floor, project)
    scaled, lower, upper = bounds
    saved_state = [tf.constant(v.numpy()) for v in model.non_trainable_variables]
    objective_fn = _ScaleObjective(model, per_variable, directions, scaled, learning_rate, loss, second_order)
    beta = np.clip(np.ones(len(variables)), lower, upper)
    history = {"names": [var.name for var in variables], "beta": [beta.copy()], "lower": lower, "upper": upper,
               "scaled": scaled, "objective": [], "loss": [], "gradient": []}
    adam = (beta_learning_rate, beta_1, beta_2, epsilon)
    try:
        beta = _learn_scales(objective_fn, _batches(data, half, seed), beta, bounds, adam, int(iterations), verbose,
                             history)
    finally:
        # Final (or, after an error, the last valid) scales; restore BN statistics.
        beta = history["beta"][-1]
        for i, var in enumerate(variables):
            value = tf.cast(beta[i], var.dtype) * objective_fn.directions[i] if scaled[i] else objective_fn.initial[i]
            var.assign(value)
        for var, value in zip(model.non_trainable_variables, saved_state):
            var.assign(value)
    constraints_lib.make_feasible(variables, constraints)
    history["beta"] = np.stack(history["beta"])
    history["gradient"] = np.stack(history["gradient"]) if history["gradient"] else np.zeros((0, len(variables)))
    return history


class SFWInitCallback(keras.callbacks.Callback):
    """Runs `sfw_init` on the model being fitted, at the start of a fresh training run.

    The constraints are those of the model's optimizer (``model.optimizer.constraints``, i.e.
    a `tf_sfw.SFW`); the learning rate of the differentiable step defaults to the optimizer's
    current one. Nothing happens when the optimizer has already taken steps
    (``optimizer.iterations > 0``, e.g. a second ``fit`` call).

    Args:
        data: Training data for `sfw_init` (``(x, y)`` arrays or a dataset of batches).
        **kwargs: Further arguments of `sfw_init` (``iterations``, ``batch_size``, ...).

    Attributes:
        history: The dict returned by `sfw_init` (None until it ran).
    """

    def __init__(self, data, **kwargs):
        super().__init__()
        if "model" in kwargs or "constraints" in kwargs:
            raise ValueError("`model` and `constraints` are taken from the fitted model and its optimizer.")
        self.data = data
        self.kwargs = kwargs
        self.history = None

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if int(optimizer.iterations.numpy()) > 0:
            return
        constraints = getattr(optimizer, "constraints", None)
        if not isinstance(constraints, (constraints_lib.VariableConstraints, constraints_lib.Constraint)):
            raise ValueError(
                "SFW-Init needs the model to be compiled with tf_sfw.SFW (per-variable constraints). "
                f"Received optimizer: {type(optimizer).__name__}"
            )
        kwargs = dict(self.kwargs)
        kwargs.setdefault("learning_rate", float(keras.backend.get_value(optimizer.learning_rate)))
        self.history = sfw_init(self.model, constraints, self.data, **kwargs)
