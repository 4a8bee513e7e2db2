"""Tests for tf_sfw/cli/main.py and tf_sfw/cli/_common.py: lazy fast help, quiet TensorFlow,
the help text of every command, exit codes and the shared helpers."""

import argparse
import json
import os
import subprocess
import sys

import pytest

from tf_sfw.cli import _common
from tf_sfw.cli.main import COMMANDS, build_parser, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Builds the parser and prints the help of the command in argv[1:] in a fresh interpreter, then
# reports whether TensorFlow got imported and how long it took from before the first tf_sfw import.
HELP_PROBE = r"""
import io, json, sys, time, contextlib
HEAVY = ("tensorflow", "tf_keras", "keras", "tensorflow_model_optimization", "jax")
start = time.perf_counter()
from tf_sfw.cli.main import main
buffer = io.StringIO()
with contextlib.redirect_stdout(buffer):
    code = main(sys.argv[1:] + ["--help"])
seconds = time.perf_counter() - start
print(json.dumps({"code": code, "seconds": seconds, "tensorflow": "tensorflow" in sys.modules,
                  "heavy": sorted(m for m in HEAVY if m in sys.modules),
                  "help": buffer.getvalue()}))
"""


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, action.choices


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)])
def test_help_answers_fast_without_importing_tensorflow(command):
    """`tf-sfw --help` and `tf-sfw CMD --help`: no TensorFlow import, well under 1 s."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", HELP_PROBE, *command], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["code"] == 0
    assert result["heavy"] == [], f"building the parser imported {result['heavy']}"
    assert result["seconds"] < 1.0
    assert ("usage: tf-sfw " + " ".join(command)).strip() in result["help"]
    assert proc.stderr == ""  # no TensorFlow log lines either


def test_python_m_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tf_sfw.cli.main", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and "usage: tf-sfw" in proc.stdout
    assert proc.stderr == ""  # in particular no runpy warning about tf_sfw.cli.main being imported twice


def test_command_error_is_one_quiet_line(tmp_path):
    """A failing command prints one error line: no traceback, no TensorFlow C++ log lines."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    missing = str(tmp_path / "missing.keras")
    proc = subprocess.run(
        [sys.executable, "-m", "tf_sfw.cli.main", "prune", "--model", missing, "--sparsity", "0.5",
         "--out", str(tmp_path / "o"), "--no-eval"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [f"tf-sfw prune: error: `--model` does not exist. Received: --model={missing!r}"]


def test_debug_shows_the_traceback(tmp_path):
    missing = str(tmp_path / "missing.keras")
    with pytest.raises(_common.CommandError, match="does not exist"):
        main(["prune", "--model", missing, "--sparsity", "0.5", "--out", str(tmp_path / "o"), "--no-eval", "--debug"])


def test_no_command_prints_help_and_returns_2(capsys):
    assert main([]) == 2
    assert "usage: tf-sfw" in capsys.readouterr().err


def test_argparse_exits_are_returned(capsys):
    assert main(["--help"]) == 0
    assert main(["train", "--out", "x", "--epochs", "0"]) == 2
    assert main(["nope"]) == 2


def _help_of(subparser, action):
    formatter = subparser._get_formatter()
    return formatter._expand_help(action) if action.help else ""


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_default_shown_exactly_once(command):
    _, subparsers = _subparsers()
    sub = subparsers[command]
    text = sub.format_help()
    assert "%%" not in text and "%(" not in text
    for bad in ("(default: None)", "(default: True)", "(default: False)", "(default: [])"):
        assert bad not in text
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        help_text = _help_of(sub, action)
        assert help_text, f"{action.option_strings} has no help"
        assert help_text.count("default") <= 1, help_text
        if action.nargs != 0 and action.default is not None:  # options that take a value
            assert help_text.count("default") == 1, f"{action.option_strings}: {help_text!r}"
    # the epochs of `tf-sfw train` (180, the paper's setting) are stated
    if command == "train":
        assert "--epochs N            training epochs (default: 180" in text


def test_boolean_flags_name_their_default():
    _, subparsers = _subparsers()
    text = " ".join(subparsers["train"].format_help().split())
    assert "--download, --no-download download the data set when it is not found locally (default: --download)" in text
    assert "--deterministic, --no-deterministic" in text and "(default: --deterministic)" in text
    args = build_parser().parse_args(["train", "--out", "x", "--no-download", "--no-deterministic"])
    assert args.download is False and args.deterministic is False


def test_train_choices_match_library():
    from tf_sfw import data, models, training
    from tf_sfw.cli import train as cli_train

    assert cli_train.MODELS == tuple(models.MODELS)
    assert cli_train.DATASETS == data.DATASETS
    assert cli_train.OPTIMIZERS == training.OPTIMIZERS
    assert cli_train.CONSTRAINTS == training.CONSTRAINTS
    assert cli_train.SCHEDULES == training.SCHEDULES
    assert cli_train.RESCALES == training.RESCALES
    assert cli_train.MODES == training.MODES
    assert set(_common.EVAL_DATASETS) <= set(data.DATASETS)


# ----------------------------------------------------------------------------------------
# The learning rate follows --rescale


@pytest.mark.parametrize(
    "argv,expected",
    [
        ([], 1.0),
        (["--rescale", "gradient"], 1.0),
        (["--rescale", "diameter"], 0.3),
        (["--rescale", "none"], 0.003),
        (["--optimizer", "sgd"], 0.1),
        (["--rescale", "none", "--lr", "0.02"], 0.02),
    ],
)
def test_default_learning_rate_follows_rescale(argv, expected):
    from tf_sfw.cli import train as cli_train

    args = build_parser().parse_args(["train", "--out", "x", *argv])
    assert cli_train.config_from_args(args).learning_rate == expected


def test_lr_help_states_each_default():
    _, subparsers = _subparsers()
    text = " ".join(subparsers["train"].format_help().split())
    assert ("(default: sfw 1 with --rescale gradient, 0.3 with --rescale diameter, 0.003 with --rescale none; "
            "sgd 0.1)") in text


def test_rescale_none_with_lr_1_warns(tmp_path, capsys, monkeypatch):
    from tf_sfw.cli import train as cli_train

    args = build_parser().parse_args(["train", "--out", str(tmp_path), "--rescale", "none", "--lr", "1"])
    cli_train._check_combinations(args)
    assert "--rescale none with --lr 1" in capsys.readouterr().err
    args = build_parser().parse_args(["train", "--out", str(tmp_path), "--rescale", "none"])
    cli_train._check_combinations(args)
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------------------
# Helpers


@pytest.mark.parametrize(
    "make,text,expected",
    [
        (lambda: _common.int_type("--n", minimum=1), "3", 3),
        (lambda: _common.int_type("--n", minimum=0), "0", 0),
        (lambda: _common.float_type("--x", low=0.0, low_open=True), "1e-3", 1e-3),
        (lambda: _common.float_type("--x", low=0.0, high=1.0, high_open=True), "0", 0.0),
    ],
)
def test_argument_types_accept(make, text, expected):
    assert make()(text) == expected


@pytest.mark.parametrize(
    "make,text,message",
    [
        (lambda: _common.int_type("--n", minimum=1), "0", "`--n` must be an integer >= 1. Received: --n=0"),
        (lambda: _common.int_type("--n"), "1.5", "`--n` must be an integer. Received: --n='1.5'"),
        (lambda: _common.float_type("--x", low=0.0, low_open=True), "0", "`--x` must be a finite number > 0. Received: --x=0.0"),
        (lambda: _common.float_type("--x", low=0.0, low_open=True), "-1", "`--x` must be a finite number > 0. Received: --x=-1.0"),
        (lambda: _common.float_type("--x"), "nan", "`--x` must be a finite number. Received: --x=nan"),
        (lambda: _common.float_type("--x"), "abc", "`--x` must be a number. Received: --x='abc'"),
    ],
)
def test_argument_types_refuse(make, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        make()(text)
    assert str(info.value) == message


def test_check_output_dir(tmp_path):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    assert _common.check_output_dir(tmp_path / "new" / "deeper") == str(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists()  # nothing is created by the check
    with pytest.raises(_common.CommandError, match="is a file"):
        _common.check_output_dir(afile)
    with pytest.raises(_common.CommandError, match=r"cannot be created: .*file.txt' is a file"):
        _common.check_output_dir(afile / "sub", "--export-dir")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_check_output_dir_permission(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(_common.CommandError, match="not writable"):
            _common.check_output_dir(locked / "out")
    finally:
        locked.chmod(0o700)


def test_run_command_exit_codes(capsys):
    def fail(exc):
        def fn(args):
            raise exc
        return fn

    args = argparse.Namespace(debug=False)
    assert _common.run_command("x", fail(_common.UsageError("bad flag")), args) == 2
    assert _common.run_command("x", fail(ValueError("bad file")), args) == 1
    assert _common.run_command("x", fail(FileNotFoundError(2, "No such file", "/a/b")), args) == 1
    assert _common.run_command("x", fail(RuntimeError("diverged")), args) == 1
    assert _common.run_command("x", lambda a: 0, args) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["tf-sfw x: error: bad flag", "tf-sfw x: error: bad file",
                   "tf-sfw x: error: [Errno 2] No such file: '/a/b'", "tf-sfw x: error: diverged"]
    with pytest.raises(KeyError):  # a bug is not dressed up as a user error
        _common.run_command("x", fail(KeyError("k")), args)
