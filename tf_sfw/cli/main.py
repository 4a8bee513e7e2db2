"""Entry point of the ``tf-sfw`` command.

Each sub-command lives in its own module of this package and exposes two functions:
``add_parser(subparsers)`` that registers its arguments, and ``run(args) -> int`` that executes
it. This module only dispatches.

Building the parsers imports no TensorFlow: the command modules import only the standard
library, :mod:`tf_sfw.cli._common` and :mod:`tf_sfw.validation` at module level, and import
TensorFlow-using modules inside ``run``. So ``tf-sfw --help`` and ``tf-sfw CMD --help`` answer
at once, and a bad command line is refused before TensorFlow loads.
"""

import argparse
import importlib
import sys

from tf_sfw.cli._common import HelpFormatter

# Sub-command name -> module (relative to tf_sfw.cli), in the order of the help.
COMMANDS = {
    "train": "train",
    "prune": "prune",
    "sweep": "sweep",
    "shrink": "shrink",
    "demo": "demo",
}

EPILOG = """\
exit status: 0 success; 1 the command failed while running (missing or unreadable files,
an unwritable output folder, a diverged run); 2 an invalid command line.
Run `tf-sfw COMMAND --help` for the options of a command."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tf-sfw",
        description="Train pruning-friendly networks with Stochastic Frank-Wolfe, prune them once to any "
        "sparsity, export them.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        importlib.import_module(f"tf_sfw.cli.{module_name}").add_parser(subparsers)
    return parser


def main(argv=None):
    """Runs ``tf-sfw`` with ``argv`` (default: sys.argv[1:]) and returns the exit code.

    argparse's own exits (``--help``: 0, a usage error: 2) are returned, not raised, so that
    ``main`` can be called from Python.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    module = importlib.import_module(f"tf_sfw.cli.{COMMANDS[args.command]}")
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
