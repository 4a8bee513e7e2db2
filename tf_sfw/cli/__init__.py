"""Command-line interface: ``tf-sfw <command>`` (:mod:`tf_sfw.cli.main`)."""

__all__ = ["main"]


def main(argv=None):
    """``tf-sfw`` (see :func:`tf_sfw.cli.main.main`).

    A function rather than a re-export, so that importing the package does not import
    ``tf_sfw.cli.main`` (``python -m tf_sfw.cli.main`` would warn that the module was already
    imported).
    """
    from tf_sfw.cli.main import main as _main

    return _main(argv)
