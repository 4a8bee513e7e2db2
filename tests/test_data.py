"""Tests for tf_sfw.data: file readers (real MNIST/Fashion-MNIST, synthetic CIFAR-10/Tiny-ImageNet
files in their exact formats), error paths, and the deterministic resumable pipelines."""

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw import data
from tf_sfw.data import CorruptDatasetError, DatasetNotFoundError, load_arrays, make_eval_dataset, make_train_dataset

# The shared data folder sits next to the repository (/work/main -> /work/shared; CI: ../shared).
SHARED_KERAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "keras"
needs_shared = pytest.mark.skipif(
    not (SHARED_KERAS / "datasets" / "mnist.npz").is_file(),
    reason=f"shared real data not found at {SHARED_KERAS} (expected datasets/mnist.npz and datasets/fashion-mnist/)",
)


@pytest.fixture(autouse=True)
def _isolated_search(tmp_path, monkeypatch):
    """No test may find data in the real ~/.keras or $TF_SFW_DATA_DIR by accident."""
    empty = tmp_path / "empty_keras_home"
    empty.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(empty))
    monkeypatch.delenv("TF_SFW_DATA_DIR", raising=False)


# ---------------------------------------------------------------------------- writers


def write_idx(path, array, magic=None, gz=True, truncate=0):
    array = np.asarray(array, dtype=np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    raw = struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()
    raw = raw[: len(raw) - truncate]
    path.parent.mkdir(parents=True, exist_ok=True)
    (gzip.open if gz else open)(path, "wb").write(raw)


def write_fashion(root, n_train=12, n_test=6):
    rng = np.random.default_rng(0)
    d = root / "datasets" / "fashion-mnist"
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(d / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(d / f"{prefix}-labels-idx1-ubyte.gz", y)
        arrays[prefix] = (x, y)
    return d, arrays


def write_cifar(root, n_per_batch=4):
    rng = np.random.default_rng(1)
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    images, labels = {}, {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        img = rng.integers(0, 256, (n_per_batch, 32, 32, 3), dtype=np.uint8)
        lab = rng.integers(0, 10, n_per_batch).tolist()
        flat = img.transpose(0, 3, 1, 2).reshape(n_per_batch, 3072)  # R plane, G plane, B plane, row-major
        with open(d / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": lab, b"data": flat, b"filenames": []}, f)
        images[name], labels[name] = img, np.array(lab)
    return d, images, labels


def write_tiny_imagenet(root, wnids=("n02", "n01"), per_class=3, grayscale_first=True):
    d = root / "tiny-imagenet-200"
    (d / "val" / "images").mkdir(parents=True)
    (d / "wnids.txt").write_text("\n".join(wnids) + "\n")
    colors = {}
    for ci, w in enumerate(wnids):
        (d / "train" / w / "images").mkdir(parents=True)
        for j in range(per_class):
            value = 40 * ci + 10 * j + 20
            channels = 1 if (grayscale_first and ci == 0 and j == 0) else 3
            img = np.full((64, 64, channels), value, np.uint8)
            tf.io.write_file(str(d / "train" / w / "images" / f"{w}_{j}.JPEG"), tf.io.encode_jpeg(img, quality=100))
            colors[f"{w}_{j}"] = value
    lines = []
    for k, w in enumerate(reversed(wnids)):
        img = np.full((64, 64, 3), 200 - k, np.uint8)
        tf.io.write_file(str(d / "val" / "images" / f"val_{k}.JPEG"), tf.io.encode_jpeg(img, quality=100))
        lines.append(f"val_{k}.JPEG\t{w}\t0\t0\t63\t63")
    (d / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return d


# ---------------------------------------------------------------------------- real data


@needs_shared
def test_real_mnist():
    (x, y), (xt, yt) = load_arrays("mnist", SHARED_KERAS, download=False)
    assert x.shape == (60000, 28, 28, 1) and xt.shape == (10000, 28, 28, 1)
    assert x.dtype == np.uint8 and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(10)) and set(np.unique(yt)) == set(range(10))
    # published MNIST class counts: digit 1 is the most frequent class in both splits
    assert np.bincount(y).sum() == 60000 and np.argmax(np.bincount(y)) == 1 and np.argmax(np.bincount(yt)) == 1
    assert x.max() == 255 and x.min() == 0


@needs_shared
def test_real_fashion_mnist():
    (x, y), (xt, yt) = load_arrays("fashion_mnist", SHARED_KERAS, download=False)
    assert x.shape == (60000, 28, 28, 1) and xt.shape == (10000, 28, 28, 1) and x.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(yt), np.full(10, 1000))


@needs_shared
def test_real_mnist_via_env(monkeypatch):
    monkeypatch.setenv("TF_SFW_DATA_DIR", str(SHARED_KERAS))
    train, test = data.mnist(batch_size=1000, test_batch_size=2000, subset=3000)
    xb, yb = next(iter(train))
    assert xb.shape == (1000, 28, 28, 1) and xb.dtype == tf.float32 and yb.dtype == tf.int64
    assert 0.0 <= float(tf.reduce_min(xb)) and float(tf.reduce_max(xb)) <= 1.0
    assert sum(int(b[1].shape[0]) for b in test) == 10000


# ---------------------------------------------------------------------------- fashion / IDX


def test_fashion_from_idx_files(tmp_path):
    _, arrays = write_fashion(tmp_path)
    (x, y), (xt, yt) = load_arrays("fashion_mnist", tmp_path, download=False)
    np.testing.assert_array_equal(x[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(y, arrays["train"][1])
    np.testing.assert_array_equal(xt[..., 0], arrays["t10k"][0])
    np.testing.assert_array_equal(yt, arrays["t10k"][1])


@pytest.mark.parametrize(
    "kind,match",
    [("magic", "magic number 2049, expected 2051"), ("truncated", "payload has"), ("not_gzip", "cannot decompress")],
)
def test_fashion_corrupt_file_named(tmp_path, kind, match):
    d, arrays = write_fashion(tmp_path)
    bad = d / "train-images-idx3-ubyte.gz"
    if kind == "magic":
        write_idx(bad, arrays["train"][0], magic=2049)
    elif kind == "truncated":
        write_idx(bad, arrays["train"][0], truncate=5)
    else:
        bad.write_bytes(b"this is not gzip data")
    with pytest.raises(CorruptDatasetError, match=match) as info:
        load_arrays("fashion_mnist", tmp_path, download=False)
    assert str(bad) in str(info.value)


def test_fashion_image_label_count_mismatch(tmp_path):
    d, _ = write_fashion(tmp_path)
    write_idx(d / "t10k-labels-idx1-ubyte.gz", np.zeros(5))
    with pytest.raises(CorruptDatasetError, match="6 images but .* 5 labels"):
        load_arrays("fashion_mnist", tmp_path, download=False)


def test_mnist_npz_corrupt(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(CorruptDatasetError, match="mnist.npz"):
        load_arrays("mnist", tmp_path, download=False)
    np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2))
    with pytest.raises(CorruptDatasetError, match="missing array"):
        load_arrays("mnist", tmp_path, download=False)


# ---------------------------------------------------------------------------- cifar10


def test_cifar10_python_batches(tmp_path):
    _, images, labels = write_cifar(tmp_path / "datasets")
    (x, y), (xt, yt) = load_arrays("cifar10", tmp_path, download=False)
    assert x.shape == (20, 32, 32, 3) and x.dtype == np.uint8 and xt.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(x, np.concatenate([images[f"data_batch_{i}"] for i in range(1, 6)]))
    np.testing.assert_array_equal(y, np.concatenate([labels[f"data_batch_{i}"] for i in range(1, 6)]))
    np.testing.assert_array_equal(xt, images["test_batch"])
    np.testing.assert_array_equal(yt, labels["test_batch"])


def test_cifar10_plane_layout(tmp_path):
    """Byte 0 is R(0,0), byte 1024 is G(0,0), byte 33 is R(1,1)."""
    d, _, _ = write_cifar(tmp_path)
    flat = np.zeros((1, 3072), np.uint8)
    flat[0, 0], flat[0, 1024], flat[0, 2048], flat[0, 33] = 11, 22, 33, 44
    with open(d / "test_batch", "wb") as f:
        pickle.dump({b"data": flat, b"labels": [7]}, f)
    x, y = data.read_cifar10_batch(d / "test_batch")
    assert tuple(x[0, 0, 0]) == (11, 22, 33) and x[0, 1, 1, 0] == 44 and y.tolist() == [7]


@pytest.mark.parametrize(
    "content,match",
    [
        (b"not a pickle", "cannot unpickle"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "b'labels'"),
        (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), r"\(N, 3072\)"),
        (pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [12]}), "labels outside"),
    ],
)
def test_cifar10_corrupt(tmp_path, content, match):
    d, _, _ = write_cifar(tmp_path)
    (d / "data_batch_3").write_bytes(content)
    with pytest.raises(CorruptDatasetError, match=match) as info:
        load_arrays("cifar10", tmp_path, download=False)
    assert "data_batch_3" in str(info.value)


def test_cifar10_pipeline_augments_deterministically(tmp_path):
    write_cifar(tmp_path)
    a, _ = data.cifar10(tmp_path, batch_size=8, seed=3, download=False)
    b, _ = data.cifar10(tmp_path, batch_size=8, seed=3, download=False)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert xa.shape[1:] == (32, 32, 3)


# ---------------------------------------------------------------------------- tiny imagenet


def test_tiny_imagenet_files_and_decode(tmp_path):
    write_tiny_imagenet(tmp_path)
    (tp, tl), (vp, vl), wnids = data.load_tiny_imagenet_files(tmp_path)
    assert wnids == ["n02", "n01"]  # wnids.txt order, not alphabetical
    assert tl.tolist() == [0, 0, 0, 1, 1, 1]
    assert [Path(p).name for p in tp[:3]] == ["n02_0.JPEG", "n02_1.JPEG", "n02_2.JPEG"]
    assert vl.tolist() == [1, 0]  # val_0 is n01 (class 1), val_1 is n02
    (x, y), (xv, yv) = load_arrays("tiny_imagenet", tmp_path)
    assert x.shape == (6, 64, 64, 3) and x.dtype == np.uint8 and xv.shape == (2, 64, 64, 3)
    # grayscale JPEG became 3 equal channels; constant colours survive quality-100 JPEG within 2 levels
    assert np.abs(x[0].astype(int) - 20).max() <= 2 and np.array_equal(x[0, ..., 0], x[0, ..., 2])
    assert np.abs(x[4].astype(int) - 70).max() <= 2
    train, val = data.tiny_imagenet(tmp_path, batch_size=4, test_batch_size=2, augment=False)
    xb, yb = next(iter(train))
    assert xb.shape == (4, 64, 64, 3) and xb.dtype == tf.float32
    assert len(list(val)) == 1


@pytest.mark.parametrize(
    "line,match",
    [("val_0.JPEG\tn99\t0\t0\t1\t1", "n99"), ("val_0.JPEG", "expected"), ("missing.JPEG\tn01\t0\t0\t1\t1", "does not exist")],
)
def test_tiny_imagenet_bad_annotations(tmp_path, line, match):
    d = write_tiny_imagenet(tmp_path)
    (d / "val" / "val_annotations.txt").write_text(line + "\n")
    with pytest.raises(CorruptDatasetError, match=match) as info:
        data.load_tiny_imagenet_files(tmp_path)
    assert "val_annotations.txt" in str(info.value)


# ---------------------------------------------------------------------------- search order / missing


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "tiny_imagenet"])
def test_missing_dataset_error_lists_every_place(tmp_path, monkeypatch, name):
    arg, env = tmp_path / "arg", tmp_path / "env"
    arg.mkdir()
    env.mkdir()
    monkeypatch.setenv("TF_SFW_DATA_DIR", str(env))
    with pytest.raises(DatasetNotFoundError) as info:
        load_arrays(name, arg, download=False)
    msg = str(info.value)
    for where in (str(arg), str(env), str(tmp_path / "empty_keras_home"), "data_dir argument", "$TF_SFW_DATA_DIR", "Keras cache"):
        assert where in msg
    assert "--data-dir" in msg and "TF_SFW_DATA_DIR" in msg and data.DATASET_INFO[name]["url"] in msg


def test_download_failure_reported(tmp_path, monkeypatch):
    from tf_sfw._keras import keras

    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(DatasetNotFoundError, match="Keras download: failed with OSError: network unreachable"):
        load_arrays("cifar10", tmp_path)


def test_search_order_argument_then_env(tmp_path, monkeypatch):
    arg, env = tmp_path / "arg", tmp_path / "env"
    write_fashion(arg, n_train=3)
    write_fashion(env, n_train=5)
    monkeypatch.setenv("TF_SFW_DATA_DIR", str(env))
    assert len(load_arrays("fashion_mnist", arg, download=False)[0][1]) == 3
    assert len(load_arrays("fashion_mnist", download=False)[0][1]) == 5
    # an argument without the data falls through to the environment variable
    assert len(load_arrays("fashion_mnist", tmp_path / "nothing", download=False)[0][1]) == 5


def test_unknown_name():
    with pytest.raises(ValueError, match="name='svhn'"):
        load_arrays("svhn")


# ---------------------------------------------------------------------------- pipelines


def _stream(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def _toy(n=10):
    x = (np.arange(n * 4 * 4) % 256).astype(np.uint8).reshape(n, 4, 4, 1)
    return x, np.arange(n, dtype=np.int64)


@pytest.mark.parametrize("drop_remainder", [False, True])
def test_train_epochs_are_seeded_permutations(drop_remainder):
    x, y = _toy(10)
    stream = _stream(make_train_dataset(x, y, batch_size=4, seed=5, epochs=3, drop_remainder=drop_remainder))
    steps = data.steps_per_epoch(10, 4, drop_remainder)
    assert len(stream) == 3 * steps
    epochs = [np.concatenate([b[1] for b in stream[e * steps : (e + 1) * steps]]) for e in range(3)]
    for labels in epochs:
        assert len(set(labels.tolist())) == len(labels) == (8 if drop_remainder else 10)
    assert not all(np.array_equal(epochs[0], e) for e in epochs[1:])
    for xb, yb in stream:  # images follow their labels, scaled to [0, 1]
        np.testing.assert_allclose(xb, x[yb].astype(np.float32) / 255.0)
    other = _stream(make_train_dataset(x, y, batch_size=4, seed=6, epochs=3, drop_remainder=drop_remainder))
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(stream, other))


@pytest.mark.parametrize("augment", [False, True])
@pytest.mark.parametrize("initial_step", [0, 2, 3, 5, 9])
def test_train_resume_equals_tail(augment, initial_step):
    x, y = _toy(10)
    full = _stream(make_train_dataset(x, y, batch_size=4, seed=1, epochs=3, augment=augment))
    tail = _stream(make_train_dataset(x, y, batch_size=4, seed=1, epochs=3, augment=augment, initial_step=initial_step))
    assert len(tail) == len(full) - initial_step
    for (xa, ya), (xb, yb) in zip(full[initial_step:], tail):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_augment_is_padded_crop_or_flip():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 256, (16, 8, 8, 3), dtype=np.uint8)
    stream = _stream(make_train_dataset(x, np.arange(16), batch_size=16, seed=0, augment=True))
    xb, yb = stream[0]
    seen_flip = seen_shift = False
    for img, label in zip((xb * 255).round().astype(np.uint8), yb):
        padded = np.pad(x[label], ((4, 4), (4, 4), (0, 0)))
        windows = {
            (oy, ox, f)
            for oy in range(9)
            for ox in range(9)
            for f in (False, True)
            if np.array_equal(img, (padded[oy : oy + 8, ox : ox + 8][:, ::-1] if f else padded[oy : oy + 8, ox : ox + 8]))
        }
        assert windows, "augmented image is not a (flipped) window of the zero-padded original"
        seen_flip |= any(f for _, _, f in windows)
        seen_shift |= any((oy, ox) != (4, 4) for oy, ox, _ in windows)
    assert seen_flip and seen_shift


def test_eval_dataset_order():
    x, y = _toy(7)
    stream = _stream(make_eval_dataset(x, y, batch_size=3))
    assert [len(b[1]) for b in stream] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in stream]), y)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.0}, "batch_size"),
        ({"epochs": 0}, "epochs"),
        ({"initial_step": -1}, "initial_step"),
        ({"initial_step": 100}, "initial_step"),
        ({"batch_size": 20, "drop_remainder": True}, "batch_size"),
    ],
)
def test_train_dataset_invalid_args(kwargs, match):
    x, y = _toy(10)
    with pytest.raises(ValueError, match=match):
        make_train_dataset(x, y, **kwargs)


def test_length_mismatch():
    x, y = _toy(10)
    with pytest.raises(ValueError, match="same length"):
        make_train_dataset(x, y[:5])


@pytest.mark.parametrize(
    "args, message",
    [
        ((60000, 0), "batch_size=0"),
        ((60000, -5), "batch_size=-5"),
        ((60000, 2.5), "batch_size=2.5"),
        ((-1, 10), "num_examples=-1"),
    ],
)
def test_steps_per_epoch_invalid_args(args, message):
    with pytest.raises(ValueError, match=message):
        data.steps_per_epoch(*args)


@pytest.mark.parametrize("n, batch, drop, expected", [(60000, 128, False, 469), (60000, 128, True, 468), (0, 4, False, 0)])
def test_steps_per_epoch_values(n, batch, drop, expected):
    assert data.steps_per_epoch(n, batch, drop) == expected


def test_subset_larger_than_split_is_refused():
    x, y = _toy(10)
    with pytest.raises(ValueError, match=r"at most the 10 examples.*subset=11"):
        data._subset(x, y, 11, seed=0)
    xs, ys = data._subset(x, y, 10, seed=0)
    np.testing.assert_array_equal(ys, y)
    xs, ys = data._subset(x, y, 4, seed=0)
    assert len(ys) == 4 and len(set(ys.tolist())) == 4 and set(ys.tolist()) <= set(y.tolist())
    with pytest.raises(ValueError, match="subset=0"):
        data._subset(x, y, 0, seed=0)


@pytest.mark.parametrize("shape", [(2, 28, 28), (3, 28, 28, 1), (1, 27, 30, 3)])
def test_pad_images_centres_the_image(shape):
    x = np.random.default_rng(0).integers(1, 255, size=shape).astype(np.uint8)
    out = data.pad_images(x, 32)
    assert out.shape == (shape[0], 32, 32) + tuple(shape[3:]) and out.dtype == x.dtype
    top, left = (32 - shape[1]) // 2, (32 - shape[2]) // 2
    np.testing.assert_array_equal(out[:, top : top + shape[1], left : left + shape[2]], x)
    assert out.sum() == x.sum()  # everything else is zero
    side = max(shape[1:3])  # padding only the shorter side, extra row/column below/right
    rows, cols = side - shape[1], side - shape[2]
    expected = np.pad(x, [(0, 0), (rows // 2, rows - rows // 2), (cols // 2, cols - cols // 2)] + [(0, 0)] * (len(shape) - 3))
    np.testing.assert_array_equal(data.pad_images(x, side), expected)


@pytest.mark.parametrize("x, size, match", [
    (np.zeros((2, 28, 28)), 20, "size.*at least the image side 28.*size=20"),
    (np.zeros((28, 28)), 32, "batch of images.*shape \\(28, 28\\)"),
    (np.zeros((0, 28, 28)), 32, "non-empty"),
    (np.zeros((2, 28, 28)), 0, "size"),
])
def test_pad_images_invalid_args(x, size, match):
    with pytest.raises(ValueError, match=match):
        data.pad_images(x, size)
