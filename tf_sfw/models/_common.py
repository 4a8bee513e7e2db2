"""Argument checks shared by the model builders (private)."""

from tf_sfw import validation

__all__ = ["check_input_shape", "check_num_classes", "check_classifier_activation"]


def check_input_shape(input_shape, min_spatial=1):
    """Validate ``(height, width, channels)`` and return it as a tuple of ints."""
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"`input_shape` must be a tuple (height, width, channels) of positive ints. Received: input_shape={input_shape!r}"
        ) from None
    if len(shape) != 3 or any(d <= 0 for d in shape) or any(int(d) != d for d in input_shape):
        raise ValueError(
            f"`input_shape` must be a tuple (height, width, channels) of positive ints. Received: input_shape={input_shape!r}"
        )
    if min(shape[:2]) < min_spatial:
        raise ValueError(
            f"`input_shape` height and width must be >= {min_spatial} for this model. Received: input_shape={input_shape!r}"
        )
    return shape


def check_num_classes(num_classes):
    """Validate the number of classes (an int >= 2)."""
    return validation.check_int(num_classes, "num_classes", minimum=2)


def check_classifier_activation(activation):
    """Validate the classifier activation (``"softmax"`` or ``None``/``"linear"`` for logits)."""
    if activation not in ("softmax", None, "linear"):
        raise ValueError(
            "`classifier_activation` must be 'softmax' or None (logits). "
            f"Received: classifier_activation={activation!r}"
        )
    return None if activation == "linear" else activation
