r"""Pure math of Frank-Wolfe pruning over masks (NumPy arrays in, NumPy arrays out).

Pruning keeps ``k`` of ``n`` counted weights. Frank-Wolfe pruning (Miao et al., ICLR 2022,
"Learning Pruning-Friendly Networks via Frank-Wolfe: One-Shot, Any-Sparsity, and No
Retraining") relaxes the binary mask to the polytope

.. math:: M_k = \{m \in [0,1]^n : \textstyle\sum_i m_i \le k\}

and runs Frank-Wolfe on :math:`\min_{m \in M_k} L(w \odot m)`. The pieces, each written
once elsewhere and applied here to mappings ``{key: array}`` (one entry per weight tensor):

* the LMO of :math:`M_k` (`tf_sfw.lmo.mask_polytope_lmo`): `lmo_mask_polytope`, `lmo_masks`;
* the step :math:`m \leftarrow (1-\gamma)\,m + \gamma v` and the momentum average
  (`tf_sfw.fw`): `fw_update`, `ema`, `fw_step_size`;
* binary top-k masks with the package's tie rule (`tf_sfw.selection`): `topk_mask`,
  `select_topk`, and rounding a relaxed mask to a binary one, `round_mask`;
* the gradual sparsity ramp of Zhu & Gupta (2017, "To prune, or not to prune"):
  `sparsity_ramp`.

``scope="global"`` treats all tensors as one vector (concatenated in key order, each
flattened in C order); ``scope="layerwise"`` treats each tensor separately. Every count
``k`` is `keep_count`, the counting rule of `tf_sfw.pruning.magnitude`.
"""

import numpy as np
import tensorflow as tf

from tf_sfw import fw, lmo, selection, validation
from tf_sfw.pruning.magnitude import num_pruned, validate_sparsity

__all__ = [
    "SCOPES",
    "ROUNDINGS",
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
]

SCOPES = ("global", "layerwise")
ROUNDINGS = ("projection", "largest")

#: Binary mask of the ``k`` best-ranked ``scores`` (`tf_sfw.selection.top_k_mask`).
topk_mask = selection.top_k_mask

#: Classic Frank-Wolfe step size ``2 / (t + offset)`` (`tf_sfw.fw.harmonic_step_size`).
fw_step_size = fw.harmonic_step_size


def keep_count(n, sparsity):
    """Number of entries kept out of ``n`` at sparsity ``s``: ``n - floor(s·n + 1/2)``.

    Returns ``k`` with ``|k - (1-s)·n| <= 1/2`` (`tf_sfw.pruning.magnitude.num_pruned`).
    """
    return int(n) - num_pruned(sparsity, n)


def lmo_mask_polytope(grad, k):
    """`tf_sfw.lmo.mask_polytope_lmo` on a NumPy array (float64 arithmetic).

    Returns:
        ``float32`` 0/1 vertex of ``grad``'s shape: ones at the (at most) ``k`` most
        negative entries (among equal entries the lower flat index).
    """
    grad = np.asarray(grad)
    flat = selection.finite_flat(grad, "grad")
    k = selection.check_count(k, flat.size)
    vertex = lmo.mask_polytope_lmo(tf.constant(flat, tf.float64), k)
    return vertex.numpy().astype(np.float32).reshape(grad.shape)


def _same_shapes(a, b, names):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"`{names[0]}` and `{names[1]}` must have the same shape. Received: {a.shape} and {b.shape}")
    return a.astype(np.float64), b.astype(np.float64)


def fw_update(m, v, gamma):
    """Frank-Wolfe step ``(1 - γ) m + γ v`` (`tf_sfw.fw.convex_step`), as float64."""
    gamma = validation.check_fraction(gamma, "gamma", closed_right=True)
    m, v = _same_shapes(m, v, ("m", "v"))
    return fw.convex_step(m, v, gamma)


def ema(previous, value, beta):
    """Momentum average ``β·previous + (1-β)·value`` (`tf_sfw.fw.momentum_average`).

    ``previous=None`` starts the average at ``value`` (as β = 0 would).
    """
    beta = validation.check_fraction(beta, "beta")
    if previous is None:
        return np.array(value, dtype=np.float64)
    previous, value = _same_shapes(previous, value, ("previous", "value"))
    return fw.momentum_average(previous, value, beta)


def sparsity_ramp(t, num_iterations, initial_sparsity, final_sparsity, power=3.0):
    """Sparsity at iteration ``t``: ``s + (s_0 - s)(1 - t/(T-1))^p`` (``s`` when ``T = 1``).

    Args:
        t: Iteration ``0 <= t < T``.
        num_iterations: ``T >= 1``.
        initial_sparsity: ``s_0`` in ``[0, s]``.
        final_sparsity: ``s`` in ``[0, 1)``.
        power: ``p > 0`` (3: the cubic ramp of gradual pruning; 1: linear).

    Returns:
        ``s_t``, non-decreasing in ``t``, ``s_0`` at ``t = 0`` and ``s`` at ``t = T-1``.
    """
    final_sparsity = validate_sparsity(final_sparsity, "final_sparsity")
    initial_sparsity = validate_sparsity(initial_sparsity, "initial_sparsity")
    if initial_sparsity > final_sparsity:
        raise ValueError(
            "`initial_sparsity` must be <= `final_sparsity`. "
            f"Received: initial_sparsity={initial_sparsity}, final_sparsity={final_sparsity}"
        )
    num_iterations = validation.check_positive_int(num_iterations, "num_iterations")
    t = validation.check_int(t, "t", minimum=0, maximum=num_iterations - 1)
    power = validation.check_positive_number(power, "power")
    if num_iterations == 1:
        return final_sparsity
    frac = t / (num_iterations - 1)
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - frac) ** power


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


def _per_scope(arrays, sparsity, scope, fn, extra=None):
    """``fn(flat_or_tensor, k, extra)`` per tensor (layerwise) or on the concatenation (global)."""
    sparsity = validate_sparsity(sparsity)
    scope = validation.check_choice(scope, "scope", SCOPES)
    if scope == "layerwise":
        return {
            key: fn(value, keep_count(np.asarray(value).size, sparsity), None if extra is None else extra[key])
            for key, value in arrays.items()
        }
    keys, shapes, flat = _concat(arrays)
    flat_extra = None if extra is None else _concat({k: extra[k] for k in keys})[2]
    return _split(keys, shapes, fn(flat, keep_count(flat.size, sparsity), flat_extra))


def select_topk(scores, sparsity, scope="global", tiebreak=None):
    """Binary masks keeping the best-ranked ``scores`` at ``sparsity`` (global or per tensor).

    Args:
        scores: Mapping ``{key: array}``.
        sparsity: Target sparsity in ``[0, 1)``; exactly ``keep_count(n, s)`` entries
            are kept over all tensors (``"global"``) or in each tensor (``"layerwise"``).
        scope: ``"global"`` or ``"layerwise"``.
        tiebreak: Optional mapping with the same keys/shapes (larger wins ties; then the
            lower flat index, `tf_sfw.selection`).

    Returns:
        Mapping ``{key: float32 0/1 mask}``.
    """
    _check_dict(scores, "scores")
    if tiebreak is not None and set(tiebreak) != set(scores):
        raise ValueError(f"`tiebreak` must have the keys of `scores` {list(scores)}. Received: {list(tiebreak)}")
    return _per_scope(scores, sparsity, scope, topk_mask, tiebreak)


def lmo_masks(grads, sparsity, scope="global"):
    """LMO vertices of the mask polytope(s) for gradients ``{key: array}``.

    ``"global"``: one polytope ``Σ_all m ≤ k`` over the concatenation;
    ``"layerwise"``: one polytope per tensor.
    """
    _check_dict(grads, "grads")
    return _per_scope(grads, sparsity, scope, lambda g, k, _: lmo_mask_polytope(g, k))


def round_mask(relaxed, weights, sparsity, scope="global", rounding="projection"):
    """Binary mask with exactly ``keep_count`` ones from a relaxed mask ``m``.

    ``rounding="projection"``: the binary ``b`` (with the right count) whose network is
    closest to the relaxed one in weight space,
    ``argmin_b Σ_i w_i^2 (m_i - b_i)^2``, i.e. keep the largest
    ``w_i^2 (2 m_i - 1)``; for ``m = 1`` this is magnitude pruning.
    ``rounding="largest"``: keep the largest ``m_i``. Ties: larger ``|w_i|``, then the
    lower flat index.

    Args:
        relaxed: Mapping ``{key: m}`` with entries in ``[0, 1]``.
        weights: Mapping ``{key: w}`` (same keys and shapes).
        sparsity: Target sparsity in ``[0, 1)``.
        scope: ``"global"`` or ``"layerwise"``.
        rounding: ``"projection"`` or ``"largest"``.

    Returns:
        Mapping ``{key: float32 0/1 mask}``.
    """
    validation.check_choice(rounding, "rounding", ROUNDINGS)
    _check_dict(relaxed, "relaxed")
    if set(weights) != set(relaxed):
        raise ValueError(f"`weights` must have the keys of `relaxed` {list(relaxed)}. Received: {list(weights)}")
    magnitude = {k: np.abs(np.asarray(weights[k], dtype=np.float64)) for k in relaxed}
    if rounding == "largest":
        scores = relaxed
    else:
        scores = {k: magnitude[k] ** 2 * (2.0 * np.asarray(relaxed[k], dtype=np.float64) - 1.0) for k in relaxed}
    return select_topk(scores, sparsity, scope, tiebreak=magnitude)
