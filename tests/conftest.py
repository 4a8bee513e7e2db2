"""Test-session settings: quiet TensorFlow's C++ logs, keep threads modest on 2 cores."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
