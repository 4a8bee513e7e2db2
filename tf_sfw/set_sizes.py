r"""Sizes of the constraint sets, written once for the tf_keras and Keras 3 constraint classes.

Pure Python (no TensorFlow, no Keras): argument checks, :math:`K` for a variable of ``n``
entries, and the radius / L2-diameter relations of each set:

* K-sparse polytope :math:`B_1(rK) \cap B_\infty(r)`: :math:`D = 2r\sqrt{K}`;
* K-support norm ball of radius :math:`r`: :math:`D = 2r`;
* mode "initialization": :math:`D = 2\tau\,\mathbb{E}\|\theta_{init}\|_2` (a zero expected
  norm counts as 1).

(Pokutta, Spiegel, Zimmer 2020, "Deep Neural Network Training with Frank-Wolfe".)
"""

import math

from tf_sfw import validation

__all__ = [
    "MODES",
    "check_mode_value",
    "check_k",
    "k_for",
    "k_sparse_radius",
    "k_sparse_l2_diameter",
    "initialization_diameter",
]

MODES = ("radius", "diameter", "initialization")


def check_mode_value(mode, value):
    """Returns ``float(value)`` after checking ``mode`` and that ``value`` is > 0."""
    validation.check_choice(mode, "mode", MODES)
    name = {"radius": "radius", "diameter": "diameter", "initialization": "tau"}[mode]
    try:
        return validation.check_positive_number(value, "value")
    except ValueError:
        raise ValueError(
            f"`value` (the {name} for mode={mode!r}) must be a finite number > 0. "
            + validation.received("value", value)
        ) from None


def check_k(k, k_frac):
    """Returns ``(k, k_frac)`` checked: an int >= 1, a fraction in (0, 1], at least one given."""
    if k is not None:
        k = validation.check_positive_int(k, "k")
    if k_frac is not None:
        k_frac = validation.check_number(k_frac, "k_frac", low=0.0, high=1.0, low_open=True)
    if k is None and k_frac is None:
        raise ValueError("At least one of `k` and `k_frac` must be given. Received: k=None, k_frac=None")
    return k, k_frac


def k_for(k, k_frac, n):
    r"""K for a variable with ``n`` entries.

    both given: :math:`\min(\max(k, \lfloor k_{frac} n \rfloor), n)`; only ``k``:
    :math:`\min(k, n)`; only ``k_frac``: :math:`\lfloor k_{frac} n \rfloor`. The result is
    clamped to at least 1 (a tiny variable with :math:`\lfloor k_{frac} n\rfloor = 0` gets
    K = 1, where the reference code would produce the empty set K = 0).
    """
    if k_frac is None:
        result = k
    else:
        result = math.floor(k_frac * n)
        if k is not None:
            result = max(k, result)
    return max(1, min(result, n))


def k_sparse_radius(diameter, k):
    r"""Radius of the K-sparse polytope of L2 diameter ``D``: :math:`r = D / (2\sqrt{K})`."""
    return diameter / (2.0 * math.sqrt(k))


def k_sparse_l2_diameter(radius, k):
    r"""L2 diameter of the K-sparse polytope of radius ``r``: :math:`D = 2r\sqrt{K}`."""
    return 2.0 * radius * math.sqrt(k)


def initialization_diameter(tau, init_norm):
    r""":math:`D = 2\tau\,\mathbb{E}\|\theta_{init}\|_2` (a missing or zero norm counts as 1)."""
    norm = float(init_norm) if init_norm and init_norm > 0 else 1.0
    return 2.0 * tau * norm
