r"""The TensorFlow op namespace of the shared math (`tf_sfw.selection`, `tf_sfw.lmo`, `tf_sfw.fw`).

The math of the package is written once over a small namespace of array operations
(array-API style: every function takes ``ops``). This module is the TensorFlow one, the
default everywhere: each name is the TensorFlow op (or fused kernel) the tf_keras path has
always used, so a traced `tf_sfw.SFW` step is op-for-op what it was before the math was
shared. `tf_sfw.keras3._ops` is the same namespace over ``keras.ops``.

Imported only by the tf_keras side (the shared math modules import it lazily, on first use
without an explicit ``ops``), so that Keras 3 on JAX never imports TensorFlow.
"""

import tensorflow as tf

name = "tensorflow"

int32 = tf.int32
float32 = tf.float32
#: Float dtypes whose magnitudes radix selection handles (exactly, as float32).
radix_dtypes = (tf.float32, tf.float16, tf.bfloat16)

abs = tf.abs  # noqa: A001  (array-API names)
sign = tf.sign
where = tf.where
reshape = tf.reshape
cast = tf.cast
shape = tf.shape
equal = tf.equal
zeros = tf.zeros
ones = tf.ones
zeros_like = tf.zeros_like
constant = tf.constant
convert_to_tensor = tf.convert_to_tensor
reduce_sum = tf.reduce_sum
reduce_min = tf.reduce_min
reduce_max = tf.reduce_max
gather = tf.gather
sqrt = tf.sqrt
cos = tf.cos
square = tf.square
pow = tf.pow  # noqa: A001
minimum = tf.minimum
maximum = tf.maximum
divide_no_nan = tf.math.divide_no_nan
clip_by_value = tf.clip_by_value
cond = tf.cond
one_hot = tf.one_hot
bitcast = tf.bitcast
right_shift = tf.bitwise.right_shift
left_shift = tf.bitwise.left_shift
bitwise_xor = tf.bitwise.bitwise_xor


def dtype(x):
    """The dtype of tensor ``x``, in the form ``cast`` and ``constant`` take."""
    return x.dtype


def num_elements(x):
    """The static number of entries of tensor ``x`` (ValueError when not fully static)."""
    n = x.shape.num_elements()
    if n is None:
        raise ValueError(f"The input must have a fully static shape. Received shape: {x.shape}")
    return n


def in_xla_context():
    """Whether the current trace is compiled with XLA (``tf.function(jit_compile=True)``).

    Only used to pick between formulations that are equal in value but fast in different
    modes. ``tf.__internal__.get_enclosing_xla_context`` is the hook tf_keras itself uses.
    """
    get_context = getattr(getattr(tf, "__internal__", None), "get_enclosing_xla_context", None)
    return get_context is not None and get_context() is not None


def cumsum(x, reverse=False):
    """Inclusive cumulative sum of a 1-D tensor (from the end with ``reverse``)."""
    return tf.cumsum(x, reverse=reverse)


def concat(values):
    """Concatenation of 1-D tensors."""
    return tf.concat(values, axis=0)


def top_k_values(x, k):
    """The ``k`` largest entries of 1-D ``x`` (in any order)."""
    return tf.math.top_k(x, k=k, sorted=False).values


def argmax(x):
    """int32 index of the (first) largest entry of 1-D ``x``."""
    return tf.argmax(x, output_type=tf.int32)


def histogram(values, size):
    """Counts of each int32 value in ``[0, size)``; values ``>= size`` are ignored."""
    return tf.raw_ops.DenseBincount(
        input=values,
        size=tf.constant(size, tf.int32),
        weights=tf.constant([], tf.int32),
        binary_output=False,
    )


def norm(x):
    r""":math:`\|x\|_2` over all entries (``tf.norm``)."""
    return tf.norm(x)


def lp_norm(x, p):
    r""":math:`\|x\|_p` over all entries (``p`` a float, ``inf`` allowed)."""
    return tf.norm(tf.reshape(x, [-1]), ord=p)


# Block width of the matrix-vector form of `squared_norm` under XLA.
_NORM_BLOCK = 128


def squared_norm(x):
    r""":math:`\sum_i x_i^2`, formulated for speed in each mode (see `tf_sfw.lmo.squared_norm`).

    float32 without XLA: the fused ``tf.nn.l2_loss`` kernel; under XLA, whose CPU
    reductions run on one thread, the squares of the first ``128·⌊n/128⌋`` entries are
    summed as a matrix-vector product :math:`\mathbf{1}^\top (X \odot X)\,\mathbf{1}` (a
    multi-threaded GEMV), the rest by a plain reduction. Other dtypes: the plain sum.
    """
    x = tf.convert_to_tensor(x)
    flat = tf.reshape(x, [-1])
    n = num_elements(x)
    if x.dtype != tf.float32:
        return tf.reduce_sum(tf.square(flat))
    if not in_xla_context():
        return 2.0 * tf.nn.l2_loss(flat)
    rows = n // _NORM_BLOCK
    if rows < 32:
        return tf.reduce_sum(tf.square(flat))
    main = tf.reshape(flat[: rows * _NORM_BLOCK], [rows, _NORM_BLOCK])
    total = tf.reduce_sum(tf.matmul(tf.square(main), tf.ones([_NORM_BLOCK, 1], x.dtype)))
    if rows * _NORM_BLOCK < n:
        total += tf.reduce_sum(tf.square(flat[rows * _NORM_BLOCK :]))
    return total
