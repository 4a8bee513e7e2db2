"""Tests for tf_sfw.validation: accepted values pass through, refused ones name the argument."""

import math

import numpy as np
import pytest

from tf_sfw import validation as v


@pytest.mark.parametrize("value", [1, 7, np.int64(3)])
def test_check_positive_int_accepts(value):
    out = v.check_positive_int(value, "epochs")
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [0, -1, 1.0, True, "3", None])
def test_check_positive_int_refuses(value):
    with pytest.raises(ValueError, match=r"`epochs` must be an integer >= 1\. Received: epochs="):
        v.check_positive_int(value, "epochs")


def test_check_int_bounds_message():
    assert v.check_int(0, "k", minimum=0, maximum=4) == 0
    with pytest.raises(ValueError, match=r"in \[0, 4\]\. Received: k=5"):
        v.check_int(5, "k", minimum=0, maximum=4)
    with pytest.raises(ValueError, match=r"<= 4\. Received: k=5"):
        v.check_int(5, "k", maximum=4)


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, math.inf, True, "1"])
def test_check_positive_number_refuses_with_flag_name(value):
    with pytest.raises(ValueError, match=r"`--tau` must be a finite number > 0\. Received: --tau="):
        v.check_positive_number(value, "--tau")


def test_check_number_intervals():
    assert v.check_number(1, "lr") == 1.0
    assert v.check_number(0.0, "x", low=0.0) == 0.0
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        v.check_number(0.0, "k_frac", low=0.0, high=1.0, low_open=True)
    assert v.check_number(1.0, "k_frac", low=0.0, high=1.0, low_open=True) == 1.0
    with pytest.raises(ValueError, match=r"< 2"):
        v.check_number(2.0, "x", high=2.0, high_open=True)


@pytest.mark.parametrize("closed_right,value,ok", [(False, 0.0, True), (False, 1.0, False), (True, 1.0, True), (True, 1.01, False), (False, -0.1, False)])
def test_check_fraction(closed_right, value, ok):
    if ok:
        assert v.check_fraction(value, "sparsity", closed_right=closed_right) == value
    else:
        with pytest.raises(ValueError, match=r"`sparsity` must be in \[0, 1[\)\]]\. Received: sparsity="):
            v.check_fraction(value, "sparsity", closed_right=closed_right)


def test_check_choice():
    assert v.check_choice("radix", "selection", ("radix", "topk")) == "radix"
    with pytest.raises(ValueError, match=r"one of \('radix', 'topk'\)\. Received: selection='fast'"):
        v.check_choice("fast", "selection", ("radix", "topk"))


def test_validation_imports_no_tensorflow():
    import subprocess
    import sys

    code = "import sys, tf_sfw.validation; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
