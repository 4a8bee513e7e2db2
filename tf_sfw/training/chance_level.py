"""Chance-level check of a finished run, for both Keras flavours (imports nothing heavy).

A run whose loss stays finite can still learn nothing: e.g. every ReLU dead after a too-large
first step leaves the network predicting one class. The divergence check does not stop such a
run, so its final test accuracy is checked instead: at most ``CHANCE_LEVEL_FACTOR / num_classes``
counts as chance level.
"""

import warnings

__all__ = ["CHANCE_LEVEL_FACTOR", "chance_level_warning", "record_chance_level"]

#: A final test accuracy at most this multiple of ``1 / num_classes`` counts as chance level.
CHANCE_LEVEL_FACTOR = 1.5


def chance_level_warning(accuracy, num_classes):
    """The warning text for a run whose test ``accuracy`` is at chance level, else None."""
    if accuracy > CHANCE_LEVEL_FACTOR / num_classes:
        return None
    return (f"The trained model's test accuracy {accuracy:.4f} is at chance level for {num_classes} classes "
            f"(1/{num_classes} = {1 / num_classes:.4f}): the network did not learn. Check the learning rate, the "
            "constraint's radius and the data; metrics.json records at_chance_level=true.")


def record_chance_level(metrics, num_classes):
    """Sets ``metrics["at_chance_level"]`` from ``metrics["test_accuracy"]`` and warns
    (``RuntimeWarning``, at the caller of the training function) when the run is at chance level."""
    warning = chance_level_warning(metrics["test_accuracy"], num_classes)
    metrics["at_chance_level"] = warning is not None
    if warning is not None:
        warnings.warn(warning, RuntimeWarning, stacklevel=3)
