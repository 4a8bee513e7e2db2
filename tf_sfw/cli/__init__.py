"""Command-line interface: ``tf-sfw <command>``."""

from tf_sfw.cli.main import main

__all__ = ["main"]
