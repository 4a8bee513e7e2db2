r"""Constraint sets for `tf_sfw.keras3.SFW`: the sets of `tf_sfw.constraints` for Keras 3.

The classes of `tf_sfw.sets` (the same arguments, validation, sizes, LMOs and feasible starts
as the tf_keras ones), run over ``keras.ops`` through `tf_sfw.keras3._ops` and registered with
Keras 3's serialization. `constraints_for_model`
resolves mode "initialization" with the expected norm of every variable under its own
layer's Keras 3 initializer, in closed form (`tf_sfw.init_norms`).

Sets: the K-sparse polytope :math:`B_1(rK) \cap B_\infty(r)` (Pokutta, Spiegel, Zimmer 2020,
"Deep Neural Network Training with Frank-Wolfe"), the K-support norm ball, Lp balls, and
`Unconstrained` (SGD with momentum).
"""

import re

import keras
import numpy as np

from tf_sfw import init_norms as init_norms_lib
from tf_sfw import sets
from tf_sfw.keras3 import _ops

__all__ = [
    "Constraint",
    "KSparsePolytope",
    "KSupportNormBall",
    "LpBall",
    "Unconstrained",
    "VariableConstraints",
    "constraints_for_model",
    "expected_init_norm",
]

_register = keras.saving.register_keras_serializable(package="tf_sfw.keras3")


class Constraint(sets.Constraint):
    """Base class of the Keras 3 convex sets (the math: `tf_sfw.sets.Constraint`, over ``keras.ops``)."""

    ops = _ops
    resolver = "tf_sfw.keras3.constraints_for_model"


class _TopKSet(sets.TopKSet, Constraint):
    """Shared K logic of the sets defined by the K largest entries."""


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
    """No constraint: `tf_sfw.keras3.SFW` updates such a variable by SGD with momentum."""


def _deserialize(config):
    if isinstance(config, (Constraint, VariableConstraints)):
        return config
    return keras.saving.deserialize_keras_object(config)


@_register
class VariableConstraints:
    """A constraint for each trainable variable of a Keras 3 model, keyed by ``variable.path``
    (``"sequential/dense/kernel"``). Built by `constraints_for_model`; every entry is resolved.

    A variable is matched by its path, else by the one key that is its path with leading
    scopes added or removed: a model reloaded from ``.keras`` names its variables without
    the model's own scope (``"dense/kernel"``). Anything else (no or several such keys) is
    refused with an error.
    """

    def __init__(self, constraints):
        if not isinstance(constraints, dict) or not constraints:
            raise ValueError(
                "`constraints` must be a non-empty dict {variable path: Constraint}. "
                f"Received: constraints={constraints!r}"
            )
        resolved = {}
        for key, constraint in constraints.items():
            constraint = _deserialize(constraint)
            if not isinstance(constraint, Constraint):
                raise ValueError(f"`constraints[{key!r}]` must be a Constraint. Received: {constraint!r}")
            if getattr(constraint, "mode", None) == "initialization":
                raise ValueError(
                    f"`constraints[{key!r}]` has mode='initialization' and must be resolved "
                    "first: build VariableConstraints with `constraints_for_model`."
                )
            resolved[str(key)] = constraint
        self.constraints = resolved

    def for_variable(self, variable):
        """The constraint of ``variable``, by its path."""
        path = variable.path
        if path in self.constraints:
            return self.constraints[path]
        matches = [key for key in self.constraints if key.endswith("/" + path) or path.endswith("/" + key)]
        if len(matches) == 1:
            return self.constraints[matches[0]]
        if matches:
            raise ValueError(f"Variable path {path!r} matches several constraints: {matches}.")
        raise ValueError(
            f"No constraint for variable {path!r}. Known variables: {list(self.constraints)}. "
            "Build the constraints with `tf_sfw.keras3.constraints_for_model(model, ...)` "
            "from the model being trained."
        )

    def items(self):
        return self.constraints.items()

    def get_config(self):
        return {"constraints": {k: keras.saving.serialize_keras_object(c) for k, c in self.constraints.items()}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, VariableConstraints) and self.constraints == other.constraints

    def __repr__(self):
        return f"VariableConstraints({self.constraints!r})"


def check_constraints(constraints, name="constraints"):
    """``constraints`` (deserialized) if it is a `VariableConstraints` or one `Constraint`
    usable for every variable (not mode "initialization")."""
    return sets.check_constraints(_deserialize(constraints), name, Constraint, VariableConstraints)


def constraints_per_variable(constraints, variables):
    """One constraint per variable, in order."""
    constraints = check_constraints(constraints)
    if isinstance(constraints, VariableConstraints):
        return [constraints.for_variable(v) for v in variables]
    return [constraints] * len(list(variables))


def expected_init_norm(initializer, shape, num_samples=100):
    r"""Expected L2 norm of a tensor of ``shape`` drawn from the Keras 3 ``initializer``
    (closed forms of `tf_sfw.init_norms`; sampled, with a warning, for others)."""

    def draw_norm(draw):
        return float(np.linalg.norm(keras.ops.convert_to_numpy(draw).astype(np.float64)))

    return init_norms_lib.expected_norm(initializer, shape, keras, draw_norm, num_samples=num_samples)


def _owners(model):
    """``{id(variable): (layer, attribute)}``: the innermost layer holding each trainable
    variable as an attribute (``layer.kernel`` -> ``"kernel"``)."""
    owners = {}
    for layer in [model] + list(model._flatten_layers(include_self=False, recursive=True)):
        for attribute, value in vars(layer).items():
            if isinstance(value, keras.Variable) and value.trainable:
                owners[id(value)] = (layer, attribute.lstrip("_"))
    return owners


def _expected_norm(variable, owner):
    if owner is None:
        return None
    layer, attribute = owner
    initializer = getattr(layer, init_norms_lib.initializer_attribute(layer, attribute, keras), None)
    if initializer is None:
        return None
    return expected_init_norm(initializer, tuple(variable.shape))


def constraints_for_model(model, default, overrides=None, init_norms=None):
    """Give every trainable variable of a built Keras 3 ``model`` a constraint.

    Args:
        model: A built ``keras.Model``.
        default: The `Constraint` of every variable not matched by ``overrides``.
        overrides: Optional dict ``{key: Constraint}``; a key is a regular expression
            searched in the variable path (``"dense_1/bias"``) or a layer class (matches the
            variables of layers of that class). The first matching key wins.
        init_norms: Optional dict ``{variable path: expected initial norm}`` for variables
            whose initializer is not known to their layer.

    Returns:
        `VariableConstraints` keyed by variable path, mode "initialization" resolved with the
        expected norm under each variable's own initializer (in closed form for Glorot, He,
        LeCun, random normal / uniform / truncated normal, orthogonal, zeros / ones,
        variance scaling).
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a Keras 3 Model. Received: model={model!r:.200}")
    if not model.built or not model.trainable_variables:
        raise ValueError(f"`model` must be built and have trainable variables. Received: model={model.name!r}")
    if not isinstance(default, Constraint):
        raise ValueError(f"`default` must be a tf_sfw.keras3 Constraint. Received: default={default!r}")
    compiled = []
    for key, constraint in dict(overrides or {}).items():
        if not isinstance(constraint, Constraint):
            raise ValueError(f"`overrides[{key!r}]` must be a Constraint. Received: {constraint!r}")
        if isinstance(key, type) and issubclass(key, keras.layers.Layer):
            compiled.append((key, constraint))
        elif isinstance(key, str):
            try:
                compiled.append((re.compile(key), constraint))
            except re.error as err:
                raise ValueError(f"`overrides` key {key!r} is not a valid regular expression: {err}") from err
        else:
            raise ValueError(f"`overrides` keys must be regex strings or layer classes. Received: {key!r}")
    init_norms = dict(init_norms or {})
    owners = _owners(model)
    result = {}
    for variable in model.trainable_variables:
        owner = owners.get(id(variable))
        constraint = default
        for key, candidate in compiled:
            if isinstance(key, re.Pattern):
                matched = key.search(variable.path)
            else:
                matched = owner is not None and isinstance(owner[0], key)
            if matched:
                constraint = candidate
                break
        if getattr(constraint, "mode", None) == "initialization":
            norm = init_norms.get(variable.path)
            if norm is None:
                norm = _expected_norm(variable, owner)
            if norm is None:
                raise ValueError(
                    f"Cannot find the initializer of variable {variable.path!r} for "
                    f"mode='initialization'. Pass its expected norm in `init_norms={{{variable.path!r}: ...}}`, "
                    "or give it a constraint with mode='radius' or 'diameter' in `overrides`."
                )
            constraint = constraint.resolve(constraint.num_elements(variable), float(norm))
        result[variable.path] = constraint
    return VariableConstraints(result)
