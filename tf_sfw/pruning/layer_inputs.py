r"""The input rows a prunable kernel multiplies: a layer's output as one matrix product (NumPy).

For a ``Dense`` layer with kernel :math:`W \in \mathbb{R}^{d \times m}` the pre-activation
output is :math:`X W + b`, with :math:`X` the layer input flattened to rows of length
:math:`d` (every leading axis becomes a row). A ``Conv2D`` with kernel
:math:`(k_h, k_w, c_{in}, m)` is the same product with the im2col patches of its input:
every output position :math:`(n, o_y, o_x)` gives one row of length :math:`d = k_h k_w c_{in}`,
ordered :math:`(k_h, k_w, c_{in})` like the kernel reshaped to :math:`(d, m)`, whose entry
:math:`(i, j, c)` is the padded input at :math:`(n,\ o_y s_h + i\,r_h,\ o_x s_w + j\,r_w,\ c)`
(strides :math:`s`, dilation :math:`r`). ``"same"`` padding is TensorFlow's, which Keras uses on
every backend: :math:`p = \max((o - 1) s + (k - 1) r + 1 - n_{in}, 0)` zeros in all, :math:`\lfloor
p/2 \rfloor` before. The activation-aware criterion (`tf_sfw.pruning.activation`) and the
least-squares refit (`tf_sfw.pruning.refit`) read layers through these rows, in both Keras
flavours: this module is framework-free (layers are recognised by class name and attributes).

Depthwise, grouped, transposed and channels-first convolutions and other layer types are
rejected with a ValueError.
"""

import numpy as np

__all__ = ["check_supported", "input_rows", "kernel_layer"]


def kernel_layer(model, key):
    """The layer that owns the kernel ``key`` (``"<layer>/kernel"``), unwrapped from a pruning wrapper."""
    layer = model.get_layer(key.rsplit("/", 1)[0])
    return getattr(layer, "layer", layer)


def check_supported(layer):
    """ValueError unless ``layer`` is a Dense or a channels_last, ungrouped Conv2D layer."""
    kind = type(layer).__name__
    if kind == "Dense":
        return
    if kind != "Conv2D":
        raise ValueError(f"Layer {layer.name!r} of type {kind} is not supported (Dense and Conv2D only).")
    if getattr(layer, "groups", 1) != 1 or layer.data_format != "channels_last":
        raise ValueError(
            f"Layer {layer.name!r}: only channels_last Conv2D with groups=1 is supported. "
            f"Received: groups={getattr(layer, 'groups', 1)}, data_format={layer.data_format!r}"
        )
    if max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        raise ValueError(f"Layer {layer.name!r}: strides and dilation > 1 together are not supported.")


def _padded(x, kernel, stride, dilation, padding, axis):
    """``(x padded along axis, output length)`` for one spatial axis."""
    size, span = x.shape[axis], (kernel - 1) * dilation + 1
    if padding == "valid":
        return x, (size - span) // stride + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (total // 2, total - total // 2)
    return np.pad(x, pad), out


def input_rows(layer, inputs):
    """``layer``'s input as the matrix :math:`X` of :math:`X W_{flat} + b`: float32 ``(rows, d)``."""
    check_supported(layer)
    x = np.asarray(inputs, dtype=np.float32)
    if type(layer).__name__ == "Dense":
        return x.reshape(-1, x.shape[-1])
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.strides, layer.dilation_rate
    x, out_h = _padded(x, kh, sh, dh, layer.padding, 1)
    x, out_w = _padded(x, kw, sw, dw, layer.padding, 2)
    rows = np.empty((x.shape[0], out_h, out_w, kh, kw, x.shape[3]), np.float32)
    for i in range(kh):
        for j in range(kw):
            rows[:, :, :, i, j] = x[:, i * dh: i * dh + (out_h - 1) * sh + 1: sh, j * dw: j * dw + (out_w - 1) * sw + 1: sw]
    return rows.reshape(-1, kh * kw * x.shape[3])
