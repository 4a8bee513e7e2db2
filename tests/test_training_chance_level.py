"""Tests for tf_sfw.training.chance_level (the finished run's chance-level check)."""

import subprocess
import sys

import pytest

from tf_sfw.training.chance_level import CHANCE_LEVEL_FACTOR, chance_level_warning


@pytest.mark.parametrize("accuracy, classes, warns", [(0.15, 10, True), (0.1501, 10, False), (0.5, 2, True),
                                                      (0.76, 2, False), (0.0, 100, True), (0.015, 100, True)])
def test_threshold_is_one_and_a_half_times_chance(accuracy, classes, warns):
    assert CHANCE_LEVEL_FACTOR == 1.5
    warning = chance_level_warning(accuracy, classes)
    assert (warning is not None) is warns
    if warns:
        assert f"test accuracy {accuracy:.4f} is at chance level for {classes} classes" in warning


def test_imports_nothing_heavy():
    code = "import sys, tf_sfw.training.chance_level; print(any(m in sys.modules for m in ('tensorflow', 'keras')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
