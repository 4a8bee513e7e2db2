"""``tf-sfw train``: train a model with SFW (or the SGD baseline); thin wrapper over `tf_sfw.training.train`."""

import argparse
import sys

__all__ = ["add_parser", "run", "config_from_args"]

# Kept in sync with tf_sfw.training / tf_sfw.models / tf_sfw.data (duplicated here so that
# `tf-sfw --help` does not import TensorFlow; tests check they agree).
MODELS = ("mnist_cnn", "simple_cnn", "resnet18", "resnet18_tiny_imagenet", "vgg16")
DATASETS = ("mnist", "fashion_mnist", "cifar10", "tiny_imagenet")
OPTIMIZERS = ("sfw", "sgd")
CONSTRAINTS = ("k_sparse", "k_support", "l1", "l2", "linf", "unconstrained")
SCHEDULES = ("paper", "step", "loss_average", "constant")
RESCALES = ("gradient", "diameter", "none")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train",
        help="Train a network with Stochastic Frank-Wolfe (or SGD) and save model.keras + metrics.json.",
        description=(
            "Train a network with Stochastic Frank-Wolfe in K-sparse polytopes (defaults: the paper's "
            "setting: lr 1.0, momentum 0.9, gradient rescaling, tau 15, K = max(10, 5%% of n), batch 128, "
            "lr /10 at epochs 61 and 121 plus the loss-average rule). Writes OUT/config.json, "
            "OUT/model.keras and OUT/metrics.json; OUT/backup/ holds the resumable state while running."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", choices=MODELS, default="mnist_cnn")
    p.add_argument("--dataset", choices=DATASETS, default="mnist")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sfw")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--data-dir", default=None, help="data directory (else $TF_SFW_DATA_DIR, ~/.keras, download)")
    p.add_argument("--no-download", dest="download", action="store_false", help="never download data")
    p.add_argument("--epochs", type=int, default=180)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--test-batch-size", type=int, default=100)
    p.add_argument("--lr", dest="learning_rate", type=float, default=None, help="initial learning rate (default: 1.0 for sfw, 0.1 for sgd)")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--rescale", choices=RESCALES, default="gradient", help="SFW step-size rescaling")
    p.add_argument("--constraint", choices=CONSTRAINTS, default="k_sparse", help="SFW constraint set of each variable")
    p.add_argument("--k", type=int, default=10, help="K-sparse: minimum K")
    p.add_argument("--k-frac", type=float, default=0.05, help="K-sparse: K as a fraction of the variable size")
    p.add_argument("--mode", choices=("initialization", "radius", "diameter"), default="initialization")
    p.add_argument("--tau", dest="value", type=float, default=15.0, help="tau (mode initialization), radius or diameter")
    p.add_argument("--unconstrained", action="append", default=[], metavar="REGEX", help="variables (re.search on names) trained by SGD; repeatable")
    p.add_argument("--unconstrained-bn", action="store_true", help="leave BatchNorm gamma/beta unconstrained")
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--schedule", choices=SCHEDULES, default="paper", help="learning-rate schedule")
    p.add_argument("--milestones", type=int, nargs="*", default=[61, 121], help="1-based epochs where lr is multiplied by --decay-factor")
    p.add_argument("--decay-factor", type=float, default=0.1)
    aug = p.add_mutually_exclusive_group()
    aug.add_argument("--augment", dest="augment", action="store_true", default=None, help="random crop + flip (default: on for cifar10/tiny_imagenet)")
    aug.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--subset", type=int, default=None, help="train on a seeded random subset of N examples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-deterministic", dest="deterministic", action="store_false", help="disable TF op determinism")
    p.add_argument("--validate", action="store_true", help="evaluate on the test set after every epoch")
    p.add_argument("--backup-every", type=int, default=None, metavar="STEPS", help="back up every N steps (default: every epoch)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--sfw-init", action="store_true",
                   help="learn per-variable scales of the initialization first (SFW-Init, SPEC §4; sfw only, fresh runs)")
    p.add_argument("--sfw-init-iterations", type=int, default=390, help="SFW-Init iterations")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=2)
    p.set_defaults(command="train")
    return p


def config_from_args(args):
    """The `tf_sfw.training.TrainConfig` described by parsed CLI ``args``."""
    from tf_sfw.training import TrainConfig

    lr = args.learning_rate
    if lr is None:
        lr = 1.0 if args.optimizer == "sfw" else 0.1
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
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        milestones=tuple(args.milestones),
        decay_factor=args.decay_factor,
        augment=args.augment,
        subset=args.subset,
        seed=args.seed,
        deterministic=args.deterministic,
        validate=args.validate,
        backup_every=args.backup_every,
        data_dir=args.data_dir,
        download=args.download,
        verbose=args.verbose,
    )


def _sfw_init_callbacks(args, config):
    """[SFWInitCallback] for ``--sfw-init`` on a fresh run (none when resuming from a backup)."""
    if not getattr(args, "sfw_init", False):
        return []
    from pathlib import Path

    import numpy as np

    from tf_sfw import data as data_lib
    from tf_sfw.sfw_init import SFWInitCallback
    from tf_sfw.training import read_backup_step

    if config.optimizer != "sfw":
        raise ValueError(f"--sfw-init needs --optimizer sfw. Received: --optimizer {config.optimizer}")
    if config.dataset == "tiny_imagenet":
        raise ValueError("--sfw-init is not supported for tiny_imagenet (file-based data).")
    if isinstance(args.sfw_init_iterations, bool) or args.sfw_init_iterations < 1:
        raise ValueError(f"--sfw-init-iterations must be >= 1. Received: {args.sfw_init_iterations}")
    backup = Path(args.out) / "backup"
    if backup.exists() and read_backup_step(backup) is not None:
        return []  # resuming: the initialization already happened in the interrupted run
    (x, y), _ = data_lib.load_arrays(config.dataset, config.data_dir, download=config.download)
    x, y = data_lib._subset(x, y, config.subset, config.seed)
    return [SFWInitCallback((x.astype(np.float32) / 255.0, y), iterations=args.sfw_init_iterations,
                            batch_size=config.batch_size, seed=config.seed)]


def run(args):
    from tf_sfw.data import CorruptDatasetError, DatasetNotFoundError
    from tf_sfw.training import train

    try:
        config = config_from_args(args)
        extra = _sfw_init_callbacks(args, config)
        _, metrics = train(config, out=args.out, resume=args.resume, extra_callbacks=extra)
    except (ValueError, FileExistsError, DatasetNotFoundError, CorruptDatasetError) as err:
        print(f"tf-sfw train: error: {err}", file=sys.stderr)
        return 2
    print(
        f"test accuracy {metrics['test_accuracy']:.4f}  test loss {metrics['test_loss']:.4f}  "
        f"epochs {metrics['epochs']}  wall time {metrics['wall_time_s']:.1f} s  -> {args.out}"
    )
    return 0
