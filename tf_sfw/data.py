"""Data sets: file readers (numpy) and deterministic, resumable ``tf.data`` input pipelines.

Readers (``load_arrays``) return raw numpy arrays: uint8 images ``(N, H, W, C)`` and int64
labels ``(N,)``. Supported names and on-disk formats:

* ``mnist``: ``mnist.npz`` (keys ``x_train, y_train, x_test, y_test``), read with numpy.
* ``fashion_mnist``: the four official IDX files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``;
  magic numbers (2051 images, 2049 labels), declared sizes and payload sizes are verified.
* ``cifar10``: the "python version" batches ``cifar-10-batches-py/data_batch_1..5`` and
  ``test_batch``: pickled dicts with ``b"data"`` (N, 3072) uint8 (R, G, B planes of 32x32,
  row-major) and ``b"labels"``. Pickle files can execute code when loaded: only point this
  at files you trust (Keras' own loader does the same).
* ``tiny_imagenet``: ``tiny-imagenet-200/`` with ``wnids.txt`` (optional: class order, else
  the sorted ``train/`` folder names), ``train/<wnid>/images/*.JPEG`` and
  ``val/val_annotations.txt`` (``<file>\\t<wnid>\\t...``) + ``val/images/*.JPEG``. The
  validation split is used as test split (the official test labels are not public).

Search order for a data set's files: the ``data_dir`` argument, then the environment variable
``TF_SFW_DATA_DIR``, then the Keras cache (``$KERAS_HOME`` or ``~/.keras``), then (mnist,
fashion_mnist, cifar10, when ``download=True``) Keras' downloader ``keras.datasets.<name>.load_data``.
Each directory ``D`` is tried as ``D/datasets/<files>`` (Keras cache layout) and ``D/<files>``.
A missing data set raises :class:`DatasetNotFoundError` naming every place searched and how to
provide the files; a file that exists but cannot be parsed raises :class:`CorruptDatasetError`
naming the file (it is never silently skipped).

Pipelines (``make_train_dataset`` / ``make_eval_dataset`` and the per-data-set helpers ``mnist``,
``fashion_mnist``, ``cifar10``, ``tiny_imagenet``) are deterministic functions of
``(seed, epoch, step)``: epoch ``e`` visits the examples in the permutation
``argsort(stateless_uniform(seed=[seed, e]))``, and data augmentation draws its randomness from
``(seed, e, step)``. A run can therefore be resumed at any step (``initial_step``) and sees exactly
the batches an uninterrupted run would have seen.
"""

import gzip
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from tf_sfw import validation

# TensorFlow is imported inside the pipeline functions only: the readers (`load_arrays` of
# mnist, fashion_mnist and cifar10 files) stay TensorFlow-free for Keras 3 on JAX or PyTorch.

__all__ = [
    "DATASETS",
    "DATASET_INFO",
    "CorruptDatasetError",
    "DatasetNotFoundError",
    "cifar10",
    "decode_jpeg_batch",
    "fashion_mnist",
    "load_arrays",
    "load_tiny_imagenet_files",
    "make_eval_dataset",
    "make_train_dataset",
    "mnist",
    "pad_images",
    "read_cifar10_batch",
    "read_idx",
    "search_dirs",
    "steps_per_epoch",
    "tiny_imagenet",
]

ENV_VAR = "TF_SFW_DATA_DIR"

# Per data set: image shape, number of classes, download URL for the error message.
DATASET_INFO = {
    "mnist": {"shape": (28, 28, 1), "classes": 10, "url": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"},
    "fashion_mnist": {
        "shape": (28, 28, 1),
        "classes": 10,
        "url": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/ (or https://github.com/zalandoresearch/fashion-mnist)",
    },
    "cifar10": {"shape": (32, 32, 3), "classes": 10, "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (extract it)"},
    "tiny_imagenet": {"shape": (64, 64, 3), "classes": 200, "url": "http://cs231n.stanford.edu/tiny-imagenet-200.zip (unzip it)"},
}
DATASETS = tuple(DATASET_INFO)

_FASHION_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
# Relative locations tried inside each searched directory.
_RELATIVE = {
    "mnist": ("datasets/mnist.npz", "mnist.npz"),
    "fashion_mnist": ("datasets/fashion-mnist", "fashion-mnist", "fashion_mnist"),
    "cifar10": ("datasets/cifar-10-batches-py", "cifar-10-batches-py"),
    "tiny_imagenet": ("datasets/tiny-imagenet-200", "tiny-imagenet-200"),
}


class DatasetNotFoundError(FileNotFoundError):
    """The files of a data set were found in none of the searched places."""


class CorruptDatasetError(ValueError):
    """A data set file exists but does not have the expected format."""


# ----------------------------------------------------------------------------------------
# Locating files


def _check_name(name):
    if name not in DATASET_INFO:
        raise ValueError(f"`name` must be one of {list(DATASETS)}. Received: name={name!r}")


def search_dirs(data_dir=None):
    """Directories searched for data, in order: ``data_dir``, ``$TF_SFW_DATA_DIR``, Keras cache.

    Args:
        data_dir: Optional directory given by the caller.

    Returns:
        List of ``(Path, origin)`` pairs, ``origin`` describing where the directory came from.
    """
    dirs = []
    if data_dir is not None:
        dirs.append((Path(data_dir).expanduser(), "data_dir argument"))
    env = os.environ.get(ENV_VAR)
    if env:
        dirs.append((Path(env).expanduser(), f"${ENV_VAR}"))
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    dirs.append((Path(keras_home), "Keras cache"))
    return dirs


def _complete(name, path):
    """Whether ``path`` holds all files of data set ``name`` (existence only)."""
    if name == "mnist":
        return path.is_file()
    if name == "fashion_mnist":
        return path.is_dir() and all((path / f).is_file() for f in _FASHION_FILES)
    if name == "cifar10":
        return path.is_dir() and all((path / f).is_file() for f in _CIFAR_FILES)
    return path.is_dir() and (path / "train").is_dir() and (path / "val" / "val_annotations.txt").is_file()


def _expected_files(name):
    return {
        "mnist": "mnist.npz",
        "fashion_mnist": "fashion-mnist/{" + ",".join(_FASHION_FILES) + "}",
        "cifar10": "cifar-10-batches-py/{" + ",".join(_CIFAR_FILES) + "}",
        "tiny_imagenet": "tiny-imagenet-200/{wnids.txt,train/<wnid>/images/*.JPEG,val/val_annotations.txt,val/images/*.JPEG}",
    }[name]


def _locate(name, data_dir, searched):
    for directory, origin in search_dirs(data_dir):
        for rel in _RELATIVE[name]:
            candidate = directory / rel
            searched.append(f"{candidate} ({origin})")
            if _complete(name, candidate):
                return candidate
    return None


def _not_found(name, searched, download_error=None):
    lines = [
        f"Data set {name!r} not found: expected {_expected_files(name)}.",
        "Searched (in order):",
        *[f"  - {s}" for s in searched],
    ]
    if download_error is not None:
        lines.append(f"  - Keras download: failed with {type(download_error).__name__}: {download_error}")
    lines.append(
        "Provide it by passing `data_dir` (CLI: --data-dir DIR) or setting the environment variable "
        f"{ENV_VAR}=DIR, where DIR/datasets/... or DIR/... holds the files above; "
        f"download: {DATASET_INFO[name]['url']}."
    )
    return DatasetNotFoundError("\n".join(lines))


# ----------------------------------------------------------------------------------------
# File parsers


def read_idx(path, expected_magic):
    """Read one (optionally gzipped) IDX file of unsigned bytes.

    Format: big-endian int32 magic ``0x0000 08 D`` (``08`` = ubyte, ``D`` = number of
    dimensions), then ``D`` big-endian int32 sizes, then ``prod(sizes)`` bytes.

    Args:
        path: File path (``.gz`` is decompressed).
        expected_magic: 2049 for label files (1-D), 2051 for image files (3-D).

    Returns:
        uint8 numpy array of the declared shape.

    Raises:
        CorruptDatasetError: bad gzip stream, wrong magic number or size mismatch.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise CorruptDatasetError(f"Corrupt data file {path}: cannot decompress/read it ({err}). Re-download it.") from err
    if len(raw) < 4:
        raise CorruptDatasetError(f"Corrupt IDX file {path}: {len(raw)} bytes, too short for a header.")
    magic = struct.unpack(">i", raw[:4])[0]
    if magic != expected_magic:
        raise CorruptDatasetError(
            f"Corrupt IDX file {path}: magic number {magic}, expected {expected_magic}."
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptDatasetError(f"Corrupt IDX file {path}: truncated header ({len(raw)} bytes).")
    dims = struct.unpack(f">{ndim}i", raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise CorruptDatasetError(
            f"Corrupt IDX file {path}: header declares shape {dims} ({expected} bytes) but the "
            f"payload has {len(raw) - header} bytes."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_cifar10_batch(path):
    """Read one CIFAR-10 python batch file.

    Returns:
        ``(x, y)``: uint8 ``(N, 32, 32, 3)`` images and int64 ``(N,)`` labels.

    Raises:
        CorruptDatasetError: unpicklable file, missing keys, wrong shapes or label range.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a corrupt file
        raise CorruptDatasetError(f"Corrupt CIFAR-10 batch {path}: cannot unpickle it ({type(err).__name__}: {err}).") from err
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise CorruptDatasetError(f"Corrupt CIFAR-10 batch {path}: expected a dict with b'data' and b'labels', got {keys}.")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise CorruptDatasetError(
            f"Corrupt CIFAR-10 batch {path}: b'data' must be uint8 (N, 3072) and b'labels' length N; "
            f"got data {data.dtype} {data.shape}, labels {labels.shape}."
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise CorruptDatasetError(f"Corrupt CIFAR-10 batch {path}: labels outside 0..9.")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _read_mnist_npz(path):
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as err:
        raise CorruptDatasetError(f"Corrupt MNIST file {path}: missing array {err}.") from err
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise CorruptDatasetError(f"Corrupt MNIST file {path}: cannot read it as .npz ({err}).") from err
    return _check_pair(path, arrays["x_train"], arrays["y_train"]), _check_pair(path, arrays["x_test"], arrays["y_test"])


def _check_pair(path, x, y, shape=(28, 28)):
    if x.dtype != np.uint8 or x.shape[1:] != shape or y.shape != (x.shape[0],):
        raise CorruptDatasetError(
            f"Corrupt data file {path}: expected uint8 images (N, {shape[0]}, {shape[1]}) and N labels; "
            f"got {x.dtype} {x.shape} and {y.shape}."
        )
    return x[..., None], y.astype(np.int64)


def _read_fashion(directory):
    xs = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        img_path = directory / f"{prefix}-images-idx3-ubyte.gz"
        lab_path = directory / f"{prefix}-labels-idx1-ubyte.gz"
        x = read_idx(img_path, 2051)
        y = read_idx(lab_path, 2049)
        if x.shape[0] != y.shape[0]:
            raise CorruptDatasetError(f"Corrupt data: {img_path} has {x.shape[0]} images but {lab_path} has {y.shape[0]} labels.")
        xs[split] = _check_pair(img_path, x, y)
    return xs["train"], xs["test"]


def _read_cifar(directory):
    parts = [read_cifar10_batch(directory / f) for f in _CIFAR_FILES[:5]]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    return (x_train, y_train), read_cifar10_batch(directory / "test_batch")


def load_tiny_imagenet_files(data_dir=None):
    """Locate Tiny-ImageNet and list its image files with integer labels.

    Returns:
        ``((train_paths, train_labels), (val_paths, val_labels), wnids)`` with paths as
        numpy string arrays (sorted, deterministic) and int64 labels indexing ``wnids``.

    Raises:
        DatasetNotFoundError: no complete copy found.
        CorruptDatasetError: malformed ``val_annotations.txt``/``wnids.txt``, unknown class ids,
            missing listed images or an empty class folder.
    """
    searched = []
    root = _locate("tiny_imagenet", data_dir, searched)
    if root is None:
        raise _not_found("tiny_imagenet", searched)
    wnids_file = root / "wnids.txt"
    if wnids_file.is_file():
        wnids = [w.strip() for w in wnids_file.read_text().split() if w.strip()]
    else:
        wnids = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    if not wnids:
        raise CorruptDatasetError(f"Corrupt Tiny-ImageNet at {root}: no classes in {wnids_file} or {root / 'train'}.")
    index = {w: i for i, w in enumerate(wnids)}
    train_paths, train_labels = [], []
    for w in wnids:
        images = sorted((root / "train" / w / "images").glob("*.JPEG"))
        if not images:
            raise CorruptDatasetError(f"Corrupt Tiny-ImageNet: no *.JPEG in {root / 'train' / w / 'images'}.")
        train_paths += [str(p) for p in images]
        train_labels += [index[w]] * len(images)
    ann = root / "val" / "val_annotations.txt"
    val_paths, val_labels = [], []
    for lineno, line in enumerate(ann.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in index:
            raise CorruptDatasetError(
                f"Corrupt {ann} line {lineno}: expected '<file>\\t<wnid>\\t...' with a wnid of the training classes; got {line!r}."
            )
        path = root / "val" / "images" / fields[0]
        if not path.is_file():
            raise CorruptDatasetError(f"Corrupt Tiny-ImageNet: {ann} line {lineno} lists {path}, which does not exist.")
        val_paths.append(str(path))
        val_labels.append(index[fields[1]])
    return (
        (np.array(train_paths), np.array(train_labels, dtype=np.int64)),
        (np.array(val_paths), np.array(val_labels, dtype=np.int64)),
        wnids,
    )


def _decode_files(paths):
    import tensorflow as tf

    out = np.empty((len(paths), 64, 64, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        try:
            img = tf.io.decode_jpeg(tf.io.read_file(p), channels=3)
        except tf.errors.OpError as err:
            raise CorruptDatasetError(f"Corrupt image {p}: {err.message}") from err
        if tuple(img.shape) != (64, 64, 3):
            raise CorruptDatasetError(f"Corrupt image {p}: shape {tuple(img.shape)}, expected (64, 64, 3).")
        out[i] = img.numpy()
    return out


def load_arrays(name, data_dir=None, download=True):
    """Load a data set as numpy arrays.

    Args:
        name: One of ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``, ``"tiny_imagenet"``
            (the latter decodes ~110k JPEGs, ~1.3 GB in memory).
        data_dir: Directory searched first (see module docstring for the search order).
        download: Whether to fall back to Keras' downloader (mnist, fashion_mnist, cifar10).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 images ``(N, H, W, C)``, int64 labels.

    Raises:
        ValueError: unknown ``name``.
        DatasetNotFoundError: files found nowhere (the message lists every place searched).
        CorruptDatasetError: a found file cannot be parsed (the message names it).
    """
    _check_name(name)
    if name == "tiny_imagenet":
        (tp, tl), (vp, vl), _ = load_tiny_imagenet_files(data_dir)
        return (_decode_files(tp), tl), (_decode_files(vp), vl)
    searched = []
    path = _locate(name, data_dir, searched)
    if path is not None:
        return {"mnist": _read_mnist_npz, "fashion_mnist": _read_fashion, "cifar10": _read_cifar}[name](path)
    if not download:
        raise _not_found(name, searched)
    from tf_sfw._keras import keras

    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as err:  # noqa: BLE001 - report any download failure with the search list
        raise _not_found(name, searched, download_error=err) from err
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., None], x_test[..., None]
    return (x_train, y_train.reshape(-1).astype(np.int64)), (x_test, y_test.reshape(-1).astype(np.int64))


# ----------------------------------------------------------------------------------------
# tf.data pipelines


def steps_per_epoch(num_examples, batch_size, drop_remainder=False):
    """Number of batches in one epoch: ``ceil(num_examples / batch_size)`` (``floor`` with
    ``drop_remainder``).

    Raises:
        ValueError: if ``num_examples`` is not an integer >= 0 or ``batch_size`` not an
            integer >= 1.
    """
    num_examples = validation.check_int(num_examples, "num_examples", minimum=0)
    batch_size = validation.check_positive_int(batch_size, "batch_size")
    if drop_remainder:
        return num_examples // batch_size
    return -(-num_examples // batch_size)


def _augment(images, key):
    """Random 4-pixel-padded crop + horizontal flip, vectorised over the batch (uint8 in, uint8 out)."""
    import tensorflow as tf

    shape = tf.shape(images)
    n, h, w = shape[0], shape[1], shape[2]
    k1, k2, k3 = tf.unstack(tf.random.experimental.stateless_split(key, 3))
    padded = tf.pad(images, [[0, 0], [4, 4], [4, 4], [0, 0]])
    oy = tf.random.stateless_uniform([n], k1, minval=0, maxval=9, dtype=tf.int32)
    ox = tf.random.stateless_uniform([n], k2, minval=0, maxval=9, dtype=tf.int32)
    rows = oy[:, None] + tf.range(h)[None, :]
    cols = ox[:, None] + tf.range(w)[None, :]
    out = tf.gather(padded, rows, axis=1, batch_dims=1)
    out = tf.gather(out, cols, axis=2, batch_dims=1)
    flip = tf.random.stateless_uniform([n], k3) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(out, axis=[2]), out)


def make_train_dataset(
    x,
    y,
    batch_size=128,
    seed=0,
    epochs=1,
    initial_step=0,
    augment=False,
    drop_remainder=False,
    decode_fn=None,
):
    """Deterministic, resumable training pipeline over in-memory arrays (or file paths).

    Epoch ``e`` (0-based) visits the examples in the order
    ``argsort(stateless_uniform([N], seed=[seed, e]))``, batched; batch ``s`` of epoch ``e``
    is augmented (if ``augment``) with randomness keyed by ``(seed, e, s)``. The stream covers
    epochs ``0 .. epochs-1`` and starts ``initial_step`` batches in (``initial_step`` counts
    from the start of epoch 0, as ``model.optimizer.iterations`` does), so pass the number of
    completed steps to resume. Use it with ``model.fit(..., steps_per_epoch=steps_per_epoch(N, batch_size))``.

    Images are gathered per batch (vectorised) from the in-memory uint8 array and scaled to
    float32 in ``[0, 1]`` after augmentation; batches are prefetched.

    Args:
        x: uint8 images ``(N, H, W, C)``, or file paths ``(N,)`` when ``decode_fn`` is given.
        y: integer labels ``(N,)``.
        batch_size: Batch size (positive int).
        seed: Integer seed of the shuffles and augmentation.
        epochs: Number of epochs in the stream.
        initial_step: Number of batches to skip (resume position), ``0 <= initial_step <= epochs·steps``.
        augment: Random crop (4-pixel zero padding) + horizontal flip (CIFAR/Tiny-ImageNet recipe).
        drop_remainder: Drop the last incomplete batch of every epoch.
        decode_fn: Optional ``paths (B,) -> uint8 images (B, H, W, C)`` for file-based data.

    Returns:
        ``tf.data.Dataset`` of ``(images float32 (B, H, W, C), labels int64 (B,))``.
    """
    validation.check_positive_int(batch_size, "batch_size")
    validation.check_positive_int(epochs, "epochs")
    n = len(y)
    if len(x) != n:
        raise ValueError(f"`x` and `y` must have the same length. Received: len(x)={len(x)}, len(y)={n}")
    if n == 0:
        raise ValueError("`x` must contain at least one example. Received: len(x)=0")
    steps = steps_per_epoch(n, batch_size, drop_remainder)
    if steps == 0:
        raise ValueError(f"`batch_size` ({batch_size}) exceeds the {n} examples with drop_remainder=True.")
    if isinstance(initial_step, bool) or not 0 <= int(initial_step) <= epochs * steps:
        raise ValueError(f"`initial_step` must be in [0, epochs * steps] = [0, {epochs * steps}]. Received: initial_step={initial_step}")
    import tensorflow as tf

    x_t = tf.convert_to_tensor(x)
    y_t = tf.convert_to_tensor(np.asarray(y, dtype=np.int64))
    seed = int(seed)

    def epoch_batches(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        perm = tf.argsort(tf.random.stateless_uniform([n], seed=key))
        idx = tf.data.Dataset.from_tensor_slices(perm).batch(batch_size, drop_remainder=drop_remainder)
        return tf.data.Dataset.zip((tf.data.Dataset.from_tensors(epoch).repeat(), tf.data.Dataset.range(steps), idx))

    def load(epoch, step, idx):
        images = tf.gather(x_t, idx)
        if decode_fn is not None:
            images = decode_fn(images)
        if augment:
            key = tf.random.experimental.stateless_fold_in(tf.stack([tf.constant(seed, tf.int64), epoch]), step)
            images = _augment(images, key)
        return tf.cast(images, tf.float32) / 255.0, tf.gather(y_t, idx)

    ds = tf.data.Dataset.range(epochs).flat_map(epoch_batches).skip(int(initial_step))
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def make_eval_dataset(x, y, batch_size=100, decode_fn=None):
    """Evaluation pipeline: fixed order, batched, float32 images in ``[0, 1]``, prefetched."""
    import tensorflow as tf

    validation.check_positive_int(batch_size, "batch_size")
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same length. Received: len(x)={len(x)}, len(y)={len(y)}")
    x_t = tf.convert_to_tensor(x)
    y_t = tf.convert_to_tensor(np.asarray(y, dtype=np.int64))

    def load(idx):
        images = tf.gather(x_t, idx)
        if decode_fn is not None:
            images = decode_fn(images)
        return tf.cast(images, tf.float32) / 255.0, tf.gather(y_t, idx)

    ds = tf.data.Dataset.range(len(y)).batch(batch_size)
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def decode_jpeg_batch(paths):
    """``paths (B,) -> uint8 (B, 64, 64, 3)``: decode Tiny-ImageNet JPEGs (grayscale ones to RGB)."""
    import tensorflow as tf

    return tf.map_fn(
        lambda p: tf.ensure_shape(tf.io.decode_jpeg(tf.io.read_file(p), channels=3), (64, 64, 3)),
        paths,
        fn_output_signature=tf.TensorSpec((64, 64, 3), tf.uint8),
    )


def pad_images(x, size):
    r"""Zero-pads a batch of images ``(N, H, W[, C])`` to ``size`` x ``size``, centred.

    Used to feed 28x28 MNIST-style images to networks made for 32x32 inputs (ResNet-18):
    :math:`\lfloor (s - H)/2\rfloor` rows above, the rest below (columns likewise).

    Raises:
        ValueError: if ``x`` is not a batch of images or ``size`` is smaller than an image side.
    """
    x = np.asarray(x)
    if x.ndim not in (3, 4) or 0 in x.shape:
        raise ValueError(f"`x` must be a non-empty batch of images (N, H, W[, C]). Received: x with shape {x.shape}")
    size = validation.check_positive_int(size, "size")
    height, width = x.shape[1], x.shape[2]
    if size < max(height, width):
        raise ValueError(
            f"`size` must be at least the image side {max(height, width)}. " + validation.received("size", size)
        )
    top, left = (size - height) // 2, (size - width) // 2
    widths = [(0, 0), (top, size - height - top), (left, size - width - left)] + [(0, 0)] * (x.ndim - 3)
    return np.pad(x, widths)


def _subset(x, y, subset, seed):
    """A seeded random subset of ``subset`` examples (original order kept), or everything.

    Raises:
        ValueError: if ``subset`` is not an integer in ``[1, len(y)]`` (the message names
            the size of the split).
    """
    if subset is None:
        return x, y
    validation.check_positive_int(subset, "subset")
    if subset > len(y):
        raise ValueError(
            f"`subset` must be at most the {len(y)} examples of the training split. "
            + validation.received("subset", subset)
        )
    if subset == len(y):
        return x, y
    idx = np.sort(np.random.default_rng(int(seed)).permutation(len(y))[:subset])
    return x[idx], y[idx]


def _pipelines(name, data_dir, batch_size, test_batch_size, seed, epochs, initial_step, augment, download, subset):
    (x_train, y_train), (x_test, y_test) = load_arrays(name, data_dir=data_dir, download=download)
    x_train, y_train = _subset(x_train, y_train, subset, seed)
    train = make_train_dataset(x_train, y_train, batch_size, seed, epochs, initial_step, augment)
    return train, make_eval_dataset(x_test, y_test, test_batch_size)


def mnist(data_dir=None, batch_size=128, test_batch_size=100, seed=0, epochs=1, initial_step=0, download=True, subset=None):
    """MNIST ``(train_ds, test_ds)``: float32 (28, 28, 1) images in [0, 1], int64 labels.

    See :func:`make_train_dataset` for ``seed``, ``epochs``, ``initial_step``; ``subset`` keeps
    a seeded random subset of that many training examples (at most the split's size).
    """
    return _pipelines("mnist", data_dir, batch_size, test_batch_size, seed, epochs, initial_step, False, download, subset)


def fashion_mnist(data_dir=None, batch_size=128, test_batch_size=100, seed=0, epochs=1, initial_step=0, download=True, subset=None):
    """Fashion-MNIST ``(train_ds, test_ds)``, same conventions as :func:`mnist`."""
    return _pipelines("fashion_mnist", data_dir, batch_size, test_batch_size, seed, epochs, initial_step, False, download, subset)


def cifar10(
    data_dir=None, batch_size=128, test_batch_size=100, seed=0, epochs=1, initial_step=0, augment=True, download=True, subset=None
):
    """CIFAR-10 ``(train_ds, test_ds)``: float32 (32, 32, 3) in [0, 1]; crop+flip augmentation by default."""
    return _pipelines("cifar10", data_dir, batch_size, test_batch_size, seed, epochs, initial_step, augment, download, subset)


def tiny_imagenet(
    data_dir=None, batch_size=128, test_batch_size=100, seed=0, epochs=1, initial_step=0, augment=True, subset=None
):
    """Tiny-ImageNet ``(train_ds, val_ds)`` decoded from the JPEG files on the fly (64x64x3, 200 classes)."""
    (tp, tl), (vp, vl), _ = load_tiny_imagenet_files(data_dir)
    tp, tl = _subset(tp, tl, subset, seed)
    train = make_train_dataset(tp, tl, batch_size, seed, epochs, initial_step, augment, decode_fn=decode_jpeg_batch)
    return train, make_eval_dataset(vp, vl, test_batch_size, decode_fn=decode_jpeg_batch)
