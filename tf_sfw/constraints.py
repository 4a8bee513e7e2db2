r"""Convex constraint sets for Stochastic Frank-Wolfe, one per trainable variable.

Each class is a small serializable object that validates its arguments and knows, for a
variable with ``n`` entries, its size parameters (``K``, radius ``r``, L2 diameter ``D``),
its linear minimization oracle (`tf_sfw.lmo`) and a feasible start (``shift_inside``).

Size of a set (``mode`` / ``value``):

* ``"radius"``: :math:`r` = value.
* ``"diameter"``: :math:`D` = value (the L2 diameter), :math:`r` derived from it.
* ``"initialization"``: :math:`D = 2\tau\,\mathbb{E}\|\theta_{init}\|_2` with :math:`\tau` = value, where
  the expectation is taken under the variable's OWN initializer (`expected_init_norm`). Such a
  constraint must be resolved against a model with `constraints_for_model`, which turns it
  into a ``"radius"`` constraint per variable.

A whole model gets its constraints from `constraints_for_model(model, default, overrides)`:
one default set, overridden per variable by regular expressions on the variable name
(e.g. ``{"batch_normalization": Unconstrained()}``). The result, `VariableConstraints`,
is what `tf_sfw.SFW` takes.
"""

import math
import re
import warnings

import numpy as np
import tensorflow as tf

from tf_sfw import lmo as lmo_lib
from tf_sfw._keras import keras

__all__ = [
    "MODES",
    "Constraint",
    "KSparsePolytope",
    "KSupportNormBall",
    "LpBall",
    "Unconstrained",
    "VariableConstraints",
    "constraints_for_model",
    "expected_init_norm",
    "make_feasible",
    "serialize",
    "deserialize",
]

MODES = ("radius", "diameter", "initialization")

_register = keras.saving.register_keras_serializable(package="tf_sfw")


def _check_mode_value(mode, value):
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
    name = {"radius": "radius", "diameter": "diameter", "initialization": "tau"}[mode]
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"`value` (the {name} for mode={mode!r}) must be a finite number > 0. "
            f"Received: value={value!r}"
        )
    return float(value)


def _check_k(k, k_frac):
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0):
        raise ValueError(f"`k` must be a positive integer or None. Received: k={k!r}")
    if k_frac is not None and (
        isinstance(k_frac, bool)
        or not isinstance(k_frac, (int, float))
        or not 0 < k_frac <= 1
    ):
        raise ValueError(f"`k_frac` must be in (0, 1]. Received: k_frac={k_frac!r}")
    if k is None and k_frac is None:
        raise ValueError("At least one of `k` and `k_frac` must be given. Received: k=None, k_frac=None")
    return (None if k is None else int(k)), (None if k_frac is None else float(k_frac))


def _num_elements(x):
    n = x.shape.num_elements()
    if n is None:
        raise ValueError(f"Constraints need variables of static shape. Received shape: {x.shape}")
    return n


def _radial_rescale(x, radius, size):
    """``x * min(1, radius / size)`` (``x`` unchanged when ``size`` is 0)."""
    ratio = tf.math.divide_no_nan(tf.constant(radius, dtype=x.dtype), tf.cast(size, x.dtype))
    return x * tf.where(size > 0, tf.minimum(tf.ones([], x.dtype), ratio), tf.ones([], x.dtype))


class Constraint:
    """Base class of the convex sets. Subclasses implement the methods below."""

    #: Whether SFW steps inside the set (False only for `Unconstrained`).
    is_constrained = True

    def radius(self, n):
        """Radius ``r`` of the set for a variable with ``n`` entries."""
        raise NotImplementedError

    def l2_diameter(self, n):
        """L2 diameter ``D`` of the set for ``n`` entries."""
        raise NotImplementedError

    def lmo(self, gradient, selection=lmo_lib.DEFAULT_SELECTION):
        """``argmin_{v in C} <gradient, v>`` (see `tf_sfw.lmo`)."""
        raise NotImplementedError

    def shift_inside(self, x):
        """A feasible point: ``x`` itself when feasible, else ``x`` radially rescaled into C."""
        raise NotImplementedError

    def resolve(self, n, init_norm):
        """This constraint with mode "initialization" turned into mode "radius"."""
        if getattr(self, "mode", None) != "initialization":
            return self
        norm = float(init_norm) if init_norm and init_norm > 0 else 1.0
        diameter = 2.0 * self.value * norm
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
            "against a model: use `tf_sfw.constraints_for_model(model, constraint)`, or give "
            "mode='radius' / 'diameter'."
        )

    def _radius_from_diameter(self, diameter, n):
        raise NotImplementedError

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


class _TopKSet(Constraint):
    """Shared K logic of the sets defined by the K largest entries."""

    def __init__(self, k, k_frac, mode, value):
        self.k, self.k_frac = _check_k(k, k_frac)
        self.mode = mode
        self.value = _check_mode_value(mode, value)

    def k_for(self, n):
        r"""K for a variable with ``n`` entries.

        both given: :math:`\min(\max(k, \lfloor k_{frac} n \rfloor), n)`; only ``k``:
        :math:`\min(k, n)`; only ``k_frac``: :math:`\lfloor k_{frac} n \rfloor`. The result is
        clamped to at least 1 (a tiny variable with :math:`\lfloor k_{frac} n\rfloor = 0`
        gets K = 1, where the reference code would produce the empty set K = 0).
        """
        if self.k_frac is None:
            k = self.k
        else:
            k = math.floor(self.k_frac * n)
            if self.k is not None:
                k = max(self.k, k)
        return max(1, min(k, n))

    def get_config(self):
        return {"k": self.k, "k_frac": self.k_frac, "mode": self.mode, "value": self.value}


@_register
class KSparsePolytope(_TopKSet):
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

    def radius(self, n):
        return self._radius_from_mode(n)

    def _radius_from_diameter(self, diameter, n):
        return diameter / (2.0 * math.sqrt(self.k_for(n)))

    def l2_diameter(self, n):
        return 2.0 * self.radius(n) * math.sqrt(self.k_for(n))

    def lmo(self, gradient, selection=lmo_lib.DEFAULT_SELECTION):
        n = _num_elements(gradient)
        return lmo_lib.k_sparse_lmo(gradient, self.k_for(n), self.radius(n), selection)

    def shift_inside(self, x):
        r"""Radial rescale :math:`x \cdot \min(1, r / \max(\|x\|_\infty, \|x\|_1/K))`.

        The identity on feasible points. (The reference code's variant
        ``f·r·x/max(‖x‖₁, ‖x‖∞)`` moves feasible points too; it is not used.)
        """
        n = _num_elements(x)
        k, r = self.k_for(n), self.radius(n)
        magnitudes = tf.abs(x)
        size = tf.maximum(tf.reduce_max(magnitudes), tf.reduce_sum(magnitudes) / k)
        return _radial_rescale(x, r, size)


@_register
class KSupportNormBall(_TopKSet):
    r"""The K-support norm ball of radius r (Zimmer et al. 2022, arXiv:2205.11921).

    Unit ball :math:`\mathrm{conv}\{x : \|x\|_0 \le K, \|x\|_2 \le 1\}`; L2 diameter :math:`2r`.
    Arguments as for `KSparsePolytope`.
    """

    def __init__(self, k=10, k_frac=0.05, mode="initialization", value=15.0):
        super().__init__(k, k_frac, mode, value)

    def radius(self, n):
        return self._radius_from_mode(n)

    def _radius_from_diameter(self, diameter, n):
        return diameter / 2.0

    def l2_diameter(self, n):
        return 2.0 * self.radius(n)

    def lmo(self, gradient, selection=lmo_lib.DEFAULT_SELECTION):
        n = _num_elements(gradient)
        return lmo_lib.k_support_lmo(gradient, self.k_for(n), self.radius(n), selection)

    def shift_inside(self, x):
        r"""Radial rescale by an upper bound of the K-support norm.

        Uses :math:`\|x\|^{sp}_K \le \min(\|x\|_1,\ 2\max(\|x\|_2, \|x\|_1/\sqrt{K}))`
        (Argyriou et al. 2012), so the result is always feasible; a point may be shrunk
        although it was already feasible (by at most a factor 2).
        """
        n = _num_elements(x)
        k, r = self.k_for(n), self.radius(n)
        l1 = tf.reduce_sum(tf.abs(x))
        bound = tf.minimum(l1, 2.0 * tf.maximum(tf.norm(x), l1 / math.sqrt(k)))
        return _radial_rescale(x, r, bound)


@_register
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
        if isinstance(p, bool) or not isinstance(p, (int, float)) or math.isnan(p) or p < 1:
            raise ValueError(f"`p` must be a number >= 1 or math.inf. Received: p={p!r}")
        self.p = float(p)
        self.mode = mode
        self.value = _check_mode_value(mode, value)

    def radius(self, n):
        return self._radius_from_mode(n)

    def _radius_from_diameter(self, diameter, n):
        return lmo_lib.lp_radius_from_l2_diameter(diameter, n, self.p)

    def l2_diameter(self, n):
        return lmo_lib.lp_ball_l2_diameter(self.radius(n), n, self.p)

    def lmo(self, gradient, selection=lmo_lib.DEFAULT_SELECTION):
        return lmo_lib.lp_ball_lmo(gradient, self.p, self.radius(_num_elements(gradient)))

    def shift_inside(self, x):
        r"""Radial rescale :math:`x \cdot \min(1, r/\|x\|_p)` (the identity on feasible points)."""
        r = self.radius(_num_elements(x))
        flat = tf.reshape(x, [-1])
        norm = tf.norm(flat, ord=np.inf if math.isinf(self.p) else self.p)
        return _radial_rescale(x, r, norm)

    def get_config(self):
        return {"p": "inf" if math.isinf(self.p) else self.p, "mode": self.mode, "value": self.value}


@_register
class Unconstrained(Constraint):
    """No constraint: `tf_sfw.SFW` updates such a variable by SGD with momentum."""

    is_constrained = False

    def radius(self, n):
        return math.inf

    def l2_diameter(self, n):
        return math.inf

    def lmo(self, gradient, selection=lmo_lib.DEFAULT_SELECTION):
        raise ValueError("An unconstrained variable has no linear minimization oracle.")

    def shift_inside(self, x):
        return x

    def resolve(self, n, init_norm):
        return self

    def get_config(self):
        return {}


def serialize(constraint):
    """Keras-serializable dict of a constraint."""
    return keras.saving.serialize_keras_object(constraint)


def deserialize(config):
    """Inverse of `serialize` (also accepts a `Constraint`, returned as is)."""
    if isinstance(config, (Constraint, VariableConstraints)):
        return config
    return keras.saving.deserialize_keras_object(config)


@_register
class VariableConstraints:
    """A constraint for each variable of a model, by variable name.

    Usually built by `constraints_for_model`. Every constraint in it is resolved (no mode
    "initialization"), so it carries everything `tf_sfw.SFW` needs to save and reload.

    Args:
        constraints: dict ``{variable name: Constraint or its serialized dict}``.
    """

    def __init__(self, constraints):
        if not isinstance(constraints, dict) or not constraints:
            raise ValueError(
                "`constraints` must be a non-empty dict {variable name: Constraint}. "
                f"Received: constraints={constraints!r}"
            )
        resolved = {}
        for name, constraint in constraints.items():
            constraint = deserialize(constraint)
            if not isinstance(constraint, Constraint):
                raise ValueError(
                    f"`constraints[{name!r}]` must be a Constraint. Received: {constraint!r}"
                )
            if getattr(constraint, "mode", None) == "initialization":
                raise ValueError(
                    f"`constraints[{name!r}]` has mode='initialization' and must be resolved "
                    "first: build VariableConstraints with `constraints_for_model`."
                )
            resolved[str(name)] = constraint
        self.constraints = resolved

    def for_variable(self, variable):
        """The constraint of ``variable`` (looked up by its name)."""
        name = variable.name
        if name not in self.constraints:
            raise ValueError(
                f"No constraint for variable {name!r}. Known variables: "
                f"{sorted(self.constraints)}. Build the constraints with "
                "`tf_sfw.constraints_for_model(model, ...)` from the model being trained."
            )
        return self.constraints[name]

    def items(self):
        return self.constraints.items()

    def get_config(self):
        return {"constraints": {name: serialize(c) for name, c in self.constraints.items()}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, VariableConstraints) and self.constraints == other.constraints

    def __repr__(self):
        return f"VariableConstraints({self.constraints!r})"


# --------------------------------------------------------------------------------------
# Expected norm of a variable under its initializer.

# Variance of N(0, 1) truncated to [-2, 2] (what Keras' truncated normals sample).
_TRUNCATED_NORMAL_VARIANCE = 1.0 - 4.0 * math.exp(-2.0) / math.sqrt(2.0 * math.pi) / math.erf(
    2.0 / math.sqrt(2.0)
)


def _fans(shape):
    """fan_in, fan_out as Keras' VarianceScaling computes them."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def _mean_square(initializer, shape):
    """E[x^2] of one entry under ``initializer``, or None when unknown."""
    init = keras.initializers.get(initializer)
    if not isinstance(init, keras.initializers.Initializer):
        return None
    cfg = init.get_config()
    if isinstance(init, keras.initializers.VarianceScaling):
        fan_in, fan_out = _fans(shape)
        # Glorot/He/LeCun subclasses do not put scale/mode in their config: read attributes.
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[init.mode]
        # Keras scales every distribution ("uniform", "truncated_normal",
        # "untruncated_normal") to variance scale / fan.
        return init.scale / max(1.0, fan)
    if isinstance(init, keras.initializers.Zeros):
        return 0.0
    if isinstance(init, keras.initializers.Ones):
        return 1.0
    if isinstance(init, keras.initializers.Constant):
        value = np.asarray(cfg["value"], dtype=np.float64)
        return float(np.mean(value**2)) if value.size else 0.0
    if isinstance(init, keras.initializers.TruncatedNormal):
        return cfg["mean"] ** 2 + cfg["stddev"] ** 2 * _TRUNCATED_NORMAL_VARIANCE
    if isinstance(init, keras.initializers.RandomNormal):
        return cfg["mean"] ** 2 + cfg["stddev"] ** 2
    if isinstance(init, keras.initializers.RandomUniform):
        a, b = cfg["minval"], cfg["maxval"]
        return (a * a + a * b + b * b) / 3.0
    if isinstance(init, (keras.initializers.Orthogonal, keras.initializers.Identity)):
        rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        cols = shape[-1] if shape else 1
        return cfg["gain"] ** 2 * min(rows, cols) / max(1, rows * cols)
    return None


def expected_init_norm(initializer, shape, num_samples=100):
    r"""Expected L2 norm of a tensor of ``shape`` drawn from ``initializer``.

    For the Keras initializers (VarianceScaling and its Glorot/He/LeCun forms, normal,
    truncated normal, uniform, constant, zeros, ones, orthogonal, identity) this is computed
    from the distribution as the root-mean-square norm :math:`\sqrt{n\,\mathbb{E}[x^2]}`,
    which equals :math:`\mathbb{E}\|\theta\|_2` up to a relative :math:`O(1/n)` (for a
    Gaussian, :math:`\mathbb{E}\|\theta\| = \sigma\sqrt{2}\,\Gamma(\frac{n+1}{2})/\Gamma(\frac n2)`
    and the two differ by less than :math:`1/(4n)`). For any other initializer the mean
    norm of ``num_samples`` draws is used (the reference code's method), with a warning.
    """
    shape = tuple(int(d) for d in shape)
    n = int(np.prod(shape)) if shape else 1
    mean_square = _mean_square(initializer, shape)
    if mean_square is not None:
        return math.sqrt(n * mean_square)
    init = keras.initializers.get(initializer)
    warnings.warn(
        f"No closed form for the expected norm under {type(init).__name__}; "
        f"estimating it from {num_samples} samples.",
        stacklevel=2,
    )
    config = init.get_config() if hasattr(init, "get_config") else {}
    if "seed" in config:  # an unseeded Keras initializer repeats its values: vary the seed
        draws = [type(init).from_config({**config, "seed": i})(shape) for i in range(num_samples)]
    else:
        draws = [init(shape) for _ in range(num_samples)]
    norms = [float(tf.norm(draw)) for draw in draws]
    return float(np.mean(norms))


def _iter_layers(layers):
    """All layers, nested models' layers included; a wrapper's inner layer (e.g. tfmot's
    pruning wrapper) comes before the wrapper, so that variables are attributed to it."""
    for layer in layers:
        if isinstance(layer, keras.layers.Wrapper):
            yield from _iter_layers([layer.layer])
        yield layer
        if hasattr(layer, "layers"):
            yield from _iter_layers(layer.layers)


def _variable_owners(model):
    """{variable name: (owning layer, initializer or None)}; the initializer is the layer's
    ``<weight>_initializer`` attribute."""
    result = {}
    for layer in _iter_layers(model.layers):
        for weight in layer.trainable_weights:
            short = weight.name.split("/")[-1].split(":")[0]
            result.setdefault(weight.name, (layer, getattr(layer, f"{short}_initializer", None)))
    return result


def constraints_for_model(model, default, overrides=None, init_norms=None):
    """Give every trainable variable of ``model`` a constraint.

    Args:
        model: A built Keras model (functional or Sequential), the one to be trained.
        default: The `Constraint` of every variable not matched by ``overrides``.
        overrides: Optional dict ``{key: Constraint}``; a key is a regular expression on
            the variable name (``re.search``) or a layer class (matches the variables of
            layers of that class). The first matching key wins, e.g.
            ``{keras.layers.BatchNormalization: Unconstrained(), "/bias:": Unconstrained()}``.
        init_norms: Optional dict ``{variable name: expected initial norm}`` for variables
            whose initializer is not known to their layer (custom layers).

    Returns:
        `VariableConstraints` with every mode "initialization" constraint resolved with the
        expected norm of the variable under its own layer's initializer (a zero expected norm,
        e.g. zero-initialised biases, uses 1.0).

    Raises:
        ValueError: on an unbuilt model, invalid arguments, or a variable needing an
            initializer that cannot be found.
    """
    if not isinstance(default, Constraint):
        raise ValueError(f"`default` must be a Constraint. Received: default={default!r}")
    overrides = dict(overrides or {})
    compiled = []
    for key, constraint in overrides.items():
        if not isinstance(constraint, Constraint):
            raise ValueError(f"`overrides[{key!r}]` must be a Constraint. Received: {constraint!r}")
        if isinstance(key, type) and issubclass(key, keras.layers.Layer):
            compiled.append((key, constraint))
            continue
        if not isinstance(key, str):
            raise ValueError(f"`overrides` keys must be regex strings or layer classes. Received: {key!r}")
        try:
            compiled.append((re.compile(key), constraint))
        except re.error as err:
            raise ValueError(f"`overrides` key {key!r} is not a valid regular expression: {err}") from err
    if not model.built or not model.trainable_variables:
        raise ValueError(f"`model` must be built and have trainable variables. Received: model={model.name!r}")
    init_norms = dict(init_norms or {})
    owners = _variable_owners(model)
    result = {}
    for variable in model.trainable_variables:
        layer, initializer = owners.get(variable.name, (None, None))
        constraint = default
        for key, candidate in compiled:
            if key.search(variable.name) if isinstance(key, re.Pattern) else isinstance(layer, key):
                constraint = candidate
                break
        n = _num_elements(variable)
        if getattr(constraint, "mode", None) == "initialization":
            if variable.name in init_norms:
                norm = float(init_norms[variable.name])
            elif initializer is not None:
                norm = expected_init_norm(initializer, variable.shape)
            else:
                raise ValueError(
                    f"Cannot find the initializer of variable {variable.name!r} for "
                    "mode='initialization'. Pass its expected norm in `init_norms`, or give it "
                    "a constraint with mode='radius' or 'diameter' in `overrides`."
                )
            constraint = constraint.resolve(n, norm)
        result[variable.name] = constraint
    return VariableConstraints(result)


def make_feasible(model_or_variables, constraints):
    """Move each variable into its set in place (`Constraint.shift_inside`).

    Args:
        model_or_variables: A Keras model (its trainable variables) or a list of variables.
        constraints: `VariableConstraints`, or one `Constraint` (not mode "initialization")
            for all variables.
    """
    variables = getattr(model_or_variables, "trainable_variables", model_or_variables)
    for variable in variables:
        constraint = (
            constraints.for_variable(variable) if isinstance(constraints, VariableConstraints) else constraints
        )
        variable.assign(constraint.shift_inside(tf.convert_to_tensor(variable)))
