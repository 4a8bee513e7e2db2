"""Tests of tf_sfw.pruning.structured_options (framework-free)."""

import itertools
import subprocess
import sys

import pytest

from tf_sfw.pruning.structured_options import COSTS, MODES, SCORES, ModeConflict, mode_conflict


@pytest.mark.parametrize("mode, score, cost", itertools.product(MODES, SCORES, COSTS))
def test_mode_conflict_matches_the_two_rules(mode, score, cost):
    conflict = mode_conflict(mode, score=score, cost=cost)
    score_bad = score == "greedy_least_squares" and mode == "global"
    cost_bad = cost != "none" and mode == "layerwise"
    if score_bad:
        assert conflict == ModeConflict("score", score, "layerwise", "ranks the channels within each layer")
    elif cost_bad:
        assert conflict[:3] == ("cost", cost, "global")
    else:
        assert conflict is None


def test_mode_conflict_defaults_to_no_score_and_no_cost():
    assert mode_conflict("global") is None
    assert mode_conflict("layerwise") is None


def test_importing_the_options_does_not_import_tensorflow():
    code = "import sys, tf_sfw.pruning.structured_options; print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
