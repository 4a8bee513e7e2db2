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
one default set, overridden per variable by regular expressions on the variable name or
path, or by layer class (e.g. ``{keras.layers.BatchNormalization: Unconstrained()}``). The
result, `VariableConstraints`, holds one constraint per variable (keyed by its path in the
layer hierarchy, matched by identity) and is what `tf_sfw.SFW` takes.
"""

import math
import re

import tensorflow as tf

from tf_sfw import init_norms as init_norms_lib
from tf_sfw import set_sizes, sets
from tf_sfw._keras import keras
from tf_sfw.variables import short_name

__all__ = [
    "MODES",
    "Constraint",
    "KSparsePolytope",
    "KSupportNormBall",
    "LpBall",
    "Unconstrained",
    "VariableConstraints",
    "check_constraints",
    "constraints_for_model",
    "constraints_per_variable",
    "expected_init_norm",
    "expected_init_norms",
    "make_feasible",
    "serialize",
    "deserialize",
]

MODES = set_sizes.MODES

_register = keras.saving.register_keras_serializable(package="tf_sfw")


class Constraint(sets.Constraint):
    """Base class of the tf_keras convex sets (the math: `tf_sfw.sets.Constraint`)."""

    resolver = "tf_sfw.constraints_for_model"


class _TopKSet(sets.TopKSet, Constraint):
    """Shared K logic of the sets defined by the K largest entries (or groups)."""


@_register
class KSparsePolytope(sets.KSparsePolytope, _TopKSet):
    __doc__ = sets.KSparsePolytope.__doc__


@_register
class KSupportNormBall(sets.KSupportNormBall, _TopKSet):
    __doc__ = sets.KSupportNormBall.__doc__


@_register
class LpBall(sets.LpBall, Constraint):
    __doc__ = sets.LpBall.__doc__


@_register
class Unconstrained(sets.Unconstrained, Constraint):
    """No constraint: `tf_sfw.SFW` updates such a variable by SGD with momentum."""


def serialize(constraint):
    """Keras-serializable dict of a constraint."""
    return keras.saving.serialize_keras_object(constraint)


def deserialize(config):
    """Inverse of `serialize` (also accepts a `Constraint`, returned as is)."""
    if isinstance(config, (Constraint, VariableConstraints)):
        return config
    return keras.saving.deserialize_keras_object(config)


_short_name = short_name  # the one definition: tf_sfw.variables.short_name


@_register
class VariableConstraints:
    """A constraint for each trainable variable of a model.

    Usually built by `constraints_for_model`, which keys every variable by a unique path
    built from the layer hierarchy (``"outer/inner/fc/kernel"``; ``"fc/kernel"`` in a flat
    model) and also remembers the variable objects themselves. Every constraint in it is
    resolved (no mode "initialization"), so it carries everything `tf_sfw.SFW` needs to
    save and reload.

    Variables are matched to their constraint (`for_variable`, `for_variables`):

    1. by identity, for the variables `constraints_for_model` was called on;
    2. otherwise (e.g. after the optimizer was reloaded from its config) by
       ``variable.name`` when exactly one entry has that name;
    3. otherwise, for a whole list of variables (`for_variables`, what `tf_sfw.SFW` uses),
       by position when the list has one variable per entry, in order, with the same
       short names (``kernel``, ``bias``, ...) and shapes -- which is the case for a model
       reloaded from ``.keras`` whose variables have lost their scopes (tfmot's wrappers
       name every kernel ``kernel:0``).

    Anything else is refused with an error: two variables are never silently given the
    same entry because their names are equal.

    Args:
        constraints: dict ``{key: Constraint or its serialized dict}``, keys unique (paths
            from `constraints_for_model`, or variable names).
        names: Optional list with the ``variable.name`` of each entry, in order (default:
            the keys).
        shapes: Optional list with the shape of each entry's variable, in order.
    """

    def __init__(self, constraints, names=None, shapes=None):
        if not isinstance(constraints, dict) or not constraints:
            raise ValueError(
                "`constraints` must be a non-empty dict {variable path: Constraint}. "
                f"Received: constraints={constraints!r}"
            )
        resolved = {}
        for key, constraint in constraints.items():
            constraint = deserialize(constraint)
            if not isinstance(constraint, Constraint):
                raise ValueError(
                    f"`constraints[{key!r}]` must be a Constraint. Received: {constraint!r}"
                )
            if getattr(constraint, "mode", None) == "initialization":
                raise ValueError(
                    f"`constraints[{key!r}]` has mode='initialization' and must be resolved "
                    "first: build VariableConstraints with `constraints_for_model`."
                )
            resolved[str(key)] = constraint
        self.constraints = resolved
        keys = list(resolved)
        if names is None:
            names = keys
        if not isinstance(names, (list, tuple)) or len(names) != len(keys):
            raise ValueError(
                f"`names` must be a list with one variable name per constraint ({len(keys)}). "
                f"Received: names={names!r}"
            )
        if shapes is not None and (not isinstance(shapes, (list, tuple)) or len(shapes) != len(keys)):
            raise ValueError(
                f"`shapes` must be a list with one shape per constraint ({len(keys)}). "
                f"Received: shapes={shapes!r}"
            )
        self.names = [str(n) for n in names]
        self.shapes = None if shapes is None else [[int(d) for d in shape] for shape in shapes]
        self._by_ref = {}  # variable.ref() -> key; set by `constraints_for_model`, not serialized

    def _bind(self, variables):
        """Remembers ``variables`` (one per entry, in order) by identity."""
        self._by_ref = {v.ref(): key for v, key in zip(variables, self.constraints)}
        return self

    def _key_by_name(self, variable):
        matches = [key for key, name in zip(self.constraints, self.names) if name == variable.name]
        return matches[0] if len(matches) == 1 else matches

    def _unknown(self, variable, matches):
        if matches:
            return ValueError(
                f"Variable name {variable.name!r} matches {len(matches)} constraints ({matches}): "
                "several variables share this name (two sub-models with a layer of the same "
                "name, or a model reloaded from .keras). Build the constraints with "
                "`tf_sfw.constraints_for_model(model, ...)` from the model being trained, which "
                "keys every variable by identity."
            )
        return ValueError(
            f"No constraint for variable {variable.name!r}. Known variables: "
            f"{list(self.constraints)}. Build the constraints with "
            "`tf_sfw.constraints_for_model(model, ...)` from the model being trained."
        )

    def for_variable(self, variable):
        """The constraint of ``variable``: by identity, else by its (unique) name."""
        key = self._by_ref.get(variable.ref())
        if key is None:
            key = self._key_by_name(variable)
            if isinstance(key, list):
                raise self._unknown(variable, key)
        return self.constraints[key]

    def _matches_in_order(self, variables):
        if len(variables) != len(self.constraints):
            return False
        for i, variable in enumerate(variables):
            if _short_name(variable.name) != _short_name(self.names[i]):
                return False
            if self.shapes is not None and list(variable.shape) != self.shapes[i]:
                return False
        return True

    def for_variables(self, variables):
        """The constraints of a list of variables, in order (see the class docstring)."""
        variables = list(variables)
        result = []
        in_order = None
        for i, variable in enumerate(variables):
            key = self._by_ref.get(variable.ref())
            if key is None:
                key = self._key_by_name(variable)
            if isinstance(key, list):
                if in_order is None:
                    in_order = self._matches_in_order(variables)
                if not in_order:
                    raise self._unknown(variable, key)
                key = list(self.constraints)[i]
            result.append(self.constraints[key])
        return result

    def items(self):
        return self.constraints.items()

    def get_config(self):
        config = {"constraints": {key: serialize(c) for key, c in self.constraints.items()}, "names": list(self.names)}
        if self.shapes is not None:
            config["shapes"] = [list(shape) for shape in self.shapes]
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, VariableConstraints) and self.constraints == other.constraints

    def __repr__(self):
        return f"VariableConstraints({self.constraints!r})"


# --------------------------------------------------------------------------------------
# Expected norm of a variable under its initializer.

def _mean_square(initializer, shape):
    """E[x^2] of one entry under ``initializer``, or None when unknown (`tf_sfw.init_norms`)."""
    return init_norms_lib.mean_square(initializer, shape, keras)


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
    return init_norms_lib.expected_norm(
        initializer, shape, keras, lambda draw: float(tf.norm(draw)), num_samples=num_samples
    )


def _sublayers(layer):
    """The layers directly below ``layer`` (sub-models' layers, a wrapper's inner layer,
    an RNN's cell, ...), as Keras tracks them."""
    if hasattr(layer, "_flatten_layers"):
        return list(layer._flatten_layers(include_self=False, recursive=False))
    return list(getattr(layer, "layers", []))


def _iter_layers(model):
    """``(layer, path, depth)`` for ``model`` and every layer below it, parents first.

    ``path`` joins the layer names below ``model`` with "/" (``""`` for ``model`` itself),
    e.g. ``"encoder/block1/fc"`` for a layer ``fc`` of a sub-model ``block1`` of a sub-model
    ``encoder``.
    """
    stack = [(model, "", 0)]
    while stack:
        layer, path, depth = stack.pop()
        yield layer, path, depth
        children = [(child, f"{path}/{child.name}" if path else child.name, depth + 1) for child in _sublayers(layer)]
        stack.extend(reversed(children))


def _own_trainable_weights(layer):
    """The trainable weights ``layer`` created itself (not those of its sub-layers)."""
    own = getattr(layer, "_trainable_weights", None)
    return list(own) if own is not None else list(layer.trainable_weights)


def _attribute_of(layer, variable):
    """Name of the attribute of ``layer`` holding ``variable`` (else the variable's short name)."""
    for attribute, value in vars(layer).items():
        if isinstance(value, tf.Variable) and value is variable:
            return attribute.lstrip("_")
    return _short_name(variable.name)


def _initializer_attribute(layer, attribute):
    return init_norms_lib.initializer_attribute(layer, attribute, keras)


class _VariableInfo:
    """A trainable variable of a model with its unique path, owning layer and attribute."""

    __slots__ = ("variable", "path", "layer", "attribute")

    def __init__(self, variable, path, layer, attribute):
        self.variable, self.path, self.layer, self.attribute = variable, path, layer, attribute

    def initializer(self):
        """The layer's initializer of this variable, or None."""
        if self.layer is None:
            return None
        return getattr(self.layer, _initializer_attribute(self.layer, self.attribute), None)

    def expected_norm(self):
        r""":math:`\mathbb{E}\|\theta_{init}\|_2` under the variable's own initializer, or None."""
        layer, shape = self.layer, tuple(int(d) for d in self.variable.shape)
        lstm_cell = getattr(keras.layers, "LSTMCell", ())
        if (
            isinstance(layer, lstm_cell)
            and self.attribute == "bias"
            and getattr(layer, "unit_forget_bias", False)
            and len(shape) == 1
        ):
            # LSTM bias = [b_i, 1 (forget gate), b_c, b_o], each of `units` entries.
            units = shape[0] // 4
            rest = _mean_square(layer.bias_initializer, (units,))
            if rest is not None:
                return math.sqrt(units * (1.0 + 3.0 * rest))
        initializer = self.initializer()
        if initializer is None:
            return None
        return expected_init_norm(initializer, shape)


def _variable_table(model):
    """`_VariableInfo` of every trainable variable of ``model``, in
    ``model.trainable_variables`` order.

    Each variable is attributed to the innermost layer that created it (a sub-model's
    layer rather than the sub-model, the inner layer of a wrapper such as tfmot's pruning
    wrapper rather than the wrapper, an RNN's cell rather than the RNN). Its path is that
    layer's path below ``model`` and the variable's short name (``"encoder/fc/kernel"``),
    made unique with a ``#i`` suffix should two ever coincide.
    """
    owners = {}  # variable.ref() -> (depth, layer, path)
    layers = list(_iter_layers(model))
    for layer, path, depth in layers:
        for weight in _own_trainable_weights(layer):
            known = owners.get(weight.ref())
            if known is None or depth > known[0]:
                owners[weight.ref()] = (depth, layer, path)
    table, seen = [], set()
    for variable in model.trainable_variables:
        owner = owners.get(variable.ref())
        if owner is None:  # a variable tracked in an unusual way: the deepest layer listing it
            listing = [(d, l, p) for l, p, d in layers if any(w is variable for w in l.trainable_weights)]
            owner = max(listing, key=lambda item: item[0]) if listing else (0, None, "")
        _, layer, layer_path = owner
        short = _short_name(variable.name)
        path = f"{layer_path}/{short}" if layer_path else short
        unique, i = path, 1
        while unique in seen:
            unique, i = f"{path}#{i}", i + 1
        seen.add(unique)
        attribute = _attribute_of(layer, variable) if layer is not None else short
        table.append(_VariableInfo(variable, unique, layer, attribute))
    return table


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise ValueError(
            "`model` must be a tf_keras Model (functional, Sequential or subclassed). "
            f"Received: model={model!r:.200} of type {type(model).__name__}"
        )
    if not model.built or not model.trainable_variables:
        raise ValueError(f"`model` must be built and have trainable variables. Received: model={model.name!r}")


def constraints_for_model(model, default, overrides=None, init_norms=None):
    """Give every trainable variable of ``model`` a constraint.

    Every variable gets its own entry, keyed by its path in the layer hierarchy (e.g.
    ``"encoder/fc/kernel"``; ``"fc/kernel"`` in a flat model), even where variable names
    coincide (two sub-models with a layer ``fc``; tfmot-wrapped models reloaded from
    ``.keras``, whose kernels are all named ``kernel:0``).

    Args:
        model: A built Keras model (functional, Sequential or subclassed, possibly with
            nested sub-models or wrapped layers), the one to be trained.
        default: The `Constraint` of every variable not matched by ``overrides``.
        overrides: Optional dict ``{key: Constraint}``; a key is a regular expression
            searched (``re.search``) in the variable name and in its path, or a layer class
            (matches the variables owned by layers of that class). The first matching key
            wins, e.g. ``{keras.layers.BatchNormalization: Unconstrained(), "/bias": Unconstrained()}``.
        init_norms: Optional dict ``{variable path or name: expected initial norm}`` for
            variables whose initializer is not known to their layer (custom layers).

    Returns:
        `VariableConstraints` with every mode "initialization" constraint resolved with the
        expected norm of the variable under its own layer's initializer (a zero expected norm,
        e.g. zero-initialised biases, uses 1.0). The initializer of ``layer.<weight>`` is
        ``layer.<weight>_initializer``, except for depthwise kernels
        (``depthwise_initializer``), separable convolutions' pointwise kernels
        (``pointwise_initializer``) and recurrent kernels of SimpleRNN/GRU/LSTM cells
        (``recurrent_initializer``); an LSTM bias with ``unit_forget_bias`` counts its ones.

    Raises:
        ValueError: on a non-model or unbuilt model, invalid arguments, or a variable
            needing an initializer that cannot be found (the message names the variable,
            its layer and the attribute looked up).
    """
    _check_model(model)
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
    init_norms = dict(init_norms or {})
    result, names, shapes, variables = {}, [], [], []
    for info in _variable_table(model):
        variable, path, layer = info.variable, info.path, info.layer
        constraint = default
        for key, candidate in compiled:
            if isinstance(key, re.Pattern):
                matched = key.search(variable.name) or key.search(path)
            else:
                matched = isinstance(layer, key)
            if matched:
                constraint = candidate
                break
        if getattr(constraint, "mode", None) == "initialization":
            norm = _init_norm(info, init_norms)
            if norm is None:
                where = "no layer" if layer is None else f"layer {layer.name!r} ({type(layer).__name__})"
                looked = "" if layer is None else f" (looked up `{_initializer_attribute(layer, info.attribute)}`)"
                raise ValueError(
                    f"Cannot find the initializer of variable {path!r} ({variable.name!r}) of {where}"
                    f"{looked} for mode='initialization'. Pass its expected norm in "
                    f"`init_norms={{{path!r}: ...}}`, or give it a constraint with mode='radius' or "
                    "'diameter' in `overrides`."
                )
            constraint = constraint.resolve(constraint.num_elements(variable), norm)
        result[path] = constraint
        names.append(variable.name)
        shapes.append([int(d) for d in variable.shape])
        variables.append(variable)
    return VariableConstraints(result, names=names, shapes=shapes)._bind(variables)


def _init_norm(info, init_norms):
    """The expected initial norm of ``info``'s variable: from ``init_norms`` (by path, then
    by variable name), else under its own initializer (None when unknown)."""
    if info.path in init_norms:
        return float(init_norms[info.path])
    if info.variable.name in init_norms:
        return float(init_norms[info.variable.name])
    return info.expected_norm()


def expected_init_norms(model, init_norms=None):
    r""":math:`\mathbb{E}\|\theta_{init}\|_2` of every trainable variable of ``model``.

    The values `constraints_for_model` resolves mode "initialization" with (the variable's
    own layer's initializer; ``init_norms`` ``{variable path or name: norm}`` overrides).

    Returns:
        List in ``model.trainable_variables`` order; None where no initializer is known.
    """
    init_norms = dict(init_norms or {})
    return [_init_norm(info, init_norms) for info in _variable_table(model)]


def check_constraints(constraints, name="constraints"):
    """Returns ``constraints`` if it is a `VariableConstraints` or a single `Constraint`
    usable for every variable (not mode "initialization", which needs a model)."""
    return sets.check_constraints(constraints, name, Constraint, VariableConstraints)


def constraints_per_variable(constraints, variables):
    """One constraint per variable, in order: `VariableConstraints.for_variables`, or the
    single `Constraint` (checked by `check_constraints`) repeated."""
    variables = list(variables)
    if isinstance(check_constraints(constraints), VariableConstraints):
        return constraints.for_variables(variables)
    return [constraints] * len(variables)


def make_feasible(model_or_variables, constraints):
    """Move each variable into its set in place (`Constraint.shift_inside`).

    Args:
        model_or_variables: A Keras model (its trainable variables) or a list of variables.
        constraints: `VariableConstraints`, or one `Constraint` (not mode "initialization")
            for all variables.
    """
    variables = list(getattr(model_or_variables, "trainable_variables", model_or_variables))
    for variable, constraint in zip(variables, constraints_per_variable(constraints, variables)):
        variable.assign(constraint.shift_inside(tf.convert_to_tensor(variable)))
