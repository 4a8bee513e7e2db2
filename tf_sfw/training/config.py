"""The configuration of a training run: :class:`TrainConfig` and its validation.

Importing this module does not import TensorFlow (the model and dataset names are looked up
when a config is created), so that command-line front ends can use it cheaply.
"""

import dataclasses

from tf_sfw import recipe_math
from tf_sfw.validation import (
    check_choice,
    check_fraction,
    check_int,
    check_number,
    check_positive_int,
    check_positive_number,
)

__all__ = ["CONSTRAIN", "CONSTRAINTS", "MODES", "OPTIMIZERS", "RESCALES", "SCHEDULES", "TOP_K_CONSTRAINTS", "TrainConfig"]

OPTIMIZERS = ("sfw", "sgd")
CONSTRAINTS = ("k_sparse", "k_support", "l1", "l2", "linf", "unconstrained", "group_k_sparse", "group_k_support", "nm")
#: The constraints whose K `k_annealing` changes.
TOP_K_CONSTRAINTS = ("k_sparse", "k_support", "group_k_sparse", "group_k_support")
SCHEDULES = ("recipe", "paper", "step", "loss_average", "constant")
CONSTRAIN = recipe_math.CONSTRAIN
RESCALES = ("gradient", "diameter", "none")
MODES = ("initialization", "radius", "diameter")

# Relative step-decay milestones: the learning rate is divided at the start of 1-based epoch
# round(f * epochs) + 1 for each fraction f; 1/3 and 2/3 give the paper's epochs 61 and 121 of
# 180 (Miao et al., ICLR 2022 "Learning Pruning-Friendly Networks via Frank-Wolfe") and scale
# with the run length, so that short runs decay too.
PAPER_MILESTONES_FRAC = (1 / 3, 2 / 3)
_RECIPE = recipe_math.DEFAULTS


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (defaults: the recipe of `tf_sfw.recipe`).

    The optimizer follows Miao et al., ICLR 2022 "Learning Pruning-Friendly Networks via
    Frank-Wolfe": SFW with learning rate 1.0, momentum 0.9, gradient rescaling, tau = 15, batch
    128, 180 epochs (the paper's sets have K = max(10, 5% of n); the recipe's K = max(150, 10% of
    n)). The other defaults are the recipe's (`tf_sfw.recipe_math.DEFAULTS`, chosen on held-out training data): the kernels in
    K-support norm balls (``constraint="k_support"``, ``constrain="kernels"``), biases trained
    by SGD at ``unconstrained_learning_rate``, and ``schedule="recipe"``, a per-step schedule
    with a linear warm-up and step decay at fractions of the run's steps. The paper's setting:
    ``constraint="k_sparse", constrain="all", schedule="paper"`` (step decay /10 at one and
    two thirds of the run plus the loss-average rule).

    Attributes:
        model: Builder name in :data:`tf_sfw.models.MODELS`.
        dataset: One of :data:`tf_sfw.data.DATASETS`.
        optimizer: ``"sfw"`` or ``"sgd"`` (momentum SGD, the baseline).
        epochs: Number of epochs.
        batch_size, test_batch_size: Batch sizes (paper: 128 / 100).
        learning_rate: Initial learning rate (paper SFW: 1.0).
        momentum: Momentum (paper: 0.9).
        rescale: SFW step-size rescaling ``"gradient"`` | ``"diameter"`` | ``"none"``.
        constraint: Set of every constrained variable: ``k_sparse`` (paper), ``k_support``,
            ``l1``/``l2``/``linf`` balls, or ``unconstrained`` (SFW then equals momentum SGD).
        k, k_frac: K = max(k, floor(k_frac·n)) for the top-K sets (recipe: 150 and 0.1; paper: 10
            and 0.05). The group sets count K in filters / units: left at the recipe's values they
            take their own defaults (k 1, k_frac 0.25).
        mode: ``"initialization"`` (paper; ``value`` = tau), ``"radius"`` or ``"diameter"``.
        value: tau, the radius or the diameter (paper: tau = 15).
        unconstrained: Regexes (``re.search`` on variable names) of variables trained by SGD
            instead, e.g. ``"bn"`` for BatchNorm.
        unconstrained_bn: Leave every BatchNormalization gamma/beta unconstrained.
        constrain: ``"all"`` (every variable not made unconstrained above is in a set),
            ``"kernels"`` (only variables named ``*kernel``; biases, BatchNorm parameters and
            the rest are trained by SGD at ``unconstrained_learning_rate``) or
            ``"sparse_kernels"`` (the recipe's: also kernels whose top-K set would hold all their
            entries, K = n, by SGD; `tf_sfw.recipe_math.constrained_per_variable`).
        unconstrained_learning_rate: SFW's SGD rate of unconstrained variables (on the same
            schedule shape as ``learning_rate`` under ``schedule="recipe"``).
        k_annealing: K annealing (`tf_sfw.KAnnealing`), a dense start for the top-K sets
            (``k_sparse``, ``k_support`` and the group sets): ``k_frac`` values, one per phase of
            equal length over the first ``k_annealing_until`` of the run, e.g. ``(1.0, 0.3,
            0.1)``; None: off; ``"auto"`` (default): the recipe's phases
            (`tf_sfw.recipe_math.DEFAULTS`) with ``optimizer="sfw"`` and a top-K constraint, off
            otherwise. Phases too short to hold one step (very short runs) are dropped.
        k_annealing_until: Fraction in (0, 1] of the run the ``k_annealing`` phases share.
        sgd_start: Fraction in [0, 1) of the run's first steps that train every variable by SGD
            at ``unconstrained_learning_rate`` before the Frank-Wolfe steps (``optimizer="sfw"``;
            `tf_sfw.fw.sgd_start_step`); 0 (default): off.
        weight_decay: Decoupled weight decay (None = 0; the paper's SFW uses 0).
        schedule: ``"recipe"`` (`tf_sfw.recipe.RecipeSchedule`: linear warm-up over ``warmup``
            of the steps, then step decay at the fractions ``milestones_frac`` of the run's
            optimizer steps), ``"paper"`` (epoch step decay + loss rule), ``"step"`` (epoch
            step decay), ``"loss_average"``, ``"constant"``.
        milestones: Absolute 1-based epochs of the step decay. When given (not None) they are
            used and ``milestones_frac`` is ignored; ``()`` disables the decay. Under
            ``"recipe"`` epoch ``e`` decays at step ``(e - 1) * steps_per_epoch``.
        milestones_frac: Relative milestones in (0, 1); None (default) for the schedule's own:
            the recipe's (`tf_sfw.recipe_math.DEFAULTS`: 0.75 and 0.9 of the steps) for ``"recipe"``; for the epoch schedules
            decay at the start of epoch ``round(f * epochs) + 1`` with 1/3, 2/3 (epochs 61 and
            121 of 180, as in the paper).
        decay_factor: Multiplier of the step decay (paper: 0.1).
        warmup: Fraction in [0, 1) of the steps with a linear lr warm-up (``"recipe"`` only).
        augment: Random crop + flip (None = on for cifar10/tiny_imagenet, off otherwise).
        subset: Train on a seeded random subset of this many examples.
        seed: Seed of initial weights, dropout, data order and augmentation.
        deterministic: Enable TensorFlow op determinism (bit-exact resumption).
        validate: Evaluate on the test set after every epoch (adds val_* to the history).
        backup_every: Back up every N steps (None: at every epoch end).
        sfw_init: Learn one scale per variable of the initialization before training (SFW-Init,
            :func:`tf_sfw.sfw_init.sfw_init`; SFW only, array datasets only).
        sfw_init_iterations: Number of SFW-Init iterations (reference: 390).
        divergence_factor: Stop with :class:`~tf_sfw.training.errors.TrainingDivergedError` when
            the running training loss exceeds this multiple of the first batch's loss (a
            non-finite loss always stops the run); None disables the ratio test.
        tensorboard: Write TensorBoard event files to ``out/logs``: True (the ``tensorboard``
            package, an optional dependency, must be installed), False, or None (default:
            when that package is installed). ``out/log.csv`` is always written.
        data_dir: Data directory (see :mod:`tf_sfw.data` for the search order).
        download: Allow Keras' downloader as the last resort.
        verbose: Keras fit verbosity (0, 1, 2).
    """

    model: str = "mnist_cnn"
    dataset: str = "mnist"
    optimizer: str = "sfw"
    epochs: int = 180
    batch_size: int = 128
    test_batch_size: int = 100
    learning_rate: float = _RECIPE["learning_rate"]
    momentum: float = _RECIPE["momentum"]
    rescale: str = _RECIPE["rescale"]
    constraint: str = _RECIPE["ball"]
    k: int = _RECIPE["k"]
    k_frac: float = _RECIPE["k_frac"]
    mode: str = "initialization"
    value: float = _RECIPE["tau"]
    unconstrained: tuple = ()
    unconstrained_bn: bool = False
    constrain: str = _RECIPE["constrain"]
    unconstrained_learning_rate: float = _RECIPE["unconstrained_learning_rate"]
    k_annealing: object = "auto"
    k_annealing_until: float = _RECIPE["k_annealing_until"]
    sgd_start: float = _RECIPE["sgd_start"]
    nm_n: int = 2
    nm_m: int = 4
    weight_decay: float = None
    schedule: str = "recipe"
    milestones: tuple = None
    milestones_frac: tuple = None
    decay_factor: float = _RECIPE["factor"]
    warmup: float = _RECIPE["warmup"]
    augment: bool = None
    subset: int = None
    seed: int = 0
    deterministic: bool = True
    validate: bool = False
    backup_every: int = None
    sfw_init: bool = False
    sfw_init_iterations: int = 390
    divergence_factor: float = 100.0
    tensorboard: bool = None
    data_dir: str = None
    download: bool = True
    verbose: int = 2

    def __post_init__(self):
        self.unconstrained = tuple(self.unconstrained or ())
        if self.milestones is not None:
            self.milestones = tuple(self.milestones)
        if isinstance(self.k_annealing, list):  # from JSON
            self.k_annealing = tuple(self.k_annealing)
        if self.milestones_frac is None:
            self.milestones_frac = _RECIPE["milestones"] if self.schedule == "recipe" else PAPER_MILESTONES_FRAC
        self.milestones_frac = tuple(self.milestones_frac or ())
        self._check_choices()
        self._check_numbers()
        recipe_math.check_patterns(self.unconstrained, "unconstrained")
        self._check_k_annealing()
        check_fraction(self.sgd_start, "sgd_start")
        if self.sgd_start and self.optimizer != "sfw":
            raise ValueError(f"`sgd_start` needs optimizer='sfw'. Received: optimizer={self.optimizer!r}, "
                             f"sgd_start={self.sgd_start!r}")
        if self.sfw_init and self.optimizer != "sfw":
            raise ValueError(f"`sfw_init` needs optimizer='sfw'. Received: optimizer={self.optimizer!r}")
        if self.sfw_init and self.dataset == "tiny_imagenet":
            raise ValueError("`sfw_init` is not supported for tiny_imagenet (file-based data). Received: sfw_init=True")

    def _check_choices(self):
        # Imported here: the registries import TensorFlow, this module does not.
        from tf_sfw.data import DATASETS
        from tf_sfw.models.registry import MODELS

        choices = {"model": tuple(MODELS), "dataset": DATASETS, "optimizer": OPTIMIZERS, "constraint": CONSTRAINTS,
                   "schedule": SCHEDULES, "rescale": RESCALES, "mode": MODES, "constrain": CONSTRAIN}
        for name, allowed in choices.items():
            check_choice(getattr(self, name), name, allowed)

    def _check_numbers(self):
        for name in ("epochs", "batch_size", "test_batch_size", "sfw_init_iterations"):
            check_positive_int(getattr(self, name), name)
        for name in ("subset", "backup_every", "k"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), name)
        check_int(self.seed, "seed")
        check_number(self.learning_rate, "learning_rate", low=0.0)
        check_number(self.unconstrained_learning_rate, "unconstrained_learning_rate", low=0.0)
        check_positive_int(self.nm_m, "nm_m")
        check_int(self.nm_n, "nm_n", minimum=1, maximum=self.nm_m)
        check_number(self.value, "value", low=0.0)
        check_number(self.momentum, "momentum", low=0.0, high=1.0, high_open=True)
        if self.k_frac is not None:
            check_number(self.k_frac, "k_frac", low=0.0, high=1.0, low_open=True)
        if self.weight_decay is not None:
            check_number(self.weight_decay, "weight_decay", low=0.0)
        if self.divergence_factor is not None:
            check_number(self.divergence_factor, "divergence_factor", low=1.0, low_open=True)
        check_positive_number(self.decay_factor, "decay_factor")
        check_fraction(self.warmup, "warmup")
        if self.decay_factor > 1:
            raise ValueError(f"`decay_factor` must be in (0, 1]. Received: decay_factor={self.decay_factor!r}")
        # Milestones are validated by the schedule itself (one definition of the rule).
        from tf_sfw.validation import check_milestones, check_milestones_frac

        if self.milestones is not None:
            check_milestones(self.milestones)
        check_milestones_frac(self.milestones_frac)

    def _check_k_annealing(self):
        check_number(self.k_annealing_until, "k_annealing_until", low=0.0, high=1.0, low_open=True)
        if self.k_annealing is None or self.k_annealing == "auto":
            return
        if not isinstance(self.k_annealing, tuple) or not self.k_annealing:
            raise ValueError(f"`k_annealing` must be 'auto', None or a non-empty sequence of k_frac values in (0, 1]. "
                             f"Received: k_annealing={self.k_annealing!r}")
        for i, fraction in enumerate(self.k_annealing):
            check_number(fraction, f"k_annealing[{i}]", low=0.0, high=1.0, low_open=True)
        if self.optimizer != "sfw" or self.constraint not in TOP_K_CONSTRAINTS:
            raise ValueError(f"`k_annealing` needs optimizer='sfw' and a top-K constraint {TOP_K_CONSTRAINTS}. "
                             f"Received: optimizer={self.optimizer!r}, constraint={self.constraint!r}")

    def k_annealing_phases(self):
        """The ``k_frac`` of each K-annealing phase this run uses (``"auto"`` resolved), or None."""
        if self.k_annealing != "auto":
            return self.k_annealing
        if self.optimizer == "sfw" and self.constraint in TOP_K_CONSTRAINTS and _RECIPE["k_annealing"] is not None:
            return tuple(_RECIPE["k_annealing"])
        return None

    def k_annealing_schedule(self, total_steps):
        """The `tf_sfw.KAnnealing` of a run of ``total_steps`` optimizer steps, or None."""
        from tf_sfw.k_annealing import k_annealing_for_run

        return k_annealing_for_run(self.k_annealing_phases(), total_steps, self.k_annealing_until)

    def sgd_start_steps(self, total_steps):
        """Steps of the SGD start in a run of ``total_steps`` optimizer steps (0 when off)."""
        if not self.sgd_start:
            return 0
        if total_steps is None:
            raise ValueError(f"`sgd_start` needs the run's `total_steps`. Received: total_steps=None, "
                             f"sgd_start={self.sgd_start!r}")
        return recipe_math.sgd_start_steps(total_steps, self.sgd_start)

    def to_dict(self):
        """JSON-serialisable dict of the fields (tuples become lists)."""
        d = dataclasses.asdict(self)
        for name in ("unconstrained", "milestones", "milestones_frac", "k_annealing"):
            if isinstance(d[name], tuple):
                d[name] = list(d[name])
        return d

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise ValueError(f"Unknown TrainConfig keys: {unknown}. Known: {sorted(fields)}")
        return cls(**d)

    def replace(self, **changes):
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)
