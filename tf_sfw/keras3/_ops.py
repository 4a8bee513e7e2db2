r"""The ``keras.ops`` op namespace of the shared math (`tf_sfw.selection`, `tf_sfw.lmo`, `tf_sfw.fw`).

The same names as `tf_sfw._tf_ops`, over ``keras.ops``, so that the formulas, the radix
selection and the tie rule written once in the shared modules run on every Keras 3 backend
(TensorFlow, JAX, PyTorch) and under ``jit_compile``. Static shapes only.

Two forms differ from the TensorFlow namespace, with the same values:

* ``histogram`` is a segment sum (``keras.ops.bincount`` has a data-dependent shape and
  does not compile under JAX; the eager PyTorch backend uses it, with values clipped so that
  its length is static); out-of-range values go to one extra, dropped, bin.
* ``in_xla_context`` is always True: Keras 3 steps are compiled (XLA under JAX), where one
  fused formula beats a branch (see `tf_sfw.lmo.k_sparse_lmo`).
"""

import math

import keras
from keras import ops as _k

name = "keras"

int32 = "int32"
float32 = "float32"
#: Float dtypes whose magnitudes radix selection handles (exactly, as float32).
radix_dtypes = ("float32", "float16", "bfloat16")

abs = _k.abs  # noqa: A001  (array-API names)
sign = _k.sign
where = _k.where
reshape = _k.reshape
cast = _k.cast
equal = _k.equal
zeros_like = _k.zeros_like
convert_to_tensor = _k.convert_to_tensor
sqrt = _k.sqrt
cos = _k.cos
square = _k.square
pow = _k.power  # noqa: A001
minimum = _k.minimum
maximum = _k.maximum
divide_no_nan = _k.divide_no_nan
cond = _k.cond
right_shift = _k.right_shift
left_shift = _k.left_shift
bitwise_xor = _k.bitwise_xor


def dtype(x):
    """The dtype of ``x`` as Keras' standard string (``"float32"``)."""
    return keras.backend.standardize_dtype(x.dtype)


def num_elements(x):
    """The static number of entries of ``x`` (ValueError when not fully static)."""
    shape = tuple(x.shape)
    if any(d is None for d in shape):
        raise ValueError(f"The input must have a fully static shape. Received shape: {shape}")
    return int(math.prod(shape))


def in_xla_context():
    return True


def shape(x):
    return tuple(x.shape)


def zeros(shape, dtype):
    return _k.zeros(shape, dtype=dtype)


def ones(shape, dtype):
    return _k.ones(shape, dtype=dtype)


def constant(value, dtype=None):
    return _k.convert_to_tensor(value, dtype=dtype)


def reduce_sum(x, axis=None, keepdims=False):
    total = _k.sum(x, axis=axis, keepdims=keepdims)
    if keepdims and axis is None:  # the PyTorch backend drops keepdims for a full reduction
        total = _k.reshape(total, [1] * len(x.shape))
    return total


def reduce_min(x):
    return _k.min(x)


def reduce_max(x):
    return _k.max(x)


def gather(x, index):
    """``x[index]`` along the first axis (``index`` a scalar tensor)."""
    return _k.take(x, index, axis=0)


def cumsum(x, reverse=False):
    """Inclusive cumulative sum of a 1-D tensor (from the end with ``reverse``)."""
    if reverse:
        return _k.flip(_k.cumsum(_k.flip(x, axis=0), axis=0), axis=0)
    return _k.cumsum(x, axis=0)


def concat(values):
    return _k.concatenate(values, axis=0)


def top_k_values(x, k):
    return _k.top_k(x, k, sorted=False)[0]


def argmax(x):
    return _k.cast(_k.argmax(x), "int32")


def one_hot(index, n, dtype):
    return _k.one_hot(index, n, dtype=dtype)


def bitcast(x, dtype):
    """Reinterprets the bits of ``x`` as ``dtype`` of the same width (``keras.ops.view``)."""
    return _k.view(x, dtype)


def histogram(values, size):
    """int32 counts of each int32 value in ``[0, size)``; values ``>= size`` are ignored."""
    ids = _k.minimum(values, size)  # values are >= 0; out-of-range ones go to bin `size`
    if keras.backend.backend() == "torch":  # eager: torch.bincount, of static length size + 1 here
        counts = _k.bincount(ids, minlength=size + 1)
    else:
        counts = _k.segment_sum(_k.ones_like(ids), ids, num_segments=size + 1)
    return _k.cast(counts[:size], "int32")


def norm(x):
    return _k.sqrt(_k.sum(_k.square(x)))


def squared_norm(x):
    return _k.sum(_k.square(x))


def lp_norm(x, p):
    flat = _k.reshape(x, [-1])
    if math.isinf(p):
        return _k.max(_k.abs(flat))
    return _k.norm(flat, ord=p)


def clip_by_value(x, low, high):
    return _k.clip(x, low, high)
