r"""The convex sets of Stochastic Frank-Wolfe, written once for both Keras flavours.

Each class is a small object that validates its arguments and knows, for a variable with
``n`` entries, its size parameters (``K``, radius ``r``, L2 diameter ``D``), its linear
minimization oracle (`tf_sfw.lmo`) and a feasible start (``shift_inside``).

Size of a set (``mode`` / ``value``):

* ``"radius"``: :math:`r` = value.
* ``"diameter"``: :math:`D` = value (the L2 diameter), :math:`r` derived from it.
* ``"initialization"``: :math:`D = 2\tau\,\mathbb{E}\|\theta_{init}\|_2` with :math:`\tau` = value,
  the expectation taken under the variable's OWN initializer. Such a set must be resolved
  against a model (``constraints_for_model`` of its Keras flavour), which turns it into a
  ``"radius"`` set per variable.

This module imports neither TensorFlow nor Keras. The classes users see are thin
subclasses, one per flavour, that only register them with that flavour's serialization and
choose the array ops they run on: `tf_sfw.constraints` (tf_keras; TensorFlow ops) and
`tf_sfw.keras3.constraints` (Keras 3; ``keras.ops``).
"""

import math

from tf_sfw import lmo as lmo_lib
from tf_sfw import set_sizes
from tf_sfw.selection import DEFAULT_SELECTION, get_ops

__all__ = ["Constraint", "KSparsePolytope", "KSupportNormBall", "LpBall", "Unconstrained", "check_constraints"]


class Constraint:
    """Base class of the convex sets. Subclasses implement the methods below.

    Class attributes a flavour sets: ``ops``, the array-op namespace the LMOs and feasible
    starts run on (None: TensorFlow), and ``resolver``, the name of the function that
    resolves mode "initialization" (for error messages).
    """

    #: Whether SFW steps inside the set (False only for `Unconstrained`).
    is_constrained = True
    ops = None
    resolver = "constraints_for_model"

    def num_elements(self, x):
        """The static number of entries of ``x`` (ValueError when not fully static)."""
        return get_ops(self.ops).num_elements(x)

    def radius(self, n):
        """Radius ``r`` of the set for a variable with ``n`` entries."""
        return self._radius_from_mode(n)

    def l2_diameter(self, n):
        """L2 diameter ``D`` of the set for ``n`` entries."""
        raise NotImplementedError

    def lmo(self, gradient, selection=DEFAULT_SELECTION):
        """``argmin_{v in C} <gradient, v>`` (see `tf_sfw.lmo`)."""
        raise NotImplementedError

    def shift_inside(self, x):
        """A feasible point: ``x`` itself when feasible, else ``x`` radially rescaled into C."""
        raise NotImplementedError

    def resolve(self, n, init_norm):
        """This constraint with mode "initialization" turned into mode "radius"."""
        if getattr(self, "mode", None) != "initialization":
            return self
        diameter = set_sizes.initialization_diameter(self.value, init_norm)
        config = self.get_config()
        config.update(mode="radius", value=self._radius_from_diameter(diameter, n))
        return type(self)(**config)

    def _radius_from_mode(self, n):
        if self.mode == "radius":
            return self.value
        if self.mode == "diameter":
            return self._radius_from_diameter(self.value, n)
        raise ValueError(
            f"{type(self).__name__}(mode='initialization') has no radius until it is resolved "
            f"against a model: use `{self.resolver}(model, constraint)`, or give "
            "mode='radius' / 'diameter'."
        )

    def _radius_from_diameter(self, diameter, n):
        raise NotImplementedError

    def _rescale(self, x, radius, size):
        """``x * min(1, radius / size)`` (``x`` unchanged when ``size`` is 0)."""
        return lmo_lib.radial_rescale(x, radius, size, self.ops)

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class TopKSet(Constraint):
    """Shared K logic of the sets defined by the K largest entries (or groups)."""

    def __init__(self, k, k_frac, mode, value):
        self.k, self.k_frac = set_sizes.check_k(k, k_frac)
        self.mode = mode
        self.value = set_sizes.check_mode_value(mode, value)

    def k_for(self, n):
        r"""K for a variable with ``n`` entries.

        both given: :math:`\min(\max(k, \lfloor k_{frac} n \rfloor), n)`; only ``k``:
        :math:`\min(k, n)`; only ``k_frac``: :math:`\lfloor k_{frac} n \rfloor`. The result is
        clamped to at least 1 (a tiny variable with :math:`\lfloor k_{frac} n\rfloor = 0`
        gets K = 1, where the reference code would produce the empty set K = 0).
        """
        return set_sizes.k_for(self.k, self.k_frac, n)

    def get_config(self):
        return {"k": self.k, "k_frac": self.k_frac, "mode": self.mode, "value": self.value}


class KSparsePolytope(TopKSet):
    r"""The K-sparse polytope :math:`C = B_1(rK) \cap B_\infty(r)`.

    Its vertices have exactly K non-zeros, each :math:`\pm r`; its L2 diameter is
    :math:`D = 2r\sqrt{K}`.

    Args:
        k: Minimum number of non-zeros of the vertices (int >= 1) or None.
        k_frac: Fraction of the variable's entries (in (0, 1]) or None. With both,
            :math:`K = \min(\max(k, \lfloor k_{frac} n\rfloor), n)`.
        mode: "radius", "diameter" or "initialization" (see module docstring).
        value: The radius, the L2 diameter, or :math:`\tau` (mode "initialization", then
            :math:`r = \tau\,\mathbb{E}\|\theta_{init}\|_2/\sqrt{K}`).

    Defaults are the paper's setting: K = max(10, 5% of n), :math:`\tau = 15`.
    """

    def __init__(self, k=10, k_frac=0.05, mode="initialization", value=15.0):
        super().__init__(k, k_frac, mode, value)

    def _radius_from_diameter(self, diameter, n):
        return set_sizes.k_sparse_radius(diameter, self.k_for(n))

    def l2_diameter(self, n):
        return set_sizes.k_sparse_l2_diameter(self.radius(n), self.k_for(n))

    def lmo(self, gradient, selection=DEFAULT_SELECTION):
        n = self.num_elements(gradient)
        return lmo_lib.k_sparse_lmo(gradient, self.k_for(n), self.radius(n), selection, ops=self.ops)

    def shift_inside(self, x):
        r"""Radial rescale :math:`x \cdot \min(1, r / \max(\|x\|_\infty, \|x\|_1/K))`.

        The identity on feasible points. (The reference code's variant
        ``f·r·x/max(‖x‖₁, ‖x‖∞)`` moves feasible points too; it is not used.)
        """
        n = self.num_elements(x)
        return self._rescale(x, self.radius(n), lmo_lib.k_sparse_gauge(x, self.k_for(n), self.ops))


class KSupportNormBall(TopKSet):
    r"""The K-support norm ball of radius r (Zimmer, Spiegel, Pokutta 2022, "Compression-aware
    Training of Neural Networks using Frank-Wolfe").

    Unit ball :math:`\mathrm{conv}\{x : \|x\|_0 \le K, \|x\|_2 \le 1\}`; L2 diameter :math:`2r`.
    Arguments as for `KSparsePolytope`.
    """

    def __init__(self, k=10, k_frac=0.05, mode="initialization", value=15.0):
        super().__init__(k, k_frac, mode, value)

    def _radius_from_diameter(self, diameter, n):
        return diameter / 2.0

    def l2_diameter(self, n):
        return 2.0 * self.radius(n)

    def lmo(self, gradient, selection=DEFAULT_SELECTION):
        n = self.num_elements(gradient)
        return lmo_lib.k_support_lmo(gradient, self.k_for(n), self.radius(n), selection, ops=self.ops)

    def shift_inside(self, x):
        r"""Radial rescale by an upper bound of the K-support norm.

        Uses :math:`\|x\|^{sp}_K \le \min(\|x\|_1,\ 2\max(\|x\|_2, \|x\|_1/\sqrt{K}))`
        (Argyriou et al. 2012), so the result is always feasible; a point may be shrunk
        although it was already feasible (by at most a factor 2).
        """
        n = self.num_elements(x)
        return self._rescale(x, self.radius(n), lmo_lib.k_support_norm_bound(x, self.k_for(n), self.ops))


class LpBall(Constraint):
    r"""The Lp ball :math:`\{x : \|x\|_p \le r\}` for any order ``p >= 1`` (``math.inf`` allowed).

    With mode "diameter" / "initialization", ``D`` is the L2 diameter and the radius is
    converted with `tf_sfw.lmo.lp_radius_from_l2_diameter` (the reference's rule).

    Args:
        p: Order, a number >= 1 or ``math.inf`` (``"inf"`` accepted).
        mode: "radius", "diameter" or "initialization".
        value: The radius, the L2 diameter, or :math:`\tau`.
    """

    def __init__(self, p=2.0, mode="initialization", value=15.0):
        if isinstance(p, str) and p.lower() in ("inf", "infinity"):
            p = math.inf
        self.p = lmo_lib.check_order(p)
        self.mode = mode
        self.value = set_sizes.check_mode_value(mode, value)

    def _radius_from_diameter(self, diameter, n):
        return lmo_lib.lp_radius_from_l2_diameter(diameter, n, self.p)

    def l2_diameter(self, n):
        return lmo_lib.lp_ball_l2_diameter(self.radius(n), n, self.p)

    def lmo(self, gradient, selection=DEFAULT_SELECTION):
        return lmo_lib.lp_ball_lmo(gradient, self.p, self.radius(self.num_elements(gradient)), ops=self.ops)

    def shift_inside(self, x):
        r"""Radial rescale :math:`x \cdot \min(1, r/\|x\|_p)` (the identity on feasible points)."""
        return self._rescale(x, self.radius(self.num_elements(x)), lmo_lib.lp_norm(x, self.p, self.ops))

    def get_config(self):
        return {"p": "inf" if math.isinf(self.p) else self.p, "mode": self.mode, "value": self.value}


class Unconstrained(Constraint):
    """No constraint: the SFW optimizer updates such a variable by SGD with momentum."""

    is_constrained = False

    def radius(self, n):
        return math.inf

    def l2_diameter(self, n):
        return math.inf

    def lmo(self, gradient, selection=DEFAULT_SELECTION):
        raise ValueError("An unconstrained variable has no linear minimization oracle.")

    def shift_inside(self, x):
        return x

    def resolve(self, n, init_norm):
        return self

    def get_config(self):
        return {}


def check_constraints(constraints, name, constraint_class, per_variable_class):
    """``constraints`` if it is a ``per_variable_class`` (a flavour's ``VariableConstraints``)
    or one ``constraint_class`` usable for every variable: not mode "initialization", which
    needs the model's initializers (``constraint_class.resolver``)."""
    if isinstance(constraints, constraint_class):
        if getattr(constraints, "mode", None) == "initialization":
            raise ValueError(
                "A single constraint with mode='initialization' needs the model's initializers: "
                f"use `{constraint_class.resolver}(model, constraint)`. Received: {name}={constraints!r}"
            )
        return constraints
    if not isinstance(constraints, per_variable_class):
        raise ValueError(f"`{name}` must be a VariableConstraints or a Constraint. Received: {name}={constraints!r}")
    return constraints
