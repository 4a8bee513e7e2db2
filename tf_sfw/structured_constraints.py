r"""Structured constraint sets: group sets over output filters / units, and N:M sparsity.

Serializable `tf_sfw.constraints.Constraint` classes, usable wherever the unstructured sets
are (`tf_sfw.constraints_for_model`, `tf_sfw.SFW`, ``constraints.deserialize``); their math
is in `tf_sfw.group_lmo`:

* `GroupKSparsePolytope`: :math:`\{\|x\|_{2,1} \le rK,\ \|x\|_{2,\infty} \le r\}` over the
  groups (slices along the output axis), K counted in groups.
* `GroupKSupportNormBall`: the group K-support norm ball of radius r.
* `NMSparsePolytope`: per block of M consecutive entries along the input axis,
  :math:`\{\|x_b\|_\infty \le r,\ \|x_b\|_1 \le rN\}` (the convex hull of N:M sparse points).

Trained by Stochastic Frank-Wolfe, iterates are convex combinations of the LMO's vertices
(K whole groups; N entries per block), so most groups end near zero, ready for
structured one-shot pruning without retraining (Zimmer, Spiegel and Pokutta, 2022,
"Compression-aware Training of Neural Networks using Frank-Wolfe"): filters with
`tf_sfw.pruning.shrink.structured_prune`, N:M blocks with `tf_sfw.pruning.nm`.

Sizes (``mode`` / ``value``) are as for the unstructured sets (see `tf_sfw.constraints`):
radius ``r``; L2 diameter ``D``; or ``"initialization"``, :math:`D = 2\tau\,\mathbb{E}\|\theta_{init}\|_2`.
The diameter of the group K-sparse polytope (:math:`2r\sqrt{K}`, K a number of groups) and
of the N:M polytope (:math:`2r\sqrt{\sum_b \min(N, |b|)}`) depends on the variable's shape,
not only on its number of entries. So their size methods take the variable's shape
(an int number of entries is enough only where the shape does not matter), and
`Constraint.resolve` turns mode "initialization" into mode "diameter" (:math:`D` fixed, r
derived from the shape when the LMO or ``shift_inside`` sees the tensor) instead of
mode "radius". Both are the same set.
"""

import math

import tensorflow as tf

from tf_sfw import constraints as constraints_lib
from tf_sfw import group_lmo
from tf_sfw import lmo as lmo_lib
from tf_sfw import set_sizes
from tf_sfw import validation

__all__ = ["GroupKSparsePolytope", "GroupKSupportNormBall", "NMSparsePolytope"]

_register = constraints_lib._register


def _check_axis(axis):
    return validation.check_int(axis, "axis")


def _shape_of(size, owner):
    """The static shape in ``size`` (a shape, or an int number of entries: ValueError)."""
    if isinstance(size, int) and not isinstance(size, bool):
        raise ValueError(
            f"{owner!r}: the size of this set depends on the variable's shape, not only on its "
            f"number of entries. Pass the shape (e.g. `variable.shape`), or use mode='diameter' / "
            f"'initialization'. Received: {size!r}"
        )
    return group_lmo._static_shape(size)


class _ShapeSized:
    """Mixin of the sets whose radius for a given diameter depends on the variable's shape.

    Subclasses define ``_size_count(shape)`` (the ``c`` of :math:`D = 2r\\sqrt{c}`).
    """

    def _radius_from_diameter(self, diameter, size):
        return diameter / (2.0 * math.sqrt(self._size_count(_shape_of(size, self))))

    def radius(self, size):
        """Radius ``r`` for a variable of shape ``size`` (an int is enough for mode "radius")."""
        return self._radius_from_mode(size)

    def l2_diameter(self, size):
        """L2 diameter ``D`` for a variable of shape ``size`` (an int is enough for mode "diameter")."""
        if self.mode == "diameter":
            return self.value
        return 2.0 * self.radius(size) * math.sqrt(self._size_count(_shape_of(size, self)))

    def resolve(self, n, init_norm):
        """Mode "initialization" turned into mode "diameter" with :math:`D = 2\\tau\\,\\mathbb{E}\\|\\theta_{init}\\|_2`
        (a zero or unknown norm uses 1.0); other modes are returned as they are."""
        if self.mode != "initialization":
            return self
        norm = float(init_norm) if init_norm and init_norm > 0 else 1.0
        config = self.get_config()
        config.update(mode="diameter", value=2.0 * self.value * norm)
        return type(self)(**config)


class _GroupSet(constraints_lib._TopKSet):
    """K groups out of the slices along ``axis`` (`_TopKSet`'s K rule, counted in groups)."""

    def __init__(self, k, k_frac, mode, value, axis):
        super().__init__(k, k_frac, mode, value)
        self.axis = _check_axis(axis)

    def k_groups(self, shape):
        """K for a variable of ``shape``: `k_for` of its number of groups."""
        return self.k_for(group_lmo.num_groups(shape, self.axis))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@_register
class GroupKSparsePolytope(_ShapeSized, _GroupSet):
    r"""The group K-sparse polytope :math:`\{x : \sum_g \|x_g\|_2 \le rK,\ \|x_g\|_2 \le r\ \forall g\}`.

    Groups :math:`x_g` are the slices along ``axis`` (the output axis: conv filters, dense
    units; each entry of a bias). Vertices: K groups of norm r, the others zero; L2 diameter
    :math:`2r\sqrt{K}`. LMO: the K groups of largest gradient group norm get
    :math:`-r\,g_g/\|g_g\|_2` (`tf_sfw.group_lmo.group_k_sparse_lmo`; Zimmer, Spiegel and
    Pokutta, 2022, "Compression-aware Training of Neural Networks using Frank-Wolfe").

    Args:
        k: Minimum number of groups K (int >= 1) or None.
        k_frac: Fraction of the groups (in (0, 1]) or None; with both,
            :math:`K = \min(\max(k, \lfloor k_{frac} n_g\rfloor), n_g)` (at least 1).
        mode: "radius", "diameter" or "initialization" (:math:`r = \tau\,\mathbb{E}\|\theta_{init}\|_2/\sqrt{K}`).
        value: The radius, the L2 diameter, or :math:`\tau`.
        axis: The group axis of kernels (rank >= 2), default -1.
    """

    def __init__(self, k=1, k_frac=0.25, mode="initialization", value=15.0, axis=-1):
        super().__init__(k, k_frac, mode, value, axis)

    def _size_count(self, shape):
        return self.k_groups(shape)

    def lmo(self, gradient, selection=lmo_lib.DEFAULT_SELECTION):
        shape = gradient.shape
        return group_lmo.group_k_sparse_lmo(gradient, self.k_groups(shape), self.radius(shape), self.axis, selection)

    def shift_inside(self, x):
        r"""Radial rescale :math:`x \cdot \min(1, r / \max(\|x\|_{2,\infty}, \|x\|_{2,1}/K))`
        (the identity on feasible points)."""
        x = tf.convert_to_tensor(x)
        gauge = group_lmo.group_k_sparse_gauge(x, self.k_groups(x.shape), self.axis)
        return self._rescale(x, self.radius(x.shape), gauge)


@_register
class GroupKSupportNormBall(_GroupSet):
    r"""The group K-support norm ball of radius r: :math:`r\cdot\mathrm{conv}\{x : x` non-zero on
    at most K groups, :math:`\|x\|_2 \le 1\}` (Zimmer, Spiegel and Pokutta, 2022).

    Groups as for `GroupKSparsePolytope`; L2 diameter :math:`2r` (so with mode
    "initialization" :math:`r = \tau\,\mathbb{E}\|\theta_{init}\|_2`). LMO: with S the K groups of
    largest gradient group norm, :math:`v = -r\,g_S/\|g_S\|_2`
    (`tf_sfw.group_lmo.group_k_support_lmo`). Arguments as for `GroupKSparsePolytope`.
    """

    def __init__(self, k=1, k_frac=0.25, mode="initialization", value=15.0, axis=-1):
        super().__init__(k, k_frac, mode, value, axis)

    def radius(self, n):
        return self._radius_from_mode(n)

    def _radius_from_diameter(self, diameter, n):
        return diameter / 2.0

    def l2_diameter(self, n):
        return 2.0 * self.radius(n)

    def lmo(self, gradient, selection=lmo_lib.DEFAULT_SELECTION):
        shape = gradient.shape
        return group_lmo.group_k_support_lmo(gradient, self.k_groups(shape), self.radius(shape), self.axis, selection)

    def shift_inside(self, x):
        r"""Radial rescale :math:`x \cdot \min(1, r / \|x\|^{sp}_{K})` by the exact group K-support
        norm (`tf_sfw.group_lmo.group_k_support_norm`): the identity on feasible points."""
        x = tf.convert_to_tensor(x)
        norm = group_lmo.group_k_support_norm(x, self.k_groups(x.shape), self.axis)
        return self._rescale(x, self.radius(x.shape), norm)


@_register
class NMSparsePolytope(_ShapeSized, constraints_lib.Constraint):
    r"""The N:M sparse polytope: per block of M consecutive entries along the input axis,
    :math:`\{\|x_b\|_\infty \le r,\ \|x_b\|_1 \le rN\}`.

    The convex hull of the tensors with at most N non-zeros, each in :math:`[-r, r]`, in
    every block of M consecutive entries along ``axis`` (the input axis: tfmot's
    ``sparsity_m_by_n`` layout, see `tf_sfw.group_lmo`). LMO: in each block the N entries of
    largest gradient magnitude get :math:`-r\,\mathrm{sign}(g_i)` (`tf_sfw.group_lmo.nm_lmo`),
    so Stochastic Frank-Wolfe iterates are mixtures of N:M sparse points and one-shot N:M
    pruning (`tf_sfw.pruning.nm`) removes little. L2 diameter
    :math:`2r\sqrt{\sum_b \min(N, |b|)}` (:math:`2r\sqrt{nN/M}` when M divides the input axis).

    Args:
        n: Non-zeros per block N (int >= 1), default 2.
        m: Block size M (int >= N), default 4 (2:4 sparsity).
        mode: "radius", "diameter" or "initialization"
            (:math:`r = \tau\,\mathbb{E}\|\theta_{init}\|_2 / \sqrt{\sum_b \min(N, |b|)}`).
        value: The radius, the L2 diameter, or :math:`\tau`.
        axis: The block (input) axis of tensors of rank >= 2, default -2 (``C_in`` of Dense
            and Conv kernels); rank-1 variables are cut along their only axis.
    """

    def __init__(self, n=2, m=4, mode="initialization", value=15.0, axis=-2):
        group_lmo._check_nm(n, m)
        self.n, self.m = n, m
        self.mode = mode
        self.value = set_sizes.check_mode_value(mode, value)
        self.axis = _check_axis(axis)

    def _size_count(self, shape):
        return group_lmo.nm_max_nonzeros(shape, self.n, self.m, self.axis)

    def lmo(self, gradient, selection=lmo_lib.DEFAULT_SELECTION):
        return group_lmo.nm_lmo(gradient, self.n, self.m, self.radius(gradient.shape), self.axis)

    def shift_inside(self, x):
        r"""Radial rescale :math:`x \cdot \min(1, r / \max_b \max(\|x_b\|_\infty, \|x_b\|_1/N))`
        (the identity on feasible points)."""
        x = tf.convert_to_tensor(x)
        gauge = group_lmo.nm_gauge(x, self.n, self.m, self.axis)
        return self._rescale(x, self.radius(x.shape), gauge)

    def get_config(self):
        return {"n": self.n, "m": self.m, "mode": self.mode, "value": self.value, "axis": self.axis}
