"""Which weights count for magnitude pruning, and their mask keys (pure Python, shared by the
tf_keras and Keras 3 flavours).

Counted: every kernel (a weight whose name ends in ``kernel``: ``kernel``,
``depthwise_kernel``, ``pointwise_kernel``, ``recurrent_kernel``), optionally biases,
optionally BatchNormalization ``gamma``/``beta``; never BatchNormalization moving
statistics, embeddings or other weights.

A weight's key is ``"<prefix><layer name>/<weight name>"``, where ``prefix`` holds the
names of the nested sub-models the layer sits in (``"encoder/"``), empty at the top level.
"""

from tf_sfw.variables import short_name

__all__ = ["BATCHNORM_WEIGHTS", "is_counted", "mask_key"]

#: BatchNormalization weights that can be counted (with ``include_batchnorm``).
BATCHNORM_WEIGHTS = ("gamma", "beta")


def is_counted(variable, is_batchnorm, include_bias, include_batchnorm):
    """Whether ``variable`` of a layer counts for pruning.

    Args:
        variable: The weight (anything with a ``name``) or its name.
        is_batchnorm: Whether its layer is a BatchNormalization layer.
        include_bias: Count biases.
        include_batchnorm: Count BatchNormalization ``gamma`` and ``beta``.
    """
    short = short_name(variable)
    if is_batchnorm:
        return include_batchnorm and short in BATCHNORM_WEIGHTS
    if short.endswith("kernel"):
        return True
    return include_bias and short == "bias"


def mask_key(layer_name, variable, prefix=""):
    """Mask key ``"<prefix><layer name>/<weight name>"`` of ``variable``."""
    return f"{prefix}{layer_name}/{short_name(variable)}"
