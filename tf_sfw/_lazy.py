"""Lazy package faces (PEP 562): public names are imported on first use.

`install(module_name, names)` gives a package a module ``__getattr__`` and ``__dir__``
that import the defining module of a public name when it is first touched, so that
importing the package itself imports nothing heavy (TensorFlow, tfmot).
"""

import importlib
import sys
import types

__all__ = ["install"]


class _Package(types.ModuleType):
    """Module type of a lazy package: keeps functions named like their own module.

    The import system sets every submodule as an attribute of its package when it is
    first imported. Where a public function has the name of the submodule defining it
    (``tf_sfw.sfw_init.sfw_init``, ``tf_sfw.pruning.sweep.sweep``) that would replace the
    function by the module: the function is stored instead, as an eager
    ``from .sfw_init import sfw_init`` would have left it (the module stays in
    ``sys.modules``).
    """

    def __setattr__(self, name, value):
        shadowed = self.__dict__.get("_lazy_names", {}).get(name)
        if shadowed is not None and isinstance(value, types.ModuleType) and value.__name__ == shadowed[0]:
            value = getattr(value, shadowed[1])
        super().__setattr__(name, value)


def install(module_name, names):
    """Makes package ``module_name`` lazy.

    Args:
        module_name: The package's ``__name__``.
        names: ``{public name: (module, attribute)}``; ``attribute`` None means the
            module itself (a submodule exported by name).

    Returns:
        ``__all__``: the public names, in the given order.
    """
    package = sys.modules[module_name]

    def __getattr__(name):
        if name not in names:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        module, attribute = names[name]
        value = importlib.import_module(module)
        if attribute is not None:
            value = getattr(value, attribute)
        setattr(package, name, value)  # later lookups skip __getattr__
        return value

    def __dir__():
        return sorted(set(package.__dict__) | set(names))

    package.__getattr__ = __getattr__
    package.__dir__ = __dir__
    package._lazy_names = {n: target for n, target in names.items() if target[1] == n and target[0].endswith("." + n)}
    package.__class__ = _Package
    return list(names)
