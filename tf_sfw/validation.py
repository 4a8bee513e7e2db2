"""Shared argument validators.

Every public function and serializable object of the package validates its arguments
through these helpers, so that one kind of mistake always reads the same way. Each
message names the argument as the caller typed it (a Python parameter such as ``k_frac``,
or a command-line flag such as ``--tau`` when the caller passes ``name="--tau"``) and the
value received, e.g.::

    ValueError: `k_frac` must be in (0, 1]. Received: k_frac=0

Pure Python: importing this module imports neither numpy's heavy parts nor TensorFlow.
"""

import math
import numbers

__all__ = [
    "check_choice",
    "check_fraction",
    "check_int",
    "check_milestones",
    "check_milestones_frac",
    "check_number",
    "check_positive_int",
    "check_positive_number",
    "received",
]


def received(name, value):
    """The ``Received: name=value`` tail of every message (flags keep their dashes)."""
    return f"Received: {name}={value!r}"


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(value, name, minimum=None, maximum=None):
    """Return ``int(value)`` if it is an integer in ``[minimum, maximum]`` (bounds optional)."""
    ok = _is_int(value)
    ok = ok and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        if minimum is not None and maximum is not None:
            what = f"an integer in [{minimum}, {maximum}]"
        elif minimum is not None:
            what = f"an integer >= {minimum}"
        elif maximum is not None:
            what = f"an integer <= {maximum}"
        else:
            what = "an integer"
        raise ValueError(f"`{name}` must be {what}. {received(name, value)}")
    return int(value)


def check_positive_int(value, name):
    """Return ``int(value)`` if it is an integer >= 1."""
    return check_int(value, name, minimum=1)


def check_number(value, name, low=None, high=None, low_open=False, high_open=False):
    """Return ``float(value)`` if it is a finite real number in the given interval.

    ``low``/``high`` are optional bounds; ``low_open``/``high_open`` make them strict.
    Booleans, NaN and infinities are refused.
    """
    ok = _is_real(value) and math.isfinite(float(value))
    if ok and low is not None:
        ok = float(value) > low if low_open else float(value) >= low
    if ok and high is not None:
        ok = float(value) < high if high_open else float(value) <= high
    if not ok:
        if low is not None and high is not None:
            what = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            what = f"a finite number {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            what = f"a finite number {'<' if high_open else '<='} {high:g}"
        else:
            what = "a finite number"
        raise ValueError(f"`{name}` must be {what}. {received(name, value)}")
    return float(value)


def check_positive_number(value, name):
    """Return ``float(value)`` if it is a finite number > 0."""
    return check_number(value, name, low=0.0, low_open=True)


def check_fraction(value, name, closed_right=False):
    """Return ``float(value)`` if it is in ``[0, 1)`` (``[0, 1]`` with ``closed_right``)."""
    return check_number(value, name, low=0.0, high=1.0, high_open=not closed_right)


def check_choice(value, name, choices):
    """Return ``value`` if it is one of ``choices``."""
    if value not in tuple(choices):
        raise ValueError(f"`{name}` must be one of {tuple(choices)}. {received(name, value)}")
    return value


def check_milestones(milestones, name="milestones"):
    """Return ``milestones`` as a tuple of strictly increasing 1-based epochs >= 2."""
    try:
        milestones = tuple(milestones)
    except TypeError:
        raise ValueError(f"`{name}` must be a sequence of ints. Received: {name}={milestones!r}") from None
    for m in milestones:
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 2:
            raise ValueError(
                f"`{name}` must hold 1-based epoch numbers >= 2 (epoch 1 starts at the initial rate). "
                f"Received: {name}={milestones!r}"
            )
    if list(milestones) != sorted(set(milestones)):
        raise ValueError(f"`{name}` must be strictly increasing. Received: {name}={milestones!r}")
    return tuple(int(m) for m in milestones)


def check_milestones_frac(fractions, name="milestones_frac"):
    """Return ``fractions`` as a tuple of strictly increasing numbers in (0, 1)."""
    try:
        fractions = tuple(fractions)
    except TypeError:
        raise ValueError(f"`{name}` must be a sequence of numbers in (0, 1). Received: {name}={fractions!r}") from None
    for f in fractions:
        try:
            check_number(f, name, low=0.0, high=1.0, low_open=True, high_open=True)
        except ValueError:
            raise ValueError(
                f"`{name}` must hold fractions of the run in (0, 1). Received: {name}={fractions!r}"
            ) from None
    if list(fractions) != sorted(set(fractions)):
        raise ValueError(f"`{name}` must be strictly increasing. Received: {name}={fractions!r}")
    return tuple(float(f) for f in fractions)
