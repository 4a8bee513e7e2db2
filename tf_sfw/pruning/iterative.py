r"""Frank-Wolfe-guided iterative pruning: ``simple``, ``fw`` and ``fw_momentum``.

The three pruners compared in "Projection-Free CNN Pruning via Frank-Wolfe with Momentum"
(Frank-Wolfe over relaxed masks after Miao et al., ICLR 2022, "Learning Pruning-Friendly
Networks via Frank-Wolfe: One-Shot, Any-Sparsity, and No Retraining"). One interface::

    pruned_model, history = prune_<method>(model, data, target_sparsity, **options)
    pruned_model, history = prune(method, model, data, target_sparsity, **options)

``model`` is a built, unwrapped ``keras.Model`` (never modified), ``data`` a tuple
``(x_train, y_train)`` of NumPy arrays (inputs already scaled), ``target_sparsity``
the fraction ``s`` of counted weights to zero. The result is a plain (stripped)
model whose pruned weights are exact zeros, and a ``dict`` history (final masks,
per-iteration records, fine-tune budget actually used).

Counted weights are the kernels of conv/dense layers (biases with
``include_bias=True``) as listed by :func:`tf_sfw.pruning.masks.prunable_weights`.
With ``scope="global"`` one budget covers all ``n`` counted entries, with
``scope="layerwise"`` each tensor gets its own. The final binary mask always keeps
exactly ``k = n - floor(s·n + 1/2)`` entries per scope (`keep_count`).

Fair budget. Every pruner spends the same number of fine-tuning examples
``fine_tune_examples`` (SGD, batch ``batch_size``, mask fixed through
:func:`tf_sfw.pruning.retrain.fine_tune`): ``simple`` in one final fine-tune, the FW
variants split between interleaved fine-tunes and a final one (each rounded up to whole
batches; ``history["fine_tune_examples"]`` reports the exact count). The FW variants
additionally spend ``iterations × subsample`` forward/backward passes (no weight update)
to estimate the importance gradient.

simple
    Magnitude pruning: the ``k`` largest ``|w_i|`` are kept (among equal magnitudes the
    lower flat index, `tf_sfw.selection`), then one fine-tune with the mask fixed.
    (Greedy backward removal of the smallest ``|w_i|`` gives the same mask: removing an
    entry never changes the others' magnitudes.)

fw
    Frank-Wolfe on the relaxed mask polytope

    .. math:: \min_{m \in M} L(w \odot m), \qquad
              M = \{m \in [0,1]^n : \textstyle\sum_i m_i \le k\},

    with the gradient at the current iterate ``m_t``

    .. math:: \nabla_m L(w \odot m_t) = w \odot \nabla_\theta L(\theta)
              \big|_{\theta = w \odot m_t},

    estimated on a fresh random subsample of ``subsample`` training examples
    (inference mode). ``v_t`` is the LMO vertex of ``M`` (`tf_sfw.lmo.mask_polytope_lmo`:
    ones at the (at most) ``k`` most negative gradient entries), and
    ``m_{t+1} = (1 - γ) m_t + γ v_t`` (`tf_sfw.fw.convex_step`) with a constant ``γ``
    (``step_size``, default 0.02) or ``γ_t = 2/(t+3)`` (``step_size="harmonic"``).
    ``m_0`` is the magnitude mask (the ``simple`` solution, a vertex of ``M``).

    Rounding (``rounding="projection"``, default): the final binary mask is the ``b``
    with exactly ``k`` ones whose network is nearest to the relaxed one,
    ``argmin_b Σ_i w_i^2 (m_i - b_i)^2``, i.e. it keeps the ``k`` largest
    ``w_i^2 (2 m_i - 1)`` (magnitude pruning when ``m = 1`` on the kept set);
    ``rounding="largest"`` keeps the ``k`` largest ``m_i``.

    Every ``fine_tune_every`` iterations the current rounded mask is fine-tuned. The
    dense values ``w`` of currently pruned entries are kept aside and written back, so
    an entry that the iterate brings back into the mask returns with its pre-trained
    value (only kept entries carry fine-tuned values).

fw_momentum
    As ``fw``, with the direction replaced by the momentum average
    ``d_t = β d_{t-1} + (1-β) g_t`` (``d_0 = g_0``, `tf_sfw.fw.momentum_average`) and
    the sparsity ramped from ``initial_sparsity = s_0`` to the target:
    ``s_t = s + (s_0 - s)(1 - t/(T-1))^p`` (``p = ramp_power``, cubic by default as in
    Zhu & Gupta's gradual pruning). The LMO at iteration ``t`` uses ``k_t`` from ``s_t``
    and the interleaved fine-tunes the mask rounded at ``s_t``; the final mask uses the
    target ``k``.

Why these defaults (small constant steps, projection rounding, the gradient at the
iterate) and what they measured: ``results/fw_momentum/README.md``. The pure math is in
`tf_sfw.pruning.relaxed_masks` (its names are re-exported here).
"""

import numbers

import numpy as np
import tensorflow as tf

from tf_sfw import validation
from tf_sfw._keras import keras
from tf_sfw.pruning.magnitude import validate_sparsity
from tf_sfw.pruning.masks import apply_masks, is_pruned, prunable_weights, strip
from tf_sfw.pruning.relaxed_masks import (
    ROUNDINGS,
    SCOPES,
    ema,
    fw_step_size,
    fw_update,
    keep_count,
    lmo_mask_polytope,
    lmo_masks,
    round_mask,
    select_topk,
    sparsity_ramp,
    topk_mask,
)
from tf_sfw.pruning.retrain import fine_tune

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


def _check_data(data):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"`data` must be a tuple (x_train, y_train) of arrays. Received: data of type {type(data).__name__}")
    x, y = np.asarray(data[0]), np.asarray(data[1])
    if x.shape[0] == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"`data` must hold the same non-zero number of inputs and labels. Received: {x.shape[0]} inputs, {y.shape[0]} labels"
        )
    return x, y


class _Context:
    """Shared state of one pruning run: the working model, its weights, data and budget."""

    def __init__(self, model, data, include_bias, batch_size, learning_rate, momentum, seed, loss, verbose):
        if not isinstance(model, keras.Model):
            raise ValueError(f"`model` must be a tf_keras `keras.Model`. Received: model of type {type(model).__name__}")
        if is_pruned(model):
            raise ValueError(f"`model` {model.name!r} already has pruning wrappers; pass the unwrapped model.")
        self.x, self.y = _check_data(data)
        self.batch_size = validation.check_positive_int(batch_size, "batch_size")
        self.learning_rate = validation.check_positive_number(learning_rate, "learning_rate")
        self.momentum = validation.check_fraction(momentum, "momentum")
        self.seed = validation.check_int(seed, "seed", minimum=0)
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
    target_sparsity = validate_sparsity(target_sparsity, "target_sparsity")
    scope = validation.check_choice(scope, "scope", SCOPES)
    fine_tune_examples = validation.check_int(fine_tune_examples, "fine_tune_examples", minimum=0)
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


def _check_fw_options(method, target_sparsity, o):
    """Validated options of `_prune_fw` (``o``: dict of its keyword arguments)."""
    o["iterations"] = validation.check_positive_int(o["iterations"], "iterations")
    o["subsample"] = validation.check_positive_int(o["subsample"], "subsample")
    step_size = o["step_size"]
    if not (step_size == "harmonic" or (isinstance(step_size, numbers.Real) and not isinstance(step_size, bool) and 0 < step_size <= 1)):
        raise ValueError(f"`step_size` must be 'harmonic' or a number in (0, 1]. Received: step_size={step_size!r}")
    validation.check_choice(o["rounding"], "rounding", ROUNDINGS)
    o["fine_tune_every"] = validation.check_int(o["fine_tune_every"], "fine_tune_every", minimum=0)
    o["fine_tune_examples"] = validation.check_int(o["fine_tune_examples"], "fine_tune_examples", minimum=0)
    o["final_fine_tune_fraction"] = validation.check_fraction(
        o["final_fine_tune_fraction"], "final_fine_tune_fraction", closed_right=True
    )
    if method == "fw_momentum":
        o["beta"] = validation.check_fraction(o["beta"], "beta")
        o["initial_sparsity"] = validate_sparsity(o["initial_sparsity"], "initial_sparsity")
        if o["initial_sparsity"] > target_sparsity:
            raise ValueError(
                "`initial_sparsity` must be <= `target_sparsity`. "
                f"Received: initial_sparsity={o['initial_sparsity']}, target_sparsity={target_sparsity}"
            )
    return o


def _fine_tune_plan(iterations, every, examples, final_fraction):
    """``(iterations followed by a fine-tune, examples of each, examples of the final one)``.

    Interleaved fine-tunes follow the iterations ``t`` with ``(t+1) % every == 0`` except
    the last (the final fine-tune follows it); they share ``1 - final_fraction`` of the
    budget equally.
    """
    ft_iters = [] if every == 0 else [t for t in range(iterations - 1) if (t + 1) % every == 0]
    interleaved_total = int(round(examples * (1.0 - final_fraction))) if ft_iters else 0
    per_ft = interleaved_total // len(ft_iters) if ft_iters else 0
    return ft_iters, per_ft, examples - per_ft * len(ft_iters)


def _prune_fw(model, data, target_sparsity, *, method, scope, include_bias, batch_size, learning_rate, momentum,
              seed, loss, verbose, **options):
    """The ``fw`` / ``fw_momentum`` loop (module docstring); ``options`` as in `prune_fw_momentum`."""
    target_sparsity = validate_sparsity(target_sparsity, "target_sparsity")
    scope = validation.check_choice(scope, "scope", SCOPES)
    o = _check_fw_options(method, target_sparsity, options)

    def sparsity_at(t):
        if method == "fw_momentum":
            return sparsity_ramp(t, o["iterations"], o["initial_sparsity"], target_sparsity, o["ramp_power"])
        return target_sparsity

    ctx = _Context(model, data, include_bias, batch_size, learning_rate, momentum, seed, loss, verbose)
    ft_iters, per_ft, final_examples = _fine_tune_plan(
        o["iterations"], o["fine_tune_every"], o["fine_tune_examples"], o["final_fine_tune_fraction"]
    )
    binary = select_topk(ctx.magnitude(), sparsity_at(0), scope)
    relaxed = {k: v.astype(np.float64) for k, v in binary.items()}
    direction, records = None, []
    for t in range(o["iterations"]):
        s_t = sparsity_at(t)
        grad, point_loss = ctx.importance_gradient(relaxed, o["subsample"])  # ∇_m L(w ⊙ m) at m = m_t
        if method == "fw_momentum":
            direction = {k: ema(None if direction is None else direction[k], grad[k], o["beta"]) for k in ctx.keys}
        else:
            direction = grad
        vertex = lmo_masks(direction, s_t, scope)
        gamma = fw_step_size(t) if o["step_size"] == "harmonic" else float(o["step_size"])
        relaxed = {k: fw_update(relaxed[k], vertex[k], gamma) for k in ctx.keys}
        new = round_mask(relaxed, ctx.dense, s_t, scope, o["rounding"])
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
    final = round_mask(relaxed, ctx.dense, target_sparsity, scope, o["rounding"])
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
