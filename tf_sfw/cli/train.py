"""``tf-sfw train``: train a model with SFW (or the SGD baseline); thin wrapper over `tf_sfw.training.train`.

The parser imports nothing heavy (see :mod:`tf_sfw.cli.main`); every flag value is checked here
with :mod:`tf_sfw.validation` under the flag's own name, so errors read e.g.
"`--tau` must be a finite number > 0. Received: --tau=0.0".
"""

import argparse
import os
import sys

from tf_sfw.cli._common import (
    CommandError,
    HelpFormatter,
    UsageError,
    add_common_arguments,
    add_keras_arguments,
    check_output_dir,
    float_type,
    int_type,
    quiet_tensorflow,
    run_command,
    select_keras,
)
from tf_sfw.recipe_math import CONSTRAIN as RECIPE_CONSTRAIN
from tf_sfw.recipe_math import DEFAULTS as RECIPE_DEFAULTS
from tf_sfw.training.config import CONSTRAINTS, MODES, OPTIMIZERS, RESCALES, SCHEDULES, TOP_K_CONSTRAINTS

__all__ = ["add_parser", "run", "config_from_args", "default_learning_rate"]

# Kept in sync with tf_sfw.models / tf_sfw.data (duplicated here so that `tf-sfw --help` does
# not import TensorFlow; tests check they agree).
MODELS = ("mnist_cnn", "simple_cnn", "resnet18", "resnet18_tiny_imagenet", "vgg16")
DATASETS = ("mnist", "fashion_mnist", "cifar10", "tiny_imagenet")

#: Default initial learning rate of SFW for each ``--rescale``. The step is
#: η = clip(lr · f, 0, 1) with f = ‖m‖₂/‖θ − v‖₂ ("gradient", the paper's setting with lr 1.0),
#: f = 1/D ("diameter") or f = 1 ("none"). With "none" and lr 1.0 every step replaces the
#: weights by a vertex of the set, and training stays at chance. The other two values are the
#: best of a grid (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001) for the MNIST CNN over the
#: k_sparse, k_support, l1, l2 and linf constraints (2 epochs on 6400 images, constant rate).
SFW_LEARNING_RATES = {"gradient": 1.0, "diameter": 0.3, "none": 0.003}
#: Default initial learning rate of the SGD baseline.
SGD_LEARNING_RATE = 0.1


def default_learning_rate(optimizer, rescale):
    """The ``--lr`` used when none is given: see :data:`SFW_LEARNING_RATES`."""
    return SGD_LEARNING_RATE if optimizer == "sgd" else SFW_LEARNING_RATES[rescale]


def _percentages(fractions, sign="%"):
    """``(0.75, 0.9)`` -> ``"75% and 90%"`` (``sign="%%"`` inside argparse help)."""
    words = [f"{100 * f:g}{sign}" for f in fractions]
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " and " + words[-1]


DESCRIPTION = f"""\
Train a network with Stochastic Frank-Wolfe in K-sparse polytopes or K-support norm balls (Miao
et al., ICLR 2022, "Learning Pruning-Friendly Networks via Frank-Wolfe"). The defaults are the
recipe of tf_sfw.recipe, chosen on held-out training data: 180 epochs, batch 128, lr
{RECIPE_DEFAULTS['learning_rate']:g} with gradient rescaling, momentum {RECIPE_DEFAULTS['momentum']:g}, the kernels in K-support norm balls with tau
{RECIPE_DEFAULTS['tau']:g} and K = max({RECIPE_DEFAULTS['k']}, {100 * RECIPE_DEFAULTS['k_frac']:g}% of each variable's size) capped at that size, with K annealing (K = {', '.join(f'{100 * f:g}%' for f in RECIPE_DEFAULTS['k_annealing'])} of each kernel in equal phases over the first
{100 * RECIPE_DEFAULTS['k_annealing_until']:g}% of the steps), biases, BatchNorm and kernels of at most {RECIPE_DEFAULTS['k']} entries unconstrained
(--constrain {RECIPE_DEFAULTS['constrain']}; SGD at --unconstrained-lr {RECIPE_DEFAULTS['unconstrained_learning_rate']:g}), and --schedule recipe: a linear lr warm-up over the first
{100 * RECIPE_DEFAULTS['warmup']:g}% of the steps, then lr divided by 10 after {_percentages(RECIPE_DEFAULTS['milestones'])} of the steps, whatever
the run's length. The paper's setting: --constraint k_sparse --constrain all --k 10 --schedule paper
(lr divided by 10 after 1/3 and 2/3 of the run, epochs 61 and 121 of 180, plus the loss-average
rule). Pass --epochs for a shorter run.

Writes OUT/config.json, OUT/model.keras, OUT/metrics.json and OUT/log.csv (and TensorBoard logs in
OUT/logs when the tensorboard package is installed). While the run is in progress OUT/backup/ holds
its resumable state: continue an interrupted run with --resume."""


def _lr_help():
    per_rescale = ", ".join(f"{lr:g} with --rescale {r}" for r, lr in SFW_LEARNING_RATES.items())
    return f"initial learning rate (default: sfw {per_rescale}; sgd {SGD_LEARNING_RATE:g})"


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train a network with Stochastic Frank-Wolfe (or SGD); save model.keras and metrics.json",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    positive = lambda flag: int_type(flag, minimum=1)  # noqa: E731
    p.add_argument("--out", required=True, metavar="OUT", help="output folder (created)")
    p.add_argument("--model", choices=MODELS, default="mnist_cnn", help="network")
    p.add_argument("--dataset", choices=DATASETS, default="mnist", help="training and test data set")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sfw", help="sfw, or the momentum-SGD baseline")
    p.add_argument("--data-dir", default=None,
                   help="data folder (default: $TF_SFW_DATA_DIR, else the Keras cache ~/.keras, else download)")
    p.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                   help="download the data set when it is not found locally (default: --download)")
    p.add_argument("--epochs", type=positive("--epochs"), default=180, metavar="N",
                   help="training epochs (default: 180, the paper's setting)")
    p.add_argument("--batch-size", type=positive("--batch-size"), default=128, metavar="N", help="training batch size")
    p.add_argument("--test-batch-size", type=positive("--test-batch-size"), default=100, metavar="N", help="evaluation batch size")
    p.add_argument("--lr", dest="learning_rate", type=float_type("--lr", low=0.0, low_open=True), default=None,
                   metavar="LR", help=_lr_help())
    p.add_argument("--momentum", type=float_type("--momentum", low=0.0, high=1.0, high_open=True), default=0.9,
                   help="momentum, in [0, 1)")
    p.add_argument("--rescale", choices=RESCALES, default="gradient",
                   help="SFW step size: lr times |m|/|theta - v| (gradient), 1/diameter (diameter) or 1 (none)")
    p.add_argument("--constraint", choices=CONSTRAINTS, default=RECIPE_DEFAULTS["ball"],
                   help="SFW constraint set of each variable (group_*: over output filters/units, K counted in "
                   "groups; nm: at most N of every M consecutive input weights)")
    p.add_argument("--k", type=positive("--k"), default=RECIPE_DEFAULTS["k"],
                   help="top-K sets: the minimum K (default %(default)s; the paper's: 10; group sets count filters: "
                   "with --k and --k-frac unchanged they use 1 and 0.25)")
    p.add_argument("--nm-n", type=positive("--nm-n"), default=2, metavar="N", help="--constraint nm: N of N:M")
    p.add_argument("--nm-m", type=positive("--nm-m"), default=4, metavar="M", help="--constraint nm: M of N:M")
    p.add_argument("--k-frac", type=float_type("--k-frac", low=0.0, high=1.0, low_open=True),
                   default=RECIPE_DEFAULTS["k_frac"],
                   help="top-K sets: K as a fraction of the variable's size, in (0, 1]")
    p.add_argument("--mode", choices=MODES, default="initialization",
                   help="what --tau sets: the multiple of the expected initial norm, the radius or the diameter")
    p.add_argument("--tau", dest="value", type=float_type("--tau", low=0.0, low_open=True),
                   default=RECIPE_DEFAULTS["tau"], metavar="TAU",
                   help="tau (--mode initialization), radius or diameter; > 0")
    p.add_argument("--unconstrained", action="append", default=[], metavar="REGEX",
                   help="variables (re.search on names) trained by SGD; repeatable (default: none)")
    p.add_argument("--unconstrained-bn", action="store_true", help="leave BatchNorm gamma/beta unconstrained")
    p.add_argument("--unconstrained-lr", dest="unconstrained_learning_rate", type=float_type("--unconstrained-lr", low=0.0),
                   default=RECIPE_DEFAULTS["unconstrained_learning_rate"], metavar="LR",
                   help="momentum-SGD learning rate of --unconstrained / --unconstrained-bn / --constrain kernels "
                   "variables (same schedule shape as --lr)")
    p.add_argument("--k-annealing", nargs="+", default=["auto"], metavar="K_FRAC",
                   help="K annealing: k_frac of the top-K sets in each of equal phases over the first "
                   "--k-annealing-until of the run, then --k-frac (e.g. 1.0 0.3 0.1, a dense start); 'none': off; "
                   "'auto': the recipe's phases with --optimizer sfw and a top-K --constraint")
    p.add_argument("--k-annealing-until", type=float_type("--k-annealing-until", low=0.0, high=1.0, low_open=True),
                   default=RECIPE_DEFAULTS["k_annealing_until"], metavar="FRAC",
                   help="fraction of the run, in (0, 1], that the --k-annealing phases share")
    p.add_argument("--sgd-start", type=float_type("--sgd-start", low=0.0, high=1.0, high_open=True),
                   default=RECIPE_DEFAULTS["sgd_start"], metavar="FRAC",
                   help="sfw: train every variable by SGD at --unconstrained-lr for this fraction of the first steps, "
                   "then Frank-Wolfe steps, in [0, 1) (default: off; 0.2 helped a 6-epoch Fashion-MNIST run and cost a "
                   "2-epoch MNIST run, results/compare_pruning/tuning12)")
    p.add_argument("--weight-decay", type=float_type("--weight-decay", low=0.0), default=None,
                   help="decoupled weight decay (default: 0, the paper's setting)")
    p.add_argument("--schedule", choices=SCHEDULES, default="recipe",
                   help="learning-rate schedule: recipe (per step: --warmup, then x --decay-factor at "
                   f"{_percentages(RECIPE_DEFAULTS['milestones'], '%%')} of the steps), paper (epoch step decay at 1/3 and 2/3 + loss-average rule), step, loss_average, "
                   "constant")
    p.add_argument("--milestones", type=int_type("--milestones", minimum=2), nargs="*", default=None,
                   metavar="EPOCH", help="1-based epochs at whose start lr is multiplied by --decay-factor, for "
                   "--schedule recipe, paper and step (default: recipe at "
                   f"{_percentages(RECIPE_DEFAULTS['milestones'], '%%')} of the steps; paper and "
                   "step at 1/3 and 2/3 of the run, i.e. 61 121 of 180 epochs; "
                   "the flag without values: no step decay)")
    p.add_argument("--decay-factor", type=float_type("--decay-factor", low=0.0, high=1.0, low_open=True), default=0.1,
                   help="learning-rate multiplier at each milestone, in (0, 1]")
    p.add_argument("--warmup", type=float_type("--warmup", low=0.0, high=1.0, high_open=True),
                   default=RECIPE_DEFAULTS["warmup"], metavar="FRAC",
                   help="--schedule recipe: linear lr warm-up over this fraction of the steps, in [0, 1)")
    p.add_argument("--constrain", choices=RECIPE_CONSTRAIN, default=RECIPE_DEFAULTS["constrain"],
                   help="sfw: variables in a set: all; kernels only; or sparse_kernels, the kernels whose top-K set "
                   "is sparse (K < n: more than --k entries). The rest are trained by SGD at --unconstrained-lr")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random crop + flip (default: on for cifar10 and tiny_imagenet, off otherwise)")
    p.add_argument("--subset", type=positive("--subset"), default=None, metavar="N",
                   help="train on a seeded random subset of N examples (default: all)")
    p.add_argument("--seed", type=int_type("--seed", minimum=0), default=0,
                   help="seed of the initial weights, dropout, data order and augmentation")
    p.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=True,
                   help="TensorFlow op determinism, for bit-exact --resume (default: --deterministic)")
    p.add_argument("--validate", action="store_true", help="evaluate on the test set after every epoch")
    p.add_argument("--backup-every", type=positive("--backup-every"), default=None, metavar="STEPS",
                   help="back up the run every N steps (default: at the end of every epoch)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in OUT")
    p.add_argument("--sfw-init", action="store_true",
                   help="first learn a scale per variable of the initial weights (SFW-Init; sfw only, fresh runs)")
    p.add_argument("--sfw-init-iterations", type=positive("--sfw-init-iterations"), default=390, metavar="N",
                   help="SFW-Init iterations")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=2,
                   help="Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch")
    add_keras_arguments(p)
    add_common_arguments(p)
    p.set_defaults(command="train")
    return p


def _k_annealing_argument(values):
    """``--k-annealing``: 'auto', 'none' (None) or k_frac values in (0, 1] (a tuple)."""
    if values is None or isinstance(values, tuple) or values == "auto":
        return values
    words = [v.lower() for v in values]
    if words in (["auto"], ["none"]):
        return None if words == ["none"] else "auto"
    check = float_type("--k-annealing", low=0.0, high=1.0, low_open=True)
    try:
        return tuple(check(v) for v in values)
    except argparse.ArgumentTypeError as err:
        raise UsageError(f"{err} ('auto', 'none', or k_frac values in (0, 1])") from None


def _check_combinations(args):
    """Checks that involve several flags (UsageError, exit 2)."""
    milestones = args.milestones
    if milestones and list(milestones) != sorted(set(milestones)):
        raise UsageError(f"`--milestones` must be strictly increasing. Received: --milestones={' '.join(map(str, milestones))}")
    if args.nm_n > args.nm_m:
        raise UsageError(f"`--nm-n` must be at most --nm-m ({args.nm_m}). Received: --nm-n={args.nm_n}")
    if args.sfw_init and args.optimizer != "sfw":
        raise UsageError(f"`--sfw-init` needs --optimizer sfw. Received: --optimizer={args.optimizer}")
    if args.sfw_init and args.dataset == "tiny_imagenet":
        raise UsageError("`--sfw-init` is not supported for --dataset tiny_imagenet (file-based data).")
    args.k_annealing = _k_annealing_argument(args.k_annealing)
    if isinstance(args.k_annealing, tuple) and (args.optimizer != "sfw" or args.constraint not in TOP_K_CONSTRAINTS):
        raise UsageError(f"`--k-annealing` needs --optimizer sfw and a top-K --constraint ({', '.join(TOP_K_CONSTRAINTS)}). "
                         f"Received: --optimizer={args.optimizer} --constraint={args.constraint}")
    lr = args.learning_rate
    if args.optimizer == "sfw" and args.rescale == "none" and lr is not None and lr >= 1:
        print(f"warning: --rescale none with --lr {lr:g}: every step has size clip(lr, 0, 1) = 1 and replaces "
              f"the weights by a vertex of the constraint set; training stays at chance. The default for "
              f"--rescale none is --lr {SFW_LEARNING_RATES['none']:g}.", file=sys.stderr)


def config_from_args(args):
    """The `tf_sfw.training.TrainConfig` described by parsed CLI ``args``."""
    from tf_sfw.training import TrainConfig  # TensorFlow: only when the command runs

    lr = args.learning_rate
    if lr is None:
        lr = default_learning_rate(args.optimizer, args.rescale)
    return TrainConfig(
        model=args.model,
        dataset=args.dataset,
        optimizer=args.optimizer,
        epochs=args.epochs,
        batch_size=args.batch_size,
        test_batch_size=args.test_batch_size,
        learning_rate=lr,
        momentum=args.momentum,
        rescale=args.rescale,
        constraint=args.constraint,
        k=args.k,
        k_frac=args.k_frac,
        mode=args.mode,
        value=args.value,
        unconstrained=tuple(args.unconstrained),
        unconstrained_bn=args.unconstrained_bn,
        unconstrained_learning_rate=args.unconstrained_learning_rate,
        k_annealing=_k_annealing_argument(args.k_annealing),
        k_annealing_until=args.k_annealing_until,
        sgd_start=args.sgd_start,
        nm_n=args.nm_n,
        nm_m=args.nm_m,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        milestones=None if args.milestones is None else tuple(args.milestones),
        warmup=args.warmup,
        constrain=args.constrain,
        decay_factor=args.decay_factor,
        augment=args.augment,
        subset=args.subset,
        seed=args.seed,
        deterministic=args.deterministic,
        validate=args.validate,
        backup_every=args.backup_every,
        sfw_init=args.sfw_init,
        sfw_init_iterations=args.sfw_init_iterations,
        data_dir=args.data_dir,
        download=args.download,
        verbose=args.verbose,
    )


def _missing_folders(path):
    """``path`` and its ancestors that do not exist yet, innermost first."""
    missing = []
    while not os.path.exists(path) and path != os.path.dirname(path):
        missing.append(path)
        path = os.path.dirname(path)
    return missing


def _remove_failed_output(created):
    """After a failed run, remove the folders it created if they hold nothing a ``--resume`` could use.

    ``created``: the output folder and its ancestors that did not exist before the command
    (innermost first). The output folder is removed only if it holds at most the run's
    config.json (no backup/, no model), and each ancestor only if it is then empty.
    """
    if not created or not os.path.isdir(created[0]):
        return
    out = created[0]
    try:
        leftovers = set(os.listdir(out))
        if leftovers - {"config.json"}:
            return
        for name in leftovers:
            os.remove(os.path.join(out, name))
        for folder in created:
            if os.path.isdir(folder) and not os.listdir(folder):
                os.rmdir(folder)
    except OSError:  # best effort: never hide the run's own error
        pass


def _run(args):
    if args.keras == 3:
        from tf_sfw.cli.keras3 import run_train

        return run_train(args, sys.modules[__name__])  # this module's helpers (no import cycle)
    select_keras(args)  # --backend needs --keras 3
    _check_combinations(args)
    out = check_output_dir(args.out, "--out")
    # TensorFlow (without its C++ log lines) and the modules that use it are imported only now,
    # after the command line was checked, and never when the parser is built (fast --help).
    quiet_tensorflow(args.debug)
    from tf_sfw.training import (
        NothingToResumeError,
        OutputDirError,
        RunAlreadyCompleteError,
        UnfinishedRunError,
        train,
    )

    config = config_from_args(args)
    created = _missing_folders(out)
    finished = False
    try:
        _, metrics = train(config, out=out, resume=args.resume)
        finished = True
    except (UnfinishedRunError, NothingToResumeError, RunAlreadyCompleteError) as err:
        # OUT holds an unfinished run (add --resume), none (drop --resume), or a finished one.
        raise UsageError(str(err)) from err
    except OutputDirError as err:
        raise CommandError(f"`--out` cannot be written: {err.reason}. Received: --out={err.path!r}") from err
    finally:
        if not finished:
            _remove_failed_output(created)
    print(
        f"test accuracy {metrics['test_accuracy']:.4f}  test loss {metrics['test_loss']:.4f}  "
        f"epochs {metrics['epochs']}  wall time {metrics['wall_time_s']:.1f} s  -> {args.out}"
    )
    return 0


def run(args):
    return run_command("train", _run, args)

