"""The option values of structured pruning, in one framework-free place.

`tf_sfw.pruning.structured` validates against these tuples; ``tf-sfw shrink`` and
``scripts/reproduce_structured.py`` offer them as command-line choices without importing
TensorFlow (so that ``--help`` and argument errors stay fast).
"""

__all__ = ["NORMS", "SCORES", "CALIBRATED_SCORES", "NORMALIZATIONS", "MODES", "COSTS"]

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
