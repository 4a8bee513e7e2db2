r"""Expected L2 norm of a variable under its initializer, written once for both Keras flavours.

`mean_square(initializer, shape, keras)` is :math:`\mathbb{E}[x^2]` of one entry drawn from
a Keras initializer, in closed form, for the initializer classes tf_keras and Keras 3 share
(``keras`` is the module whose classes ``initializer`` is an instance of: ``tf_keras`` for
`tf_sfw.constraints`, Keras 3 for `tf_sfw.keras3.constraints`):

* ``VarianceScaling`` and its Glorot / He / LeCun forms: :math:`s / \mathrm{fan}` for every
  distribution (Keras scales uniform, truncated and untruncated normals to that variance);
* ``RandomNormal``: :math:`\mu^2 + \sigma^2`; ``TruncatedNormal`` (to two standard
  deviations): :math:`\mu^2 + \sigma^2 v_2` with :math:`v_2` the variance of N(0, 1)
  truncated to [-2, 2]; ``RandomUniform(a, b)``: :math:`(a^2 + ab + b^2)/3`;
* ``Zeros`` 0, ``Ones`` 1, ``Constant(c)``: mean of :math:`c^2`;
* ``Orthogonal`` / ``Identity`` with gain :math:`g` on an :math:`R \times C` matrix:
  :math:`g^2 \min(R, C) / (RC)`.

`expected_norm` is then :math:`\sqrt{n\,\mathbb{E}[x^2]}`, which equals
:math:`\mathbb{E}\|\theta\|_2` up to a relative :math:`O(1/n)`. Pure Python and NumPy.
"""

import math
import warnings

import numpy as np

__all__ = ["TRUNCATED_NORMAL_VARIANCE", "fans", "mean_square", "expected_norm", "initializer_attribute"]

# Variance of N(0, 1) truncated to [-2, 2] (what Keras' truncated normals sample).
TRUNCATED_NORMAL_VARIANCE = 1.0 - 4.0 * math.exp(-2.0) / math.sqrt(2.0 * math.pi) / math.erf(2.0 / math.sqrt(2.0))


def fans(shape):
    """fan_in, fan_out as Keras' VarianceScaling computes them."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def mean_square(initializer, shape, keras):
    """E[x^2] of one entry under ``initializer`` (a ``keras.initializers`` object or
    identifier), or None when there is no closed form."""
    inits = keras.initializers
    init = inits.get(initializer)
    if not isinstance(init, inits.Initializer):
        return None
    cfg = init.get_config()
    if isinstance(init, inits.VarianceScaling):
        fan_in, fan_out = fans(shape)
        # Glorot/He/LeCun subclasses do not put scale/mode in their config: read attributes.
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[init.mode]
        return init.scale / max(1.0, fan)
    if isinstance(init, inits.Zeros):
        return 0.0
    if isinstance(init, inits.Ones):
        return 1.0
    if isinstance(init, inits.Constant):
        value = np.asarray(cfg["value"], dtype=np.float64)
        return float(np.mean(value**2)) if value.size else 0.0
    if isinstance(init, inits.TruncatedNormal):
        return cfg["mean"] ** 2 + cfg["stddev"] ** 2 * TRUNCATED_NORMAL_VARIANCE
    if isinstance(init, inits.RandomNormal):
        return cfg["mean"] ** 2 + cfg["stddev"] ** 2
    if isinstance(init, inits.RandomUniform):
        a, b = cfg["minval"], cfg["maxval"]
        return (a * a + a * b + b * b) / 3.0
    if isinstance(init, (inits.Orthogonal, inits.Identity)):
        rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        cols = shape[-1] if shape else 1
        return cfg["gain"] ** 2 * min(rows, cols) / max(1, rows * cols)
    return None


def expected_norm(initializer, shape, keras, draw_norm, num_samples=100):
    r""":math:`\sqrt{n\,\mathbb{E}[x^2]}` (`mean_square`), else the mean ``draw_norm`` (the L2
    norm of a drawn tensor, a float) of ``num_samples`` draws, with a warning."""
    shape = tuple(int(d) for d in shape)
    n = int(np.prod(shape)) if shape else 1
    square = mean_square(initializer, shape, keras)
    if square is not None:
        return math.sqrt(n * square)
    init = keras.initializers.get(initializer)
    warnings.warn(
        f"No closed form for the expected norm under {type(init).__name__}; "
        f"estimating it from {num_samples} samples.",
        stacklevel=3,
    )
    config = init.get_config() if hasattr(init, "get_config") else {}
    if "seed" in config:  # an unseeded Keras initializer repeats its values: vary the seed
        draws = [type(init).from_config({**config, "seed": i})(shape) for i in range(num_samples)]
    else:
        draws = [init(shape) for _ in range(num_samples)]
    return float(np.mean([draw_norm(draw) for draw in draws]))


# Variable attribute -> initializer attribute, per layer type (first match wins); every other
# variable ``layer.<name>`` is looked up as ``layer.<name>_initializer`` (kernel, bias,
# embeddings, gamma, beta, alpha, ...).
_INITIALIZER_ATTRIBUTES = (
    (
        ("SeparableConv1D", "SeparableConv2D"),
        {"depthwise_kernel": "depthwise_initializer", "pointwise_kernel": "pointwise_initializer"},
    ),
    (("DepthwiseConv1D", "DepthwiseConv2D"), {"depthwise_kernel": "depthwise_initializer"}),
    (("SimpleRNNCell", "GRUCell", "LSTMCell"), {"recurrent_kernel": "recurrent_initializer"}),
)


def initializer_attribute(layer, attribute, keras):
    """Name of the attribute of ``layer`` (a ``keras.layers.Layer``) holding the initializer
    of its variable ``layer.<attribute>``."""
    for names, mapping in _INITIALIZER_ATTRIBUTES:
        classes = tuple(getattr(keras.layers, name) for name in names if hasattr(keras.layers, name))
        if classes and isinstance(layer, classes) and attribute in mapping:
            return mapping[attribute]
    return f"{attribute}_initializer"
