"""Test-session settings: quiet TensorFlow's C++ logs, keep threads modest on 2 cores."""

import importlib.util
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: The real MNIST / Fashion-MNIST folder: ``shared/`` sits next to the repository (also in CI).
SHARED_DATA_DIR = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "keras")


def load_script(name):
    """The module ``scripts/<name>.py`` (scripts are not a package)."""
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_tiny_mnist(root, num_train, num_test, directories=("",)):
    """Writes a tiny learnable ``mnist.npz`` (class-dependent brightness, seeded) into
    ``root / d`` for each ``d`` of ``directories``; returns ``root``."""
    import numpy as np

    rng = np.random.default_rng(0)

    def split(n):
        y = rng.integers(0, 10, n)
        x = (rng.integers(0, 60, (n, 28, 28)) + (y * 19)[:, None, None]).astype(np.uint8)
        return x, y.astype(np.uint8)

    (x_train, y_train), (x_test, y_test) = split(num_train), split(num_test)
    for name in directories:
        directory = Path(root) / name
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return Path(root)
