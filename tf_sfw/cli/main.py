"""Entry point of the ``tf-sfw`` command.

Each sub-command lives in its own module of this package and exposes two
functions: ``add_parser(subparsers)`` that registers its arguments, and
``run(args) -> int`` that executes it. This module only dispatches.
"""

import argparse
import importlib
import sys

# Sub-command name -> module (relative to tf_sfw.cli). Modules are imported
# lazily so that `tf-sfw --help` does not pay for importing TensorFlow.
COMMANDS = {
    "train": "train",
    "prune": "prune",
    "sweep": "sweep",
    "demo": "demo",
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tf-sfw",
        description="Train pruning-friendly networks with Stochastic Frank-Wolfe, prune them once to any sparsity, export them.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"tf_sfw.cli.{module_name}")
        except ModuleNotFoundError as err:
            if err.name != f"tf_sfw.cli.{module_name}":
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(f"tf_sfw.cli.{COMMANDS[args.command]}")
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
