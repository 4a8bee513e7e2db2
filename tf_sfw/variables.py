"""Names of model variables (pure Python: no TensorFlow import)."""

__all__ = ["short_name"]


def short_name(variable_or_name):
    """The last component of a variable's name: ``"outer/fc/kernel:0"`` -> ``"kernel"``.

    Accepts a variable (anything with a ``name``) or its name as a string.
    """
    name = getattr(variable_or_name, "name", variable_or_name)
    return str(name).split("/")[-1].split(":")[0]
