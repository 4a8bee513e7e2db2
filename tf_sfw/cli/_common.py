"""Pieces shared by the ``tf-sfw`` commands: argument types, shared arguments, exit codes,
error reporting, quiet TensorFlow, output folders and the data set of a trained model.

This module imports only the standard library and :mod:`tf_sfw.validation`, so that building
the parsers (``tf-sfw --help``, ``tf-sfw CMD --help``) never imports TensorFlow. Helpers that
need TensorFlow import it inside their bodies, and run only from a command's ``run``.

Exit codes of every command: 0 success; 1 a runtime failure (a missing or unreadable model or
data file, an unwritable output folder, a diverged run, ...); 2 an invalid command line
(argparse's own usage errors and the checks of flag values and flag combinations made here).
Errors print one line, ``tf-sfw CMD: error: ...``, without a traceback; ``--debug`` shows the
traceback and TensorFlow's log lines.
"""

import argparse
import contextlib
import json
import os
import sys
import textwrap

from tf_sfw import validation

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "DEFAULT_SPARSITIES",
    "EVAL_DATASETS",
    "HelpFormatter",
    "UsageError",
    "CommandError",
    "add_common_arguments",
    "add_data_arguments",
    "add_keras_arguments",
    "add_scope_arguments",
    "check_output_dir",
    "dataset_of_model",
    "eval_dataset",
    "float_type",
    "int_type",
    "add_reconstruct_argument",
    "add_retrain_arguments",
    "calibration_images",
    "check_reconstruct",
    "write_sweep_outputs",
    "load_arrays_subset",
    "load_model_argument",
    "check_model_input",
    "parse_layers",
    "parse_sparsities",
    "parse_sparsity",
    "quiet_tensorflow",
    "resolve_dataset",
    "run_command",
    "select_keras",
    "refuse_for_keras3",
    "write_json",
]

EXIT_OK = 0
#: A runtime failure: the command line was valid but the command could not do its work.
EXIT_FAILURE = 1
#: An invalid command line (argparse's own exit code for usage errors).
EXIT_USAGE = 2

#: Data sets that `tf-sfw prune` / `tf-sfw sweep` can evaluate on (in-memory arrays).
EVAL_DATASETS = ("mnist", "fashion_mnist", "cifar10")
DEFAULT_SPARSITIES = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95,0.98,0.99"


class UsageError(ValueError):
    """An invalid or incomplete command line found after parsing: exit 2.

    A bad flag value, conflicting flags, or a flag this situation requires (e.g. ``--dataset``
    for a model without a config.json, ``--resume`` for a folder holding an interrupted run).
    """


class CommandError(RuntimeError):
    """A valid command line that cannot be carried out (e.g. an unwritable ``--out``): exit 1."""


class HelpFormatter(argparse.HelpFormatter):
    """Shows ``(default: X)`` once for every option that takes a value and has a default.

    Options whose help already mentions their default (e.g. a default that depends on other
    flags) and flags without a value (``store_true``, ``--no-...``) get nothing appended, so
    that no default is shown twice and no ``--no-x`` reads "(default: True)". Descriptions and
    epilogs are wrapped paragraph by paragraph (blank lines between paragraphs are kept).
    """

    def _fill_text(self, text, width, indent):
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
        return "\n\n".join(
            textwrap.fill(p, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)
            for p in paragraphs
        )

    def _get_help_string(self, action):
        text = action.help or ""
        if isinstance(action, argparse.BooleanOptionalAction):
            # Some Python versions append their own "(default: %(default)s)" (True/False): the
            # help of these flags names the default flag itself, e.g. "(default: --download)".
            text = text.replace(" (default: %(default)s)", "")
        takes_value = action.nargs != 0
        if (
            action.option_strings
            and takes_value
            and action.default is not None
            and action.default is not argparse.SUPPRESS
            and "default" not in text
        ):
            default = action.default
            if isinstance(default, (list, tuple)):
                default = " ".join(str(v) for v in default) or "none"
            text += f" (default: {str(default).replace('%', '%%')})"  # argparse expands % in help
        return text


# ----------------------------------------------------------------------------------------
# Argument types: each validates through tf_sfw.validation with the flag as the name, so a bad
# value reads e.g. "argument --tau: `--tau` must be a finite number > 0. Received: --tau=-1.0"
# and exits with the usage code 2.


def _argument_type(flag, convert, kind, check):
    def parse(text):
        try:
            value = convert(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"`{flag}` must be {kind}. {validation.received(flag, text)}") from None
        try:
            return check(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = kind  # argparse names the type in some messages
    return parse


def int_type(flag, minimum=None, maximum=None):
    """argparse ``type``: an integer in ``[minimum, maximum]``; errors name ``flag``."""
    return _argument_type(flag, int, "an integer",
                          lambda v: validation.check_int(v, flag, minimum=minimum, maximum=maximum))


def float_type(flag, low=None, high=None, low_open=False, high_open=False):
    """argparse ``type``: a finite number in the given interval; errors name ``flag``."""
    return _argument_type(flag, float, "a number",
                          lambda v: validation.check_number(v, flag, low, high, low_open, high_open))


def parse_sparsity(text, name="--sparsity"):
    """``"0.9"`` or ``"90%"`` -> ``0.9``; raises ValueError outside ``[0, 1)`` naming ``name``."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(
            f"`{name}` must be a number in [0, 1) (or a percentage like 90%). {validation.received(name, text)}"
        ) from None
    if not 0.0 <= value < 1.0:  # also refuses NaN
        raise UsageError(f"`{name}` must be in [0, 1) (fraction of weights set to zero). {validation.received(name, text)}")
    return value


def parse_sparsities(text, name="--sparsities"):
    """Comma-separated sparsities -> list of floats (each validated by :func:`parse_sparsity`)."""
    items = [t for t in str(text).split(",") if t.strip()]
    if not items:
        raise UsageError(f"`{name}` must list at least one sparsity. {validation.received(name, text)}")
    return [parse_sparsity(t, name) for t in items]


def parse_layers(text):
    """``"a,b"`` -> ``["a", "b"]``; ``None`` -> ``None``."""
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


# ----------------------------------------------------------------------------------------
# Shared arguments


def add_common_arguments(parser):
    """``--debug``: TensorFlow's log lines and Python tracebacks instead of one-line errors."""
    parser.add_argument(
        "--debug", action="store_true",
        help="show TensorFlow's C++ log lines and full Python tracebacks (also: set TF_CPP_MIN_LOG_LEVEL yourself)",
    )


#: ``--backend`` choices of ``--keras 3`` and the package each needs.
KERAS3_BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def add_keras_arguments(parser):
    """``--keras {2,3}`` and ``--backend`` (Keras 3 only)."""
    parser.add_argument(
        "--keras", type=int, choices=(2, 3), default=2,
        help="2: tf_keras (the tfmot-compatible path); 3: Keras 3 (`import keras`, tf_sfw.keras3) on --backend",
    )
    parser.add_argument(
        "--backend", choices=tuple(KERAS3_BACKENDS), default=None,
        help="Keras 3 backend, with --keras 3 (default: $KERAS_BACKEND, else tensorflow); set before Keras is imported",
    )


def select_keras(args):
    """Checks ``--keras``/``--backend``; under ``--keras 3`` sets ``KERAS_BACKEND`` before Keras 3 is
    first imported and returns the backend (None under ``--keras 2``).

    Raises:
        UsageError: ``--backend`` without ``--keras 3``.
        CommandError: the backend's package is not installed, or Keras 3 was already imported
            in this process with another backend.
    """
    if getattr(args, "keras", 2) != 3:
        if getattr(args, "backend", None) is not None:
            raise UsageError(f"`--backend` needs `--keras 3`. {validation.received('--backend', args.backend)}")
        return None
    backend = args.backend or os.environ.get("KERAS_BACKEND") or "tensorflow"
    if backend not in KERAS3_BACKENDS:
        raise UsageError(f"`--backend` must be one of {tuple(KERAS3_BACKENDS)}. {validation.received('--backend', backend)}")
    import importlib.util

    if importlib.util.find_spec(KERAS3_BACKENDS[backend]) is None:
        raise CommandError(f"`--backend {backend}` needs the {KERAS3_BACKENDS[backend]!r} package, which is not installed "
                           f"(pip install {KERAS3_BACKENDS[backend]}). {validation.received('--backend', backend)}")
    loaded = sys.modules.get("keras")
    if loaded is not None and hasattr(loaded, "backend") and loaded.backend.backend() != backend:
        raise CommandError(f"Keras 3 is already imported in this process with the {loaded.backend.backend()!r} backend; "
                           f"`--backend {backend}` needs a fresh process.")
    os.environ["KERAS_BACKEND"] = backend
    if backend == "tensorflow":
        quiet_tensorflow(getattr(args, "debug", False))
    elif "tensorflow" not in sys.modules:
        # Keras 3 imports TensorFlow whenever it is installed; the commands run without it.
        from tf_sfw.keras3._keras_private import keep_tensorflow_out

        keep_tensorflow_out()
    return backend


def refuse_for_keras3(args, flags):
    """UsageError naming the first of ``flags`` (``{"--flag": is_set}``) set under ``--keras 3``."""
    for flag, is_set in flags.items():
        if is_set:
            value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
            shown = "" if value is True or value is None else f" {value}"
            raise UsageError(f"`{flag}` is not supported with `--keras 3` (the tf_keras path, --keras 2, has it). "
                             f"Received: {flag}{shown}")


def add_data_arguments(parser):
    """``--dataset``, ``--data-dir``, ``--eval-examples``, ``--eval-batch-size``."""
    parser.add_argument(
        "--dataset", choices=EVAL_DATASETS, default=None,
        help="evaluation data set (default: the `dataset` of the config.json that `tf-sfw train` wrote "
        "next to the model; required when there is none)",
    )
    parser.add_argument("--data-dir", default=None, help="data directory (default: $TF_SFW_DATA_DIR, else the Keras cache, else download)")
    parser.add_argument("--eval-examples", type=int_type("--eval-examples", minimum=1), default=None, metavar="N",
                        help="evaluate on the first N test examples only (default: all)")
    parser.add_argument("--eval-batch-size", type=int_type("--eval-batch-size", minimum=1), default=500, metavar="N",
                        help="evaluation batch size")


def add_scope_arguments(parser):
    """``--global``/``--layerwise``, ``--include-bias``, ``--include-batchnorm``, ``--layers``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--global", dest="scope", action="store_const", const="global",
                       help="one magnitude threshold over all counted weights (the default)")
    group.add_argument("--layerwise", dest="scope", action="store_const", const="layerwise",
                       help="prune every counted tensor to the sparsity separately")
    parser.set_defaults(scope="global")
    parser.add_argument("--include-bias", action="store_true", help="also prune biases")
    parser.add_argument("--include-batchnorm", action="store_true", help="also prune BatchNorm gamma/beta")
    parser.add_argument("--layers", default=None, help="comma-separated layer names to restrict pruning to (default: all layers)")


def add_retrain_arguments(parser):
    """``--retrain-lr``, ``--batch-size``, ``--seed``, ``--no-eval`` and ``--out`` of the commands
    that prune a trained model and may fine-tune it (`prune`, `shrink`)."""
    parser.add_argument("--retrain-lr", type=float_type("--retrain-lr", low=0.0, low_open=True), default=0.01,
                        metavar="LR", help="SGD learning rate for fine-tuning, momentum 0.9")
    parser.add_argument("--batch-size", type=int_type("--batch-size", minimum=1), default=128, metavar="N",
                        help="batch size of fine-tuning (and of BatchNorm re-estimation)")
    parser.add_argument("--seed", type=int_type("--seed", minimum=0), default=0, help="seed of the training-batch order")
    parser.add_argument("--no-eval", action="store_true", help="skip evaluation (no data needed unless a step needs it)")
    parser.add_argument("--out", required=True, help="output folder (created)")


def add_reconstruct_argument(parser, what, default=0):
    """``--reconstruct N``: refit the kept weights by least squares on N training images (0: off)."""
    parser.add_argument("--reconstruct", type=int_type("--reconstruct", minimum=0), default=default, metavar="N",
                        help=f"{what}: the kept weights refit by least squares to the dense layer outputs on the first "
                        "N training images (tf_sfw.pruning.reconstruct; Dense/Conv2D kernels; 0: off; e.g. 1024)")


def calibration_images(args, x_train):
    """The first ``--reconstruct`` training images (UsageError when the training set has fewer)."""
    if args.reconstruct > len(x_train):
        raise UsageError(f"`--reconstruct` asks for more calibration images than the training set has "
                         f"({len(x_train)}). Received: --reconstruct={args.reconstruct}")
    return x_train[: args.reconstruct]


def check_reconstruct(args):
    """UsageError for ``--reconstruct`` with flags it cannot serve."""
    if args.reconstruct and (args.include_bias or args.include_batchnorm):
        raise UsageError("`--reconstruct` refits biases and prunes kernels only: drop --include-bias / "
                         f"--include-batchnorm. Received: --reconstruct={args.reconstruct}")


def write_sweep_outputs(args, out, rows, refit_rows, settings, note=""):
    """The outputs of ``tf-sfw sweep`` (either Keras flavour): ``sweep.csv``, with ``refit_rows``
    also ``sweep_refit.csv``, ``sweep.png`` (a line per sweep), ``metrics.json`` (``settings``
    and the rows), and the printed table (``note`` after its header)."""
    from tf_sfw.pruning.sweep_common import plot_sweep, write_sweep_csv  # NumPy and matplotlib only

    os.makedirs(out, exist_ok=True)
    label = os.path.basename(os.path.normpath(args.model))
    write_sweep_csv(rows, os.path.join(out, "sweep.csv"))
    lines = {label: rows}
    if refit_rows is not None:
        write_sweep_csv(refit_rows, os.path.join(out, "sweep_refit.csv"))
        lines[f"{label}, kept weights refit"] = refit_rows
    plot_sweep(lines, os.path.join(out, "sweep.png"))
    write_json(os.path.join(out, "metrics.json"),
               {**settings, "rows": rows, "reconstruct": args.reconstruct, "refit_rows": refit_rows})
    print(f"{'sparsity':>9} {'accuracy':>9} {'loss':>8} {'nonzero':>9}" + (f" {'refit acc':>9}" if refit_rows else "")
          + note)
    for i, r in enumerate(rows):
        refit = f" {100 * refit_rows[i]['accuracy']:8.2f}%" if refit_rows else ""
        print(f"{100 * r['sparsity']:8.1f}% {100 * r['accuracy']:8.2f}% {r['loss']:8.4f} {r['nonzero']:9d}{refit}")
    print(f"wrote {os.path.join(args.out, 'sweep.csv')}{', sweep_refit.csv' if refit_rows else ''}, sweep.png, "
          "metrics.json")


# ----------------------------------------------------------------------------------------
# Output folders


def check_output_dir(path, flag="--out"):
    """Refuse (CommandError, exit 1) an output folder that cannot be created or written.

    Checked before any work, without creating anything: ``path`` must be a folder or not exist,
    and its nearest existing ancestor must be a writable folder.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise CommandError(f"`{flag}` must be a folder, but {path!r} is a file. {validation.received(flag, path)}")
        target = path
    else:
        target = os.path.dirname(path)
        while not os.path.exists(target):
            target = os.path.dirname(target)
        if not os.path.isdir(target):
            raise CommandError(f"`{flag}` cannot be created: {target!r} is a file, not a folder. {validation.received(flag, path)}")
    if not os.access(target, os.W_OK | os.X_OK):
        raise CommandError(f"`{flag}` is not writable: no write permission in {target!r}. {validation.received(flag, path)}")
    return path


def write_json(path, payload):
    """Writes ``payload`` as indented JSON (parent folders created)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=False)
        f.write("\n")


# ----------------------------------------------------------------------------------------
# The data set a model was trained on

#: The file that names the data set of the models in its folder: `tf-sfw train` writes it
#: ({"dataset": ...}), and so do `tf-sfw demo` and the exports of `tf-sfw prune`
#: (tf_sfw.pruning.export.CONFIG_FILENAME, the same name; not imported: that module imports TensorFlow).
CONFIG_FILENAME = "config.json"


def dataset_of_model(model_path):
    """``(dataset, config_path)`` read from the config.json beside ``model_path``, or ``(None, None)``.

    Looked up in the model's folder (for a file such as ``OUT/model.keras``, or for a model
    folder itself) and then in the parent folder (for an export such as ``OUT/saved_model``).
    """
    path = os.path.abspath(os.fspath(model_path))
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    for candidate in (folder, os.path.dirname(folder)):
        config_path = os.path.join(candidate, CONFIG_FILENAME)
        try:
            with open(config_path) as f:
                dataset = json.load(f).get("dataset")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(dataset, str):
            return dataset, config_path
    return None, None


def resolve_dataset(args, flag="--dataset"):
    """The evaluation data set: ``--dataset`` if given, else the one of the model's config.json.

    Raises:
        UsageError: no ``--dataset`` and no config.json naming one beside ``--model``, or a
            config.json naming a data set this command cannot evaluate on.
    """
    found, config_path = dataset_of_model(args.model)
    if args.dataset is not None:
        if found is not None and found != args.dataset:
            print(f"warning: evaluating on {flag} {args.dataset}, but {config_path} says the model was "
                  f"trained on {found}", file=sys.stderr)
        return args.dataset
    if found is None:
        raise UsageError(
            f"`{flag}` is required: no config.json naming the training data set was found beside "
            f"--model {args.model!r}. Pass e.g. {flag} mnist or {flag} fashion_mnist."
        )
    if found not in EVAL_DATASETS:
        raise UsageError(
            f"{config_path} names the data set {found!r}, which this command cannot evaluate on; "
            f"pass `{flag}` (one of {', '.join(EVAL_DATASETS)})."
        )
    print(f"evaluating on {found} (from {config_path}; pass {flag} to override)", file=sys.stderr)
    return found


# ----------------------------------------------------------------------------------------
# Data (TensorFlow imported on call)


def load_arrays_subset(dataset, data_dir=None, train_examples=None, test_examples=None, download=True):
    """``load_arrays`` of tf_sfw.data, cut to the first N train/test examples."""
    from tf_sfw.data import load_arrays  # TensorFlow: only when a command runs

    (x_train, y_train), (x_test, y_test) = load_arrays(dataset, data_dir=data_dir, download=download)
    if train_examples is not None:
        x_train, y_train = x_train[:train_examples], y_train[:train_examples]
    if test_examples is not None:
        x_test, y_test = x_test[:test_examples], y_test[:test_examples]
    return (x_train, y_train), (x_test, y_test)


def eval_dataset(x, y, batch_size):
    """Evaluation pipeline of tf_sfw.data (float32 images in [0, 1], fixed order)."""
    from tf_sfw.data import make_eval_dataset  # TensorFlow: only when a command runs

    return make_eval_dataset(x, y, batch_size=batch_size)


def load_model_argument(path, flag="--model"):
    """The Keras model at ``path`` (file, SavedModel folder or export folder); errors name ``flag``."""
    if not os.path.exists(path):
        raise CommandError(f"`{flag}` does not exist. {validation.received(flag, path)}")
    from tf_sfw.pruning.export import load_keras_model  # TensorFlow: only when a command runs

    return load_keras_model(path)


def check_model_input(model, x, dataset, flag="--dataset"):
    """UsageError when the images of ``dataset`` do not fit the model's input shape."""
    expected = tuple(model.inputs[0].shape[1:])
    got = tuple(x.shape[1:])
    if len(expected) == len(got) + 1 and expected[-1] == 1:
        got = got + (1,)  # grey images get their channel axis in the pipeline
    if len(expected) != len(got) or any(e is not None and e != g for e, g in zip(expected, got)):
        raise UsageError(
            f"The model takes inputs of shape {expected}, but {flag} {dataset} has images of shape "
            f"{tuple(x.shape[1:])}: pass the data set the model was trained on. {validation.received(flag, dataset)}"
        )


# ----------------------------------------------------------------------------------------
# Running a command


def _user_set_log_level():
    return "TF_CPP_MIN_LOG_LEVEL" in os.environ


def quiet_tensorflow(debug=False):
    """Import TensorFlow without its C++ log lines (oneDNN, CUDA probing, absl's preamble).

    Unless ``debug`` or the user set ``TF_CPP_MIN_LOG_LEVEL``, sets ``TF_CPP_MIN_LOG_LEVEL=3``
    (TensorFlow reads it when it initialises its logging) and imports TensorFlow with the
    process' stderr (file descriptor 2) pointed at /dev/null: some lines are written by the
    shared libraries while they load, before that setting is read. Python errors raised by the
    import are re-raised after stderr is restored. A no-op if TensorFlow is already imported.
    """
    if debug or _user_set_log_level() or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _stderr_to_devnull():
        import tensorflow  # noqa: F401  (the import itself is the point: load the libraries quietly)


@contextlib.contextmanager
def _stderr_to_devnull():
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced by an object without a descriptor
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def _runtime_errors():
    """Exception types that are runtime failures of a valid command line (exit 1)."""
    errors = [ValueError, OSError, RuntimeError, ArithmeticError]
    tf = sys.modules.get("tensorflow")
    if tf is not None:  # e.g. a model/data shape mismatch inside a graph: tf.errors.InvalidArgumentError
        errors.append(tf.errors.OpError)
    return tuple(errors)


def run_command(command, fn, args):
    """Runs ``fn(args)`` and turns errors into one line on stderr and an exit code.

    :class:`UsageError` -> 2; other ValueError, OSError (missing files, unwritable folders),
    RuntimeError, ArithmeticError and TensorFlow errors -> 1. With ``--debug`` the error is
    re-raised (full traceback). ``fn`` checks the command line first and then calls
    :func:`quiet_tensorflow` before it imports TensorFlow-using modules, so that a bad command
    line is refused without waiting for TensorFlow.
    """
    debug = bool(getattr(args, "debug", False))
    try:
        return int(fn(args) or 0)
    except UsageError as err:
        if debug:
            raise
        print(f"tf-sfw {command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except _runtime_errors() as err:
        if debug:
            raise
        message = str(err).strip() or type(err).__name__
        if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in message:
            message = f"{message}: {err.filename!r}"
        print(f"tf-sfw {command}: error: {message.splitlines()[0] if _is_tf_error(err) else message}", file=sys.stderr)
        return EXIT_FAILURE


def _is_tf_error(err):
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(err, tf.errors.OpError)
