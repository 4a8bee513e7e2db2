r"""The input rows a prunable kernel multiplies: a layer's output as one matrix product.

For a ``Dense`` layer with kernel :math:`W \in \mathbb{R}^{d \times m}` the pre-activation
output is :math:`X W + b`, with :math:`X` the layer input flattened to rows of length
:math:`d` (every leading axis becomes a row). A ``Conv2D`` with kernel
:math:`(k_h, k_w, c_{in}, m)` is the same product with the im2col patches of its input:
every output position gives one row of length :math:`d = k_h k_w c_{in}`, ordered
:math:`(k_h, k_w, c_{in})` like the kernel reshaped to :math:`(d, m)`, with the layer's
strides, dilation and padding (zero padding included). The activation-aware criterion
(`tf_sfw.pruning.activation`) and the least-squares reconstruction
(`tf_sfw.pruning.reconstruction`) both read the layer through these rows.

Depthwise, grouped, transposed and channels-first convolutions and other layer types are
rejected with a ValueError.
"""

import tensorflow as tf

from tf_sfw._keras import keras

__all__ = ["check_supported", "input_rows", "kernel_layer"]


def kernel_layer(model, key):
    """The layer that owns the kernel ``key`` (``"<layer>/kernel"``), unwrapped from a pruning wrapper."""
    layer = model.get_layer(key.rsplit("/", 1)[0])
    return getattr(layer, "layer", layer)


def _is_plain_conv2d(layer):
    return type(layer) is keras.layers.Conv2D or (
        isinstance(layer, keras.layers.Conv2D)
        and not isinstance(layer, (keras.layers.DepthwiseConv2D, keras.layers.Conv2DTranspose))
    )


def check_supported(layer):
    """ValueError unless ``layer`` is a Dense or a channels_last, ungrouped Conv2D layer."""
    if isinstance(layer, keras.layers.Dense):
        return
    if not _is_plain_conv2d(layer):
        raise ValueError(
            f"Layer {layer.name!r} of type {type(layer).__name__} is not supported (Dense and Conv2D only)."
        )
    if getattr(layer, "groups", 1) != 1 or layer.data_format != "channels_last":
        raise ValueError(
            f"Layer {layer.name!r}: only channels_last Conv2D with groups=1 is supported. "
            f"Received: groups={getattr(layer, 'groups', 1)}, data_format={layer.data_format!r}"
        )
    if max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        raise ValueError(f"Layer {layer.name!r}: strides and dilation > 1 together are not supported.")


def input_rows(layer, inputs):
    """``layer``'s input as the matrix :math:`X` of :math:`X W_{flat} + b`, float32 ``(rows, d)``."""
    check_supported(layer)
    x = tf.convert_to_tensor(inputs, tf.float32)
    if isinstance(layer, keras.layers.Dense):
        return tf.reshape(x, [-1, x.shape[-1]])
    kh, kw = layer.kernel_size
    sh, sw = layer.strides
    dh, dw = layer.dilation_rate
    patches = tf.image.extract_patches(
        x, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1], rates=[1, dh, dw, 1], padding=layer.padding.upper()
    )  # (N, H', W', kh*kw*c_in), ordered (kh, kw, c_in) like the kernel
    return tf.reshape(patches, [-1, patches.shape[-1]])
