"""FW-guided iterative pruning (seed 003, SPEC §6): ``simple``, ``fw`` and ``fw_momentum``.

All three pruners share one interface::

    pruned_model, history = prune_<method>(model, data, target_sparsity, **options)
    pruned_model, history = prune(method, model, data, target_sparsity, **options)

``model`` is a built, unwrapped ``keras.Model`` (never modified), ``data`` a tuple
``(x_train, y_train)`` of NumPy arrays (inputs already scaled), ``target_sparsity``
the fraction ``s`` of counted weights to zero. The result is a plain (stripped)
model whose pruned weights are exact zeros, and a ``dict`` history (final masks,
per-iteration records, fine-tune budget actually used).

Counted weights are the kernels of conv/dense layers (biases with
``include_bias=True``) as listed by :func:`tf_sfw.pruning.masks.prunable_weights`;
pooling, flatten and dropout layers have no weights and are never touched. With
``scope="global"`` one budget covers all ``n`` counted entries, with
``scope="layerwise"`` each tensor gets its own. The final binary mask always keeps
exactly ``k = n - floor(s·n + 1/2)`` entries per scope (the counting rule of
:mod:`tf_sfw.pruning.magnitude`, i.e. ``round((1-s)·n)`` except at exact halves).

Fair budget. Every pruner spends the same number of fine-tuning examples
``fine_tune_examples`` (SGD, batch ``batch_size``, mask fixed through
:func:`tf_sfw.pruning.masks.fine_tune`): ``simple`` in one final fine-tune, the FW
variants split between interleaved fine-tunes and a final one (each fine-tune is
rounded up to whole batches, so a run may see up to one batch per fine-tune more;
``history["fine_tune_examples"]`` reports the exact count). The FW variants
additionally spend ``iterations × subsample`` forward/backward passes (no weight
update) to estimate the importance gradient.

simple
    Magnitude pruning = greedy backward selection: removing the entry with the
    smallest ``|w_i|`` one at a time never changes the remaining magnitudes, so the
    greedy sequence equals one sort; the ``n-k`` smallest ``|w_i|`` are removed
    (ties: lower flat index first), then one fine-tune with the mask fixed.

fw
    Frank-Wolfe on the relaxed mask polytope

    .. math:: \\min_{m \\in M} L(w \\odot m), \\qquad
              M = \\{m \\in [0,1]^n : \\textstyle\\sum_i m_i \\le k\\}.

    At iterate ``m_t`` the gradient is

    .. math:: \\nabla_m L(w \\odot m_t) = w \\odot \\nabla_\\theta L(\\theta)
              \\big|_{\\theta = w \\odot m_t},

    estimated on a fresh random subsample of ``subsample`` training examples
    (inference mode, i.e. no dropout). The LMO over ``M`` is the vertex

    .. math:: v_i = 1 \\iff g_i < 0 \\text{ and } g_i \\text{ is among the } k
              \\text{ most negative entries}, \\quad v_i = 0 \\text{ otherwise},

    (with at least ``k`` negative entries this is exactly "the ``k`` most negative
    entries"; entries with ``g_i >= 0`` are never selected, since putting them in
    the mask cannot decrease the linear model). Step:
    ``m_{t+1} = (1 - γ) m_t + γ v_t`` with a constant ``γ`` (``step_size``, default
    0.02) or ``γ_t = 2/(t+3)`` (``step_size="harmonic"``). ``m_0`` is the magnitude
    vertex (the ``simple`` solution, a feasible point of ``M``).

    Reading of the seed -- three deliberate choices, all options of the interface:

    * The gradient is taken at the *current iterate* ``w ⊙ m_t`` (as Frank-Wolfe
      requires), not at the dense model: at the pre-trained dense point the signed
      first-order term ``w_i ∂L/∂θ_i`` is close to zero-mean noise (the model is
      near a stationary point), while at the relaxed point (kept weights shrunk by
      ``m_i < 1``) it measures how much strengthening or restoring each weight
      lowers the loss.
    * Rounding (``rounding="projection"``, default): the final binary mask is the
      ``b`` with exactly ``k`` ones whose network is nearest to the relaxed network,
      ``argmin_b Σ_i w_i^2 (m_i - b_i)^2``, i.e. it keeps the ``k`` largest
      ``w_i^2 (2 m_i - 1)``. Keeping the ``k`` largest ``m_i`` (``rounding="largest"``,
      the literal reading) ignores that ``m`` only *scales* ``w``: an entry with
      ``m_i = 0.9`` and a large weight matters more than one with ``m_i = 1`` and a
      tiny weight. With ``m = 1`` on the kept set the projection is magnitude pruning.
    * Small constant steps: the signed linear model of ``L(w ⊙ m)`` ignores
      curvature, so large FW steps (``γ_0 = 2/3`` with the harmonic rule) swap
      thousands of important weights for ones with a slightly negative gradient and
      the loss at the rounded mask jumps (measured in
      ``results/fw_momentum/tuning.md``: on the 2-epoch checkpoint at 90% sparsity
      harmonic steps gave 96.3% (fw) / 88.5% (fw_momentum) test accuracy against
      98.1% for ``simple``; ``γ = 0.02`` gave 98.2% / 98.3%). With ``γ = 0.02`` and
      ``T = 8`` the FW iterate mostly *re-weights* the magnitude solution; the
      honest summary is that on this CNN the gradient signal does not improve on
      magnitude, and what ``fw_momentum`` gains comes from its gradual sparsity ramp
      with interleaved fine-tunes.

    Every ``fine_tune_every`` iterations the current rounded mask is fine-tuned.
    Fine-tuning runs through tfmot wrappers, which overwrite pruned entries with
    zeros; the pruner keeps the dense values ``w`` of currently pruned entries aside
    and writes them back, so an entry that the FW iterate brings back into the mask
    returns with its pre-trained value (only kept entries carry fine-tuned values).

fw_momentum
    As ``fw``, with the direction replaced by the exponential moving average
    ``d_t = β d_{t-1} + (1-β) g_t`` (``d_0 = g_0``) and the sparsity ramped from
    ``initial_sparsity = s_0`` to the target:
    ``s_t = s + (s_0 - s)(1 - t/(T-1))^p`` (``p = ramp_power``, cubic by default as in
    Zhu & Gupta's gradual pruning). The LMO at iteration ``t`` uses ``k_t`` from
    ``s_t`` and the interleaved fine-tunes use the mask rounded at ``s_t``, so the
    network is pruned gradually; the final mask uses the target ``k``.

The pure selection math (top-k with deterministic ties, LMO, FW step, EMA, ramp,
rounding) is in small NumPy functions at the top of this module; the model-facing
pruners below only orchestrate them.
"""

import numbers

import numpy as np

__all__ = [
    "keep_count",
    "topk_mask",
    "lmo_mask_polytope",
    "fw_update",
    "fw_step_size",
    "ema",
    "sparsity_ramp",
    "select_topk",
    "lmo_masks",
    "round_mask",
    "prune_simple",
    "prune_fw",
    "prune_fw_momentum",
    "prune",
    "PRUNERS",
]

_SCOPES = ("global", "layerwise")


# --------------------------------------------------------------------------- pure math


def _check_sparsity(sparsity, name="sparsity"):
    from tf_sfw.pruning.magnitude import validate_sparsity

    return validate_sparsity(sparsity, name)


def keep_count(n, sparsity):
    """Number of entries kept out of ``n`` at sparsity ``s``: ``n - floor(s·n + 1/2)``.

    Args:
        n: Number of counted entries (non-negative integer).
        sparsity: Target sparsity in ``[0, 1)``.

    Returns:
        ``k`` with ``|k - (1-s)·n| <= 1/2`` (same rounding as
        :func:`tf_sfw.pruning.magnitude.num_pruned`).
    """
    from tf_sfw.pruning.magnitude import num_pruned

    return int(n) - num_pruned(sparsity, n)


def _check_k(k, n):
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= n:
        raise ValueError(f"`k` must be an integer in [0, {n}]. Received: k={k!r}")
    return int(k)


def _flat_float(array, name):
    flat = np.asarray(array, dtype=np.float64).ravel()
    if not np.all(np.isfinite(flat)):
        raise ValueError(f"`{name}` must contain only finite values.")
    return flat


def topk_mask(scores, k, tiebreak=None):
    """Binary mask keeping exactly the ``k`` largest entries of ``scores``.

    Ranking key, descending: ``(scores_i, tiebreak_i)``, then ascending flat index
    ``i`` -- fully deterministic.

    Args:
        scores: Array of any shape.
        k: Number of entries to keep, ``0 <= k <= scores.size``.
        tiebreak: Optional array of the same shape; larger wins among equal scores.

    Returns:
        ``float32`` 0/1 array of ``scores``' shape with exactly ``k`` ones.
    """
    scores = np.asarray(scores)
    flat = _flat_float(scores, "scores")
    k = _check_k(k, flat.size)
    if tiebreak is None:
        tb = np.zeros_like(flat)
    else:
        tiebreak = np.asarray(tiebreak)
        if tiebreak.shape != scores.shape:
            raise ValueError(f"`tiebreak` must have the shape of `scores` {scores.shape}. Received: {tiebreak.shape}")
        tb = _flat_float(tiebreak, "tiebreak")
    order = np.lexsort((np.arange(flat.size), -tb, -flat))
    mask = np.zeros(flat.size, dtype=np.float32)
    mask[order[:k]] = 1.0
    return mask.reshape(scores.shape)


def lmo_mask_polytope(grad, k):
    """Linear minimization oracle of ``M = {m ∈ [0,1]^n : Σ m ≤ k}``.

    .. math:: v = \\arg\\min_{v \\in M} \\langle g, v \\rangle :\\;
              v_i = 1 \\text{ for the (at most) } k \\text{ most negative } g_i < 0.

    Ties between equal gradients are broken by lower flat index.

    Args:
        grad: Gradient array of any shape.
        k: Budget, ``0 <= k <= grad.size``.

    Returns:
        ``float32`` 0/1 vertex of ``grad``'s shape with at most ``k`` ones.
    """
    grad = np.asarray(grad)
    flat = _flat_float(grad, "grad")
    k = _check_k(k, flat.size)
    order = np.lexsort((np.arange(flat.size), flat))[:k]
    order = order[flat[order] < 0]
    vertex = np.zeros(flat.size, dtype=np.float32)
    vertex[order] = 1.0
    return vertex.reshape(grad.shape)


def fw_step_size(t, offset=3.0):
    """Frank-Wolfe step size ``γ_t = 2 / (t + offset)`` for iteration ``t >= 0``.

    The default ``offset=3`` is the classic ``2/(t+2)`` with the initial point
    counted as iterate 1 (so ``γ_0 = 2/3``); ``offset=2`` gives ``γ_0 = 1``.
    """
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
        raise ValueError(f"`t` must be a non-negative integer. Received: t={t!r}")
    if not isinstance(offset, numbers.Real) or not offset >= 2:
        raise ValueError(f"`offset` must be a number >= 2 (so that γ <= 1). Received: offset={offset!r}")
    return 2.0 / (t + float(offset))


def fw_update(m, v, gamma):
    """Frank-Wolfe step ``(1 - γ) m + γ v`` (stays in any convex set containing m, v)."""
    if not isinstance(gamma, numbers.Real) or not 0.0 <= float(gamma) <= 1.0:
        raise ValueError(f"`gamma` must be in [0, 1]. Received: gamma={gamma!r}")
    m, v = np.asarray(m), np.asarray(v)
    if m.shape != v.shape:
        raise ValueError(f"`m` and `v` must have the same shape. Received: {m.shape} and {v.shape}")
    return ((1.0 - gamma) * m + gamma * v).astype(np.float64)


def ema(previous, value, beta):
    """Exponential moving average ``β·previous + (1-β)·value`` (``value`` if ``previous`` is None)."""
    if not isinstance(beta, numbers.Real) or not 0.0 <= float(beta) < 1.0:
        raise ValueError(f"`beta` must be in [0, 1). Received: beta={beta!r}")
    value = np.asarray(value, dtype=np.float64)
    if previous is None:
        return value.copy()
    previous = np.asarray(previous, dtype=np.float64)
    if previous.shape != value.shape:
        raise ValueError(f"`previous` and `value` must have the same shape. Received: {previous.shape} and {value.shape}")
    return beta * previous + (1.0 - beta) * value


def sparsity_ramp(t, num_iterations, initial_sparsity, final_sparsity, power=3.0):
    """Sparsity at iteration ``t``: ``s + (s_0 - s)(1 - t/(T-1))^p`` (``s`` when ``T = 1``).

    Args:
        t: Iteration ``0 <= t < T``.
        num_iterations: ``T >= 1``.
        initial_sparsity: ``s_0`` in ``[0, s]``.
        final_sparsity: ``s`` in ``[0, 1)``.
        power: ``p > 0`` (3: cubic ramp of gradual pruning; 1: linear).

    Returns:
        ``s_t``, non-decreasing in ``t``, ``s_0`` at ``t = 0`` and ``s`` at ``t = T-1``.
    """
    final_sparsity = _check_sparsity(final_sparsity, "final_sparsity")
    initial_sparsity = _check_sparsity(initial_sparsity, "initial_sparsity")
    if initial_sparsity > final_sparsity:
        raise ValueError(
            "`initial_sparsity` must be <= `final_sparsity`. "
            f"Received: initial_sparsity={initial_sparsity}, final_sparsity={final_sparsity}"
        )
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, numbers.Integral) or num_iterations < 1:
        raise ValueError(f"`num_iterations` must be a positive integer. Received: num_iterations={num_iterations!r}")
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or not 0 <= t < num_iterations:
        raise ValueError(f"`t` must be an integer in [0, {num_iterations}). Received: t={t!r}")
    if not isinstance(power, numbers.Real) or not power > 0:
        raise ValueError(f"`power` must be > 0. Received: power={power!r}")
    if num_iterations == 1:
        return final_sparsity
    frac = t / (num_iterations - 1)
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - frac) ** float(power)


def _check_scope(scope):
    if scope not in _SCOPES:
        raise ValueError(f"`scope` must be one of {_SCOPES}. Received: scope={scope!r}")
    return scope


def _concat(arrays):
    keys = list(arrays)
    shapes = [np.asarray(arrays[k]).shape for k in keys]
    flat = np.concatenate([np.asarray(arrays[k], dtype=np.float64).ravel() for k in keys])
    return keys, shapes, flat


def _split(keys, shapes, flat):
    out, start = {}, 0
    for key, shape in zip(keys, shapes):
        size = int(np.prod(shape, dtype=np.int64))
        out[key] = flat[start : start + size].reshape(shape).astype(np.float32)
        start += size
    return out


def _check_dict(arrays, name):
    if not hasattr(arrays, "items") or len(arrays) == 0:
        raise ValueError(f"`{name}` must be a non-empty mapping {{key: array}}. Received: {arrays!r:.100}")


def select_topk(scores, sparsity, scope="global", tiebreak=None):
    """Binary masks keeping the largest ``scores`` at ``sparsity`` (global or per tensor).

    Args:
        scores: Mapping ``{key: array}``.
        sparsity: Target sparsity in ``[0, 1)``; exactly ``keep_count(n, s)`` entries
            are kept over all tensors (``"global"``) or in each tensor (``"layerwise"``).
        scope: ``"global"`` or ``"layerwise"``.
        tiebreak: Optional mapping with the same keys/shapes (larger wins ties).

    Returns:
        Mapping ``{key: float32 0/1 mask}``.
    """
    _check_dict(scores, "scores")
    sparsity = _check_sparsity(sparsity)
    scope = _check_scope(scope)
    if tiebreak is not None and set(tiebreak) != set(scores):
        raise ValueError(f"`tiebreak` must have the keys of `scores` {list(scores)}. Received: {list(tiebreak)}")
    if scope == "layerwise":
        return {
            key: topk_mask(value, keep_count(np.asarray(value).size, sparsity),
                           None if tiebreak is None else tiebreak[key])
            for key, value in scores.items()
        }
    keys, shapes, flat = _concat(scores)
    tb = None if tiebreak is None else _concat({k: tiebreak[k] for k in keys})[2]
    return _split(keys, shapes, topk_mask(flat, keep_count(flat.size, sparsity), tb))


def lmo_masks(grads, sparsity, scope="global"):
    """LMO vertices of the mask polytope(s) for gradients ``{key: array}``.

    ``"global"``: one polytope ``Σ_all m ≤ k`` over the concatenation;
    ``"layerwise"``: one polytope per tensor.
    """
    _check_dict(grads, "grads")
    sparsity = _check_sparsity(sparsity)
    scope = _check_scope(scope)
    if scope == "layerwise":
        return {key: lmo_mask_polytope(g, keep_count(np.asarray(g).size, sparsity)) for key, g in grads.items()}
    keys, shapes, flat = _concat(grads)
    return _split(keys, shapes, lmo_mask_polytope(flat, keep_count(flat.size, sparsity)))


def round_mask(relaxed, weights, sparsity, scope="global", rounding="projection"):
    """Binary mask with exactly ``keep_count`` ones from a relaxed mask ``m``.

    ``rounding="projection"``: the binary ``b`` (with the right count) whose network is
    closest to the relaxed one in weight space,
    ``argmin_b Σ_i w_i^2 (m_i - b_i)^2``, i.e. keep the largest
    ``w_i^2 (2 m_i - 1)``; for ``m = 1`` this is magnitude pruning.
    ``rounding="largest"``: keep the largest ``m_i``. Ties: larger ``|w_i|``, then lower index.

    Args:
        relaxed: Mapping ``{key: m}`` with entries in ``[0, 1]``.
        weights: Mapping ``{key: w}`` (same keys and shapes).
        sparsity: Target sparsity in ``[0, 1)``.
        scope: ``"global"`` or ``"layerwise"``.
        rounding: ``"projection"`` or ``"largest"``.

    Returns:
        Mapping ``{key: float32 0/1 mask}``.
    """
    if rounding not in ("projection", "largest"):
        raise ValueError(f"`rounding` must be 'projection' or 'largest'. Received: rounding={rounding!r}")
    _check_dict(relaxed, "relaxed")
    if set(weights) != set(relaxed):
        raise ValueError(f"`weights` must have the keys of `relaxed` {list(relaxed)}. Received: {list(weights)}")
    magnitude = {k: np.abs(np.asarray(weights[k], dtype=np.float64)) for k in relaxed}
    if rounding == "largest":
        scores = relaxed
    else:
        scores = {k: magnitude[k] ** 2 * (2.0 * np.asarray(relaxed[k], dtype=np.float64) - 1.0) for k in relaxed}
    return select_topk(scores, sparsity, scope, tiebreak=magnitude)


# --------------------------------------------------------------------------- pruners


def _check_data(data):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"`data` must be a tuple (x_train, y_train) of arrays. Received: data of type {type(data).__name__}")
    x, y = np.asarray(data[0]), np.asarray(data[1])
    if x.shape[0] == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"`data` must hold the same non-zero number of inputs and labels. Received: {x.shape[0]} inputs, {y.shape[0]} labels"
        )
    return x, y


def _check_positive_int(value, name, allow_zero=False):
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}. Received: {name}={value!r}")
    return int(value)


def _check_fraction(value, name, closed_right=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 <= float(value) and (
        float(value) <= 1.0 if closed_right else float(value) < 1.0
    )
    if not ok:
        interval = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"`{name}` must be in {interval}. Received: {name}={value!r}")
    return float(value)


class _Context:
    """Shared state of one pruning run: the working model, its weights, data and budget."""

    def __init__(self, model, data, include_bias, batch_size, learning_rate, momentum, seed, loss, verbose):
        import tensorflow as tf

        from tf_sfw._keras import keras
        from tf_sfw.pruning.masks import is_pruned, prunable_weights

        if not isinstance(model, keras.Model):
            raise ValueError(f"`model` must be a tf_keras `keras.Model`. Received: model of type {type(model).__name__}")
        if is_pruned(model):
            raise ValueError(f"`model` {model.name!r} already has pruning wrappers; pass the unwrapped model.")
        self.x, self.y = _check_data(data)
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        if not isinstance(learning_rate, numbers.Real) or not learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0. Received: learning_rate={learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.momentum = _check_fraction(momentum, "momentum")
        self.seed = _check_positive_int(seed, "seed", allow_zero=True)
        self.verbose = verbose
        self.loss = keras.losses.get(loss)
        keras.utils.set_random_seed(self.seed)
        self.rng = np.random.default_rng(self.seed)
        self.net = keras.models.clone_model(model)
        if not self.net.built:
            self.net.build(model.input_shape)
        self.net.set_weights(model.get_weights())
        self.variables = prunable_weights(self.net, include_bias=include_bias)
        self.keys = list(self.variables)
        self.dense = {k: v.numpy().copy() for k, v in self.variables.items()}
        self.examples_used = 0
        self.fine_tunes = 0
        var_list = list(self.variables.values())

        @tf.function
        def _grads(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(self.loss(y, self.net(x, training=False)))
            return loss, tape.gradient(loss, var_list)

        self._grads = _grads

    def magnitude(self):
        return {k: np.abs(v) for k, v in self.dense.items()}

    def importance_gradient(self, relaxed, subsample):
        """``w ⊙ ∇_θ L(θ)`` at ``θ = w ⊙ m`` (mean loss on a fresh random subsample) and that loss."""
        n = self.x.shape[0]
        idx = np.sort(self.rng.choice(n, size=min(subsample, n), replace=False))
        for key, var in self.variables.items():
            var.assign((self.dense[key] * relaxed[key]).astype(var.dtype.as_numpy_dtype))
        total_loss, total = 0.0, None
        for start in range(0, idx.size, 1024):
            part = idx[start : start + 1024]
            loss, grads = self._grads(self.x[part], self.y[part])
            weight = part.size / idx.size
            total_loss += float(loss) * weight
            grads = [np.asarray(g.numpy(), dtype=np.float64) * weight for g in grads]
            total = grads if total is None else [a + b for a, b in zip(total, grads)]
        if not np.isfinite(total_loss):
            raise ValueError(f"The loss on the importance subsample is not finite (loss={total_loss}); check the data and model.")
        return {k: self.dense[k].astype(np.float64) * g for k, g in zip(self.keys, total)}, total_loss

    def _dataset(self, examples):
        import tensorflow as tf

        # A fresh, differently seeded shuffle for every fine-tune so that interleaved
        # fine-tunes do not all see the same first batches.
        seed = self.seed * 1000 + self.fine_tunes
        ds = tf.data.Dataset.from_tensor_slices((self.x, self.y))
        ds = ds.shuffle(self.x.shape[0], seed=seed, reshuffle_each_iteration=True).repeat()
        return ds.batch(self.batch_size), max(1, int(np.ceil(examples / self.batch_size)))

    def fine_tune(self, masks, examples):
        """Fine-tunes ``dense`` with ``masks`` fixed for ``examples`` examples; returns the stripped model and last loss.

        Kept entries of ``dense`` take the fine-tuned values, pruned entries keep their
        previous dense values; non-counted weights (biases, ...) take the fine-tuned values.
        """
        from tf_sfw._keras import keras
        from tf_sfw.pruning.masks import apply_masks, fine_tune, strip

        for key, var in self.variables.items():
            var.assign(self.dense[key])
        wrapped = apply_masks(self.net, masks)
        loss = float("nan")
        if examples > 0:
            ds, steps = self._dataset(examples)
            opt = keras.optimizers.SGD(learning_rate=self.learning_rate, momentum=self.momentum)
            hist = fine_tune(wrapped, ds, epochs=1, optimizer=opt, steps_per_epoch=steps, verbose=self.verbose)
            loss = float(hist.history["loss"][-1])
            if not np.isfinite(loss):
                raise ValueError(f"Fine-tuning diverged (loss={loss}); lower `learning_rate` (received {self.learning_rate}).")
            self.examples_used += steps * self.batch_size
            self.fine_tunes += 1
        stripped = strip(wrapped)
        self.net.set_weights(stripped.get_weights())
        for key, var in self.variables.items():
            self.dense[key] = np.where(masks[key] > 0, var.numpy(), self.dense[key])
        return stripped, loss


def _nonzero_fraction(masks):
    total = sum(int(m.size) for m in masks.values())
    return sum(int(np.count_nonzero(m)) for m in masks.values()) / total


def prune_simple(
    model,
    data,
    target_sparsity,
    *,
    scope="global",
    include_bias=False,
    fine_tune_examples=60000,
    batch_size=128,
    learning_rate=0.01,
    momentum=0.9,
    seed=0,
    loss="sparse_categorical_crossentropy",
    verbose=0,
):
    """Magnitude (greedy backward) pruning to ``target_sparsity``, then one fixed-mask fine-tune.

    Args:
        model: Built, unwrapped ``keras.Model`` (not modified).
        data: ``(x_train, y_train)`` NumPy arrays.
        target_sparsity: Fraction of counted weights to zero, in ``[0, 1)``.
        scope: ``"global"`` or ``"layerwise"``.
        include_bias: Also count biases.
        fine_tune_examples: Fine-tuning budget in examples (rounded up to whole batches; 0: none).
        batch_size: Fine-tuning batch size.
        learning_rate: Fine-tuning SGD learning rate.
        momentum: Fine-tuning SGD momentum.
        seed: Seed of Keras/TF (dropout, shuffling) and of NumPy subsampling.
        loss: Keras loss (name or callable).
        verbose: ``fit`` verbosity.

    Returns:
        ``(pruned_model, history)``: stripped model (pruned weights exactly 0) and a dict
        with ``masks``, ``nonzero_fraction``, ``fine_tune_examples`` (examples actually
        seen), ``fine_tune_loss``.
    """
    target_sparsity = _check_sparsity(target_sparsity, "target_sparsity")
    scope = _check_scope(scope)
    fine_tune_examples = _check_positive_int(fine_tune_examples, "fine_tune_examples", allow_zero=True)
    ctx = _Context(model, data, include_bias, batch_size, learning_rate, momentum, seed, loss, verbose)
    masks = select_topk(ctx.magnitude(), target_sparsity, scope)
    pruned, ft_loss = ctx.fine_tune(masks, fine_tune_examples)
    return pruned, {
        "method": "simple",
        "target_sparsity": target_sparsity,
        "masks": masks,
        "nonzero_fraction": _nonzero_fraction(masks),
        "fine_tune_examples": ctx.examples_used,
        "fine_tune_loss": ft_loss,
        "iterations": [],
    }


def _prune_fw(
    model, data, target_sparsity, *, method, scope, include_bias, iterations, subsample, step_size, rounding,
    fine_tune_every, fine_tune_examples, final_fine_tune_fraction, beta, initial_sparsity, ramp_power, batch_size,
    learning_rate, momentum, seed, loss, verbose,
):
    target_sparsity = _check_sparsity(target_sparsity, "target_sparsity")
    scope = _check_scope(scope)
    iterations = _check_positive_int(iterations, "iterations")
    subsample = _check_positive_int(subsample, "subsample")
    if not (step_size == "harmonic" or (isinstance(step_size, numbers.Real) and not isinstance(step_size, bool) and 0 < step_size <= 1)):
        raise ValueError(f"`step_size` must be 'harmonic' or a number in (0, 1]. Received: step_size={step_size!r}")
    if rounding not in ("projection", "largest"):
        raise ValueError(f"`rounding` must be 'projection' or 'largest'. Received: rounding={rounding!r}")
    fine_tune_every = _check_positive_int(fine_tune_every, "fine_tune_every", allow_zero=True)
    fine_tune_examples = _check_positive_int(fine_tune_examples, "fine_tune_examples", allow_zero=True)
    final_fine_tune_fraction = _check_fraction(final_fine_tune_fraction, "final_fine_tune_fraction", closed_right=True)
    if method == "fw_momentum":
        beta = _check_fraction(beta, "beta")
        initial_sparsity = _check_sparsity(initial_sparsity, "initial_sparsity")
        if initial_sparsity > target_sparsity:
            raise ValueError(
                "`initial_sparsity` must be <= `target_sparsity`. "
                f"Received: initial_sparsity={initial_sparsity}, target_sparsity={target_sparsity}"
            )

    def sparsity_at(t):
        if method == "fw_momentum":
            return sparsity_ramp(t, iterations, initial_sparsity, target_sparsity, ramp_power)
        return target_sparsity

    ctx = _Context(model, data, include_bias, batch_size, learning_rate, momentum, seed, loss, verbose)
    # Interleaved fine-tunes after iterations t with (t+1) % every == 0, except the last
    # (the final fine-tune follows it); their budget is split equally.
    ft_iters = [] if fine_tune_every == 0 else [t for t in range(iterations - 1) if (t + 1) % fine_tune_every == 0]
    interleaved_total = int(round(fine_tune_examples * (1.0 - final_fine_tune_fraction))) if ft_iters else 0
    per_ft = interleaved_total // len(ft_iters) if ft_iters else 0
    final_examples = fine_tune_examples - per_ft * len(ft_iters)

    binary = select_topk(ctx.magnitude(), sparsity_at(0), scope)
    relaxed = {k: v.astype(np.float64) for k, v in binary.items()}
    direction = None
    records = []
    for t in range(iterations):
        s_t = sparsity_at(t)
        grad, point_loss = ctx.importance_gradient(relaxed, subsample)  # ∇_m L(w ⊙ m) at m = m_t
        if method == "fw_momentum":
            direction = {k: ema(None if direction is None else direction[k], grad[k], beta) for k in ctx.keys}
        else:
            direction = grad
        vertex = lmo_masks(direction, s_t, scope)
        gamma = fw_step_size(t) if step_size == "harmonic" else float(step_size)
        relaxed = {k: fw_update(relaxed[k], vertex[k], gamma) for k in ctx.keys}
        new = round_mask(relaxed, ctx.dense, s_t, scope, rounding)
        record = {
            "iteration": t,
            "sparsity": s_t,
            "gamma": gamma,
            "relaxed_loss": point_loss,
            "vertex_size": int(sum(np.count_nonzero(v) for v in vertex.values())),
            "mask_changes": int(sum(np.count_nonzero(new[k] != binary[k]) for k in ctx.keys)),
            "fine_tune_loss": float("nan"),
        }
        binary = new
        if t in ft_iters:
            _, record["fine_tune_loss"] = ctx.fine_tune(binary, per_ft)
        records.append(record)
    final = round_mask(relaxed, ctx.dense, target_sparsity, scope, rounding)
    pruned, ft_loss = ctx.fine_tune(final, final_examples)
    return pruned, {
        "method": method,
        "target_sparsity": target_sparsity,
        "masks": final,
        "nonzero_fraction": _nonzero_fraction(final),
        "fine_tune_examples": ctx.examples_used,
        "fine_tune_loss": ft_loss,
        "iterations": records,
    }


_FW_ARGS_DOC = """
        model, data, target_sparsity, scope, include_bias, fine_tune_examples, batch_size,
            learning_rate, momentum, seed, loss, verbose: As in :func:`prune_simple`
            (``fine_tune_examples`` is the same total budget, split between interleaved
            fine-tunes and the final one).
        iterations: Number ``T`` of FW iterations (one importance gradient each).
        subsample: Training examples drawn (without replacement) per importance gradient.
        step_size: ``"harmonic"`` (``γ_t = 2/(t+3)``) or a constant ``γ`` in ``(0, 1]``.
        rounding: ``"projection"`` (keep the largest ``w_i^2 (2 m_i - 1)``) or
            ``"largest"`` (keep the largest ``m_i``); see :func:`round_mask`.
        fine_tune_every: Fine-tune the current binary mask after every this many
            iterations (``0``: only the final fine-tune).
        final_fine_tune_fraction: Share of the budget kept for the final fine-tune.
"""


def prune_fw(
    model,
    data,
    target_sparsity,
    *,
    scope="global",
    include_bias=False,
    iterations=8,
    subsample=1024,
    step_size=0.02,
    rounding="projection",
    fine_tune_every=4,
    fine_tune_examples=60000,
    final_fine_tune_fraction=0.5,
    batch_size=128,
    learning_rate=0.01,
    momentum=0.9,
    seed=0,
    loss="sparse_categorical_crossentropy",
    verbose=0,
):
    """Frank-Wolfe pruning on the relaxed mask polytope (see the module docstring).

    Args:{args}
    Returns:
        ``(pruned_model, history)`` as :func:`prune_simple`, plus ``history["iterations"]``:
        one record per FW iteration (``sparsity``, ``gamma``, ``relaxed_loss`` on the
        subsample at ``w ⊙ m_t``, ``vertex_size``, ``mask_changes``, ``fine_tune_loss``).
    """
    return _prune_fw(
        model, data, target_sparsity, method="fw", scope=scope, include_bias=include_bias, iterations=iterations,
        subsample=subsample, step_size=step_size, rounding=rounding, fine_tune_every=fine_tune_every,
        fine_tune_examples=fine_tune_examples, final_fine_tune_fraction=final_fine_tune_fraction, beta=None,
        initial_sparsity=None, ramp_power=None, batch_size=batch_size, learning_rate=learning_rate,
        momentum=momentum, seed=seed, loss=loss, verbose=verbose,
    )


def prune_fw_momentum(
    model,
    data,
    target_sparsity,
    *,
    scope="global",
    include_bias=False,
    iterations=8,
    subsample=1024,
    step_size=0.02,
    rounding="projection",
    fine_tune_every=4,
    fine_tune_examples=60000,
    final_fine_tune_fraction=0.5,
    beta=0.9,
    initial_sparsity=0.5,
    ramp_power=3.0,
    batch_size=128,
    learning_rate=0.01,
    momentum=0.9,
    seed=0,
    loss="sparse_categorical_crossentropy",
    verbose=0,
):
    """Frank-Wolfe pruning with an EMA direction and a sparsity ramp ``s_0 → s``.

    Args:{args}        beta: EMA factor ``β`` of ``d_t = β d_{t-1} + (1-β) g_t``.
        initial_sparsity: ``s_0`` (``<= target_sparsity``).
        ramp_power: Exponent ``p`` of the ramp ``s_t = s + (s_0 - s)(1 - t/(T-1))^p``.

    Returns:
        ``(pruned_model, history)`` as :func:`prune_fw`.
    """
    return _prune_fw(
        model, data, target_sparsity, method="fw_momentum", scope=scope, include_bias=include_bias,
        iterations=iterations, subsample=subsample, step_size=step_size, rounding=rounding,
        fine_tune_every=fine_tune_every, fine_tune_examples=fine_tune_examples,
        final_fine_tune_fraction=final_fine_tune_fraction, beta=beta, initial_sparsity=initial_sparsity,
        ramp_power=ramp_power, batch_size=batch_size, learning_rate=learning_rate, momentum=momentum, seed=seed,
        loss=loss, verbose=verbose,
    )


prune_fw.__doc__ = prune_fw.__doc__.replace("{args}", _FW_ARGS_DOC)
prune_fw_momentum.__doc__ = prune_fw_momentum.__doc__.replace("{args}", _FW_ARGS_DOC)

PRUNERS = {"simple": prune_simple, "fw": prune_fw, "fw_momentum": prune_fw_momentum}


def prune(method, model, data, target_sparsity, **options):
    """Dispatches to :data:`PRUNERS` ``[method]`` (``"simple"``, ``"fw"``, ``"fw_momentum"``)."""
    if method not in PRUNERS:
        raise ValueError(f"`method` must be one of {sorted(PRUNERS)}. Received: method={method!r}")
    return PRUNERS[method](model, data, target_sparsity, **options)
