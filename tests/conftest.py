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
