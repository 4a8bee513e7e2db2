"""The option values of structured pruning, in one framework-free place.

`tf_sfw.pruning.structured` validates against these tuples; ``tf-sfw shrink`` and
``scripts/reproduce_structured.py`` offer them as command-line choices without importing
TensorFlow (so that ``--help`` and argument errors stay fast). `mode_conflict` is the one
statement of which options need which mode; each caller words the error for its own interface.
"""

from typing import NamedTuple

__all__ = ["NORMS", "SCORES", "CALIBRATED_SCORES", "NORMALIZATIONS", "MODES", "COSTS", "ModeConflict", "mode_conflict"]

#: Filter norms of the kernel-based scores.
NORMS = ("l2", "l1")
#: Channel scores (see `tf_sfw.pruning.structured`).
SCORES = ("kernel", "bn_gamma", "bn_scaled", "activation", "greedy_least_squares")
#: Scores measured on calibration inputs.
CALIBRATED_SCORES = ("activation", "greedy_least_squares")
#: Score normalisations across groups in global mode.
NORMALIZATIONS = ("mean", "none")
#: Selection modes: one threshold over all groups, or the same fraction of every group.
MODES = ("global", "layerwise")
#: Channel costs of the global plan ("none": every channel counts alike; "flops": multiply-adds).
COSTS = ("none", "flops")


class ModeConflict(NamedTuple):
    """An option whose value needs another selection mode: ``option`` (``"score"`` or
    ``"cost"``) has ``value``, which needs ``mode`` for the reason ``why``."""

    option: str
    value: str
    mode: str
    why: str


def mode_conflict(mode, score=None, cost="none"):
    """The first of ``score`` and ``cost`` that does not work with ``mode``, as a
    `ModeConflict`, or None when both do.

    * ``score="greedy_least_squares"`` ranks the channels within each group (the order of
      greedy removal), and ranks do not compare across groups: it needs ``"layerwise"``.
    * A ``cost`` other than ``"none"`` weighs channels of different layers against each other:
      it needs ``"global"``.
    """
    if score == "greedy_least_squares" and mode == "global":
        return ModeConflict("score", score, "layerwise", "ranks the channels within each layer")
    if cost != "none" and mode != "global":
        return ModeConflict("cost", cost, "global", "weighs channels of different layers against each other")
    return None
