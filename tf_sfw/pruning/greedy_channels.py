r"""Greedy least-squares channel removal: which channels the next layers can best do without (NumPy).

A channel ``c`` of a channel group is read by the group's consumers ``L`` (the Conv2D / Dense
layers whose input carries the group's channels). Consumer ``L`` computes :math:`X_L W_L` from
its input rows :math:`X_L` (`tf_sfw.pruning.layer_inputs`; a row's feature ``p·C + c`` is
channel ``c`` at kernel position or flattened position ``p``), so channel ``c`` owns the rows
:math:`B_c = \{p C + c\}` of :math:`W_L`. Removing a set of channels and refitting the remaining
rows by least squares to the dense output :math:`X_L W_L` (what
`tf_sfw.pruning.reconstruction.refit_shrunk` does afterwards) leaves an error that the Optimal
Brain Surgeon block formula gives in closed form: with the damped Gram matrix
:math:`H_L = X_L^\top X_L + \lambda_L I` and the rows :math:`B` of one more channel,

.. math::
    \Delta E_L(B) = \operatorname{tr}\big(W_{L,B}^\top\, [(H_L^{-1})_{BB}]^{-1}\, W_{L,B}\big),

after which the optimal refit and the inverse Gram matrix of the remaining rows are

.. math::
    W_L \leftarrow W_L - (H_L^{-1})_{:B}\, [(H_L^{-1})_{BB}]^{-1} W_{L,B}, \qquad
    H_L^{-1} \leftarrow H_L^{-1} - (H_L^{-1})_{:B}\, [(H_L^{-1})_{BB}]^{-1} (H_L^{-1})_{B:}

restricted to the rows outside :math:`B` (Hassibi and Stork, NIPS 1993, "Second order
derivatives for network pruning: Optimal Brain Surgeon", for a block of weights; Frantar and
Alistarh, NeurIPS 2022, "Optimal Brain Compression"). :func:`greedy_removal_order` removes,
one channel at a time, the channel of least total cost :math:`\sum_L \Delta E_L(B_c)` and
updates every consumer, until one channel is left: the channel selection of ThiNet (Luo, Wu
and Lin, ICCV 2017), which removes greedily the channels whose absence the next layer feels
least, with the exact least-squares cost and the refit of the channels kept so far.

Because each step depends only on the channels removed before it, the first ``z`` channels
of the order are the greedy choice for removing ``z`` channels, for every ``z``: ranks in
this order are scores for a layer-wise plan (`tf_sfw.pruning.structured`). The damping is
:math:`\lambda_L = \text{damping} \cdot \overline{\operatorname{diag}(X_L^\top X_L)}`, as in the
refit. Ties go to the package's one tie rule (`tf_sfw.selection.pruning_order`): among equal
costs the higher channel index goes first.
"""

import numpy as np

from tf_sfw import selection, validation

__all__ = ["greedy_removal_order"]


def _check(grams, kernels, channels):
    if len(grams) == 0 or len(grams) != len(kernels):
        raise ValueError(f"`grams` and `kernels` must be equally long non-empty lists (one per consumer). "
                         f"Received: {len(grams)} and {len(kernels)}")
    out = []
    for i, (gram, kernel) in enumerate(zip(grams, kernels)):
        gram, kernel = np.asarray(gram, np.float64), np.asarray(kernel, np.float64)
        d = gram.shape[0] if gram.ndim == 2 else -1
        if gram.shape != (d, d) or kernel.ndim != 2 or kernel.shape[0] != d or d % channels:
            raise ValueError(f"Consumer {i}: `grams[{i}]` must be (d, d) and `kernels[{i}]` (d, m) with d a multiple "
                             f"of channels={channels}. Received: {gram.shape} and {kernel.shape}")
        if not (np.all(np.isfinite(gram)) and np.all(np.isfinite(kernel))):
            raise ValueError(f"Consumer {i}: `grams[{i}]` and `kernels[{i}]` must be finite.")
        out.append((gram, kernel))
    return out


def _inverse(gram, damping):
    scale = float(np.mean(np.diag(gram)))
    damped = gram + damping * (scale if scale > 0 else 1.0) * np.eye(gram.shape[0])
    return np.linalg.inv(damped)


def greedy_removal_order(grams, kernels, channels, damping=0.01):
    """Channels in the order greedy least-squares removal takes them, and the cost of each step.

    Args:
        grams: One ``(d_L, d_L)`` Gram matrix :math:`X_L^\\top X_L` per consumer (undamped).
        kernels: One ``(d_L, m_L)`` matrix per consumer: its weights, rows ordered like the
            Gram matrix's (row ``p·channels + c`` belongs to channel ``c``); scale the columns
            to make the consumers' outputs comparable (e.g. by the BatchNorm that follows).
        channels: Number of channels ``C`` of the group (``d_L`` is a multiple of it).
        damping: ``λ_L`` relative to the mean diagonal of each Gram matrix (> 0).

    Returns:
        ``(order, costs)``: int64 ``(C,)``, every channel once, the one removed first at
        position 0 and the survivor last; float64 ``(C,)``, the cost
        :math:`\\sum_L \\Delta E_L` of each step (0 for the survivor, which is never removed).
    """
    channels = validation.check_positive_int(channels, "channels")
    damping = validation.check_positive_number(damping, "damping")
    state = []
    for gram, kernel in _check(grams, kernels, channels):
        rows = np.argsort(np.arange(gram.shape[0]) % channels, kind="stable").reshape(channels, -1)  # channel -> rows
        state.append((_inverse(gram, damping), kernel.copy(), rows))
    alive = np.arange(channels)
    order, costs = [], []
    while alive.size > 1:
        total = np.zeros(alive.size)
        for inverse, kernel, rows in state:
            candidates = rows[alive]  # (alive channels, rows of each)
            blocks = inverse[candidates[:, :, None], candidates[:, None, :]]
            weights = kernel[candidates]
            total += np.einsum("nbm,nbm->n", weights, np.linalg.solve(blocks, weights))
        pick = int(selection.pruning_order(total)[0])  # least cost; among equal costs the higher index
        channel = int(alive[pick])
        for inverse, kernel, rows in state:
            # The update zeroes the rows (and columns) of the removed channel, so the matrices keep their
            # size: removed channels are never candidates again and their zeros do not enter later steps.
            b = rows[channel]
            block = np.linalg.inv(inverse[np.ix_(b, b)])
            kernel -= inverse[:, b] @ (block @ kernel[b])
            inverse -= inverse[:, b] @ (block @ inverse[b, :])
            kernel[b] = 0.0
            inverse[b, :] = 0.0
            inverse[:, b] = 0.0
        order.append(channel)
        costs.append(float(total[pick]))
        alive = np.delete(alive, pick)
    return np.array(order + [int(alive[0])], np.int64), np.array(costs + [0.0])
