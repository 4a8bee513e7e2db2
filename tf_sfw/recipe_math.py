r"""The SFW training recipe's defaults and learning-rate formula, free of TensorFlow and Keras.

Both Keras flavours build their recipe (`tf_sfw.recipe` for tf_keras, the Keras 3 one) from
this module, so the chosen hyperparameters and the schedule formula exist once.

Learning rate at optimizer step :math:`t` of a run of :math:`T` steps, initial rate
:math:`\mathrm{lr}`:

.. math::

    \mathrm{lr}_t = \mathrm{base}(t)\cdot\min\bigl(1, (t + 1)/W\bigr), \qquad
    W = \lfloor w\,T\rfloor

(no warm-up factor when :math:`W = 0`), with ``base`` one of

* ``"step"``: :math:`\mathrm{lr}\cdot\mathrm{factor}^{\#\{i:\ t \ge b_i\}}`,
  :math:`b_i = \max(1, \lfloor m_i T\rfloor)` for the fractions :math:`m_i` of ``milestones``;
* ``"cosine"``: :math:`\mathrm{lr}\cdot\tfrac12\bigl(1+\cos(\pi\min(t, T)/T)\bigr)`;
* ``"constant"``: :math:`\mathrm{lr}`.

Milestones are fractions of the run, in optimizer steps, so that the decay fires in short
runs too. The linear warm-up keeps the first full-size SFW steps with gradient rescaling
(which can move a variable most of the way to a vertex of its set) from throwing a freshly
initialised network into a dead-ReLU state. The sets and step rule are those of Miao et al.
(ICLR 2022, "Learning Pruning-Friendly Networks via Frank-Wolfe: One-Shot, Any-Sparsity, and
No Retraining"); the schedule, warm-up and the other defaults in `DEFAULTS` were chosen on
held-out training data (see the project's ``results/compare_pruning``).

`learning_rate_at` is written over an op namespace ``ops`` (`tf_sfw.selection.get_ops`:
TensorFlow by default, `tf_sfw.keras3._ops` for Keras 3), as the rest of the shared math.
"""

import math
import re

from tf_sfw import sets, validation
from tf_sfw.k_annealing import k_annealing_for_run

__all__ = [
    "BALLS",
    "BIAS_NORMS",
    "CONSTRAIN",
    "DEFAULTS",
    "NON_KERNEL_PATTERN",
    "SCHEDULES",
    "check_patterns",
    "constrained_per_variable",
    "check_schedule_arguments",
    "learning_rate_at",
    "milestone_steps",
    "milestones_from_epochs",
    "sgd_start_steps",
    "warmup_steps",
    "warmup_factor",
]

SCHEDULES = ("step", "cosine", "constant")
BALLS = ("k_sparse", "k_support")
BIAS_NORMS = ("pytorch", "unit")
#: Which variables the recipe puts in a set: every trainable variable; conv/dense kernels only
#: (biases, BatchNorm and the rest then trained by SGD at ``unconstrained_learning_rate``); or the
#: kernels whose top-K set is sparse, K < n (`constrained_per_variable`).
CONSTRAIN = ("all", "kernels", "sparse_kernels")
#: ``constrain="kernels"``: variables whose name or layer path does NOT end in "kernel"
#: (``re.search``, a ``:0`` suffix allowed) are the unconstrained ones.
NON_KERNEL_PATTERN = r"^(?!.*kernel(:\d+)?$)"

#: The recipe's defaults (`tf_sfw.recipe.sfw_recipe` and its Keras 3 twin).
DEFAULTS = {
    "learning_rate": 1.0,  # SFW step-size factor (with gradient rescaling, as in Miao et al.)
    "momentum": 0.9,
    "tau": 15.0,  # set radius relative to the expected initial norm; 10 trades dense for 95 % (tuning13)
    # K = min(max(k, floor(k_frac * n)), n) per variable: 10 % of a large kernel, but at least 150
    # entries, so that small kernels (a 5x5x1x6 first convolution, a classifier) are not held to
    # ten-entry vertices (Miao et al.'s k = 10 trains them poorly). 10 % rather than 5 % since the
    # least-squares reconstruction carries the one-shot step: a denser late phase closes the dense
    # gap to SGD and prunes as well after the refit (tuning8)
    "k": 150,
    "k_frac": 0.1,
    "ball": "k_support",  # K-support norm ball of radius tau * E||theta_init||
    "rescale": "gradient",
    "schedule": "step",
    "milestones": (0.75, 0.9),  # fractions of the run's optimizer steps
    "factor": 0.1,  # lr multiplier at each milestone
    "warmup": 0.02,  # fraction of the run with a linear warm-up
    "bias_norm": "unit",  # how zero-initialised biases are sized (constrain="all" only)
    # kernels with K < n in sets; biases, BatchNorm and kernels of at most k entries (whose set would
    # be a plain L2 ball) trained by SGD. Validation (tuning12), Fashion-MNIST simple_cnn 6 epochs,
    # 6 seeds: +0.93 dense, refit's 80/90/95 % sum +1.05; mnist_cnn has no such kernel. Test sets
    # (final12): dense +0.35 on the mean (five seeds +0.6 to +1.9, one 3.1 lower), 95 % refit -1.0
    "constrain": "sparse_kernels",
    # SGD rate of the unconstrained variables, on the same schedule shape; SFW's momentum buffer
    # is an average, so 0.5 is heavy-ball SGD at 0.05 with momentum 0.9
    "unconstrained_learning_rate": 0.5,
    # K annealing (tf_sfw.KAnnealing): k_frac of every top-K set in equal phases over the first
    # `k_annealing_until` of the run, a dense start (K = all, 30 %, 10 %) before the recipe's K
    # (10 % too since tuning8: the last phase then runs on into the rest of the run).
    # Closes the dense gap to SGD; with plain one-shot magnitude pruning it loses at 95 %, with
    # the least-squares reconstruction (tf_sfw.pruning.reconstruct) it wins (tuning6, tuning7)
    "k_annealing": (1.0, 0.3, 0.1),
    "k_annealing_until": 0.5,
    # SGD start (`tf_sfw.fw.sgd_start_step`): the first `sgd_start` of the run's steps train every
    # variable by SGD at the unconstrained rate, as gradual magnitude pruning trains densely first.
    # Off: on validation splits 0.2 gave Fashion-MNIST's 6-epoch run +0.66 dense and +0.69 on the
    # summed 80/90/95 % refit accuracies, cost MNIST's 2-epoch run 0.09 dense and 0.31 summed, and
    # changed nothing after 12 (MNIST) or 24 (Fashion-MNIST) epochs (tuning12): an option, not the default.
    "sgd_start": 0.0,
    # Regular expressions (re.search in a variable's name or layer path) of variables trained by
    # SGD at the unconstrained rate whatever `constrain` says, e.g. ("conv1/kernel",); none by default
    "unconstrained": (),
}


def check_schedule_arguments(learning_rate, total_steps, schedule, milestones, factor, warmup):
    """Validates the schedule's arguments; returns them normalised (floats, int, tuple)."""
    learning_rate = validation.check_positive_number(learning_rate, "learning_rate")
    total_steps = validation.check_positive_int(total_steps, "total_steps")
    validation.check_choice(schedule, "schedule", SCHEDULES)
    milestones = validation.check_milestones_frac(milestones, "milestones")
    factor = validation.check_number(factor, "factor", low=0.0, high=1.0, low_open=True)
    warmup = validation.check_fraction(warmup, "warmup")
    return learning_rate, total_steps, schedule, milestones, factor, warmup


def milestone_steps(total_steps, milestones):
    r"""The distinct decay steps :math:`b_i = \max(1, \lfloor m_i T\rfloor)`, increasing."""
    return sorted({max(1, math.floor(m * total_steps)) for m in milestones})


def milestones_from_epochs(milestones, epochs):
    """Absolute 1-based decay epochs as fractions of the run, ``(e - 1) / epochs``; epochs
    after the run's end, which never fire, are dropped."""
    return tuple((e - 1) / epochs for e in milestones if e <= epochs)


def warmup_steps(total_steps, warmup):
    r"""Warm-up length :math:`W = \lfloor w\,T\rfloor` in steps (0: no warm-up)."""
    return math.floor(warmup * total_steps)


def sgd_start_steps(total_steps, sgd_start):
    r"""Length :math:`S = \lfloor s\,T\rfloor` in steps of the SGD start (`tf_sfw.fw.sgd_start_step`)
    for the fraction ``sgd_start`` = :math:`s \in [0, 1)` of a run of :math:`T` steps."""
    total_steps = validation.check_positive_int(total_steps, "total_steps")
    return math.floor(validation.check_fraction(sgd_start, "sgd_start") * total_steps)


def warmup_factor(step, num_warmup_steps, ops=None):
    r""":math:`\min\bigl(1, (t + 1)/W\bigr)` as a float32 scalar (``num_warmup_steps`` = W >= 1)."""
    ops = _get_ops(ops)
    t = ops.cast(step, ops.float32)
    return ops.minimum(ops.constant(1.0, ops.float32), (t + 1.0) / float(num_warmup_steps))


def learning_rate_at(
    step,
    learning_rate=DEFAULTS["learning_rate"],
    total_steps=1,
    schedule=DEFAULTS["schedule"],
    milestones=DEFAULTS["milestones"],
    factor=DEFAULTS["factor"],
    warmup=DEFAULTS["warmup"],
    ops=None,
):
    r"""The recipe's learning rate at optimizer step ``step`` (a float32 scalar tensor).

    See the module docstring for the formula. Static control flow only (a fixed chain of
    ``where`` over the milestones), so it runs inside compiled training steps.

    Args:
        step: Optimizer step :math:`t` (scalar tensor or int, counted from 0).
        learning_rate: Initial rate (> 0).
        total_steps: Number of optimizer steps :math:`T` of the run (>= 1).
        schedule: One of `SCHEDULES`.
        milestones: Increasing fractions in (0, 1) of the run (``"step"`` only).
        factor: Multiplier at each milestone, in (0, 1] (``"step"`` only).
        warmup: Fraction in [0, 1) of the run with a linear warm-up; 0 for none.
        ops: Op namespace (default TensorFlow, `tf_sfw._tf_ops`; `tf_sfw.keras3._ops` for
            Keras 3).
    """
    learning_rate, total_steps, schedule, milestones, factor, warmup = check_schedule_arguments(
        learning_rate, total_steps, schedule, milestones, factor, warmup
    )
    ops = _get_ops(ops)
    t = ops.cast(step, ops.float32)
    if schedule == "cosine":
        progress = ops.minimum(t, float(total_steps)) / float(total_steps)
        rate = learning_rate * 0.5 * (1.0 + ops.cos(math.pi * progress))
    else:
        rate = ops.constant(learning_rate, ops.float32)
        if schedule == "step":
            for i, boundary in enumerate(milestone_steps(total_steps, milestones)):
                decayed = ops.constant(learning_rate * factor ** (i + 1), ops.float32)
                rate = ops.where(t >= float(boundary), decayed, rate)
    num_warmup = warmup_steps(total_steps, warmup)
    if num_warmup >= 1:
        rate = rate * warmup_factor(t, num_warmup, ops)
    return rate


def _get_ops(ops):
    from tf_sfw.selection import get_ops

    return get_ops(ops)


class ScheduleBody:
    """The body of both Keras flavours' ``RecipeSchedule``: the recipe's learning rate over a
    run of ``total_steps`` optimizer steps, `learning_rate_at` over the flavour's ``ops``.

    A flavour's class subclasses this and its Keras ``LearningRateSchedule`` and sets ``ops``
    (None: TensorFlow), as the set classes of `tf_sfw.sets` do.

    Args:
        learning_rate: Initial rate (> 0).
        total_steps: Number of optimizer steps T of the run (>= 1).
        schedule: One of `SCHEDULES`.
        milestones: Increasing fractions in (0, 1) of the run (``"step"`` only).
        factor: Multiplier at each milestone, in (0, 1] (``"step"`` only).
        warmup: Fraction in [0, 1) of the run with a linear warm-up; 0 for none.
    """

    ops = None

    def __init__(self, learning_rate, total_steps, schedule=DEFAULTS["schedule"], milestones=DEFAULTS["milestones"],
                 factor=DEFAULTS["factor"], warmup=DEFAULTS["warmup"]):
        (self.learning_rate, self.total_steps, self.schedule, self.milestones, self.factor,
         self.warmup) = check_schedule_arguments(learning_rate, total_steps, schedule, milestones, factor, warmup)

    def __call__(self, step):
        return learning_rate_at(step, self.learning_rate, self.total_steps, self.schedule, self.milestones,
                                self.factor, self.warmup, ops=self.ops)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "total_steps": self.total_steps, "schedule": self.schedule,
                "milestones": list(self.milestones), "factor": self.factor, "warmup": self.warmup}


def schedule_or_rate(schedule_class, learning_rate, total_steps, schedule, milestones, factor, warmup):
    """``schedule_class(...)`` (a flavour's ``RecipeSchedule``), or the float ``learning_rate``
    for ``"constant"`` without warm-up."""
    learning_rate, total_steps, schedule, milestones, factor, warmup = check_schedule_arguments(
        learning_rate, total_steps, schedule, milestones, factor, warmup
    )
    if schedule == "constant" and warmup_steps(total_steps, warmup) < 1:
        return learning_rate
    return schedule_class(learning_rate, total_steps, schedule, milestones, factor, warmup)


def check_patterns(patterns, name):
    """Returns ``patterns`` as a tuple if it is a sequence of valid regular expressions."""
    if isinstance(patterns, (str, bytes)) or not hasattr(patterns, "__iter__"):
        raise ValueError(f"`{name}` must be a sequence of regular expressions. Received: {name}={patterns!r}")
    patterns = tuple(patterns)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as err:
            raise ValueError(f"`{name}` pattern {pattern!r} is not a valid regular expression: {err}. "
                             f"Received: {name}={patterns!r}") from None
    return patterns


def constrained_per_variable(constraints, model, default, constrain, overrides=None, init_norms=None):
    r"""``constraints.constraints_for_model`` (``constraints``: a Keras flavour's constraints module)
    with ``default`` for the variables that ``constrain`` puts in a set:

    * ``"all"``: every variable not matched by ``overrides``;
    * ``"kernels"``: only variables named ``*kernel`` (`NON_KERNEL_PATTERN` unconstrained);
    * ``"sparse_kernels"``: those kernels whose K-sparse polytope or K-support ball holds all
      their :math:`n` entries, :math:`K = n` (a kernel of at most ``k`` entries), unconstrained
      too. Such a set induces no sparsity: it is the cube :math:`\|\theta\|_\infty \le r` or the
      L2 ball, a norm bound whose Frank-Wolfe steps move the whole kernel toward one vertex
      :math:`-r\,m/\|m\|` at a time.
    """
    validation.check_choice(constrain, "constrain", CONSTRAIN)
    overrides = dict(overrides or {})
    if constrain != "all":
        overrides[NON_KERNEL_PATTERN] = constraints.Unconstrained()
    per_variable = constraints.constraints_for_model(model, default, overrides=overrides or None, init_norms=init_norms)
    if constrain != "sparse_kernels":
        return per_variable
    # both flavours key the entries by path, in model.trainable_variables order
    full = {f"^{re.escape(path)}$": constraints.Unconstrained()
            for (path, constraint), variable in zip(per_variable.constraints.items(), model.trainable_variables)
            if _holds_every_entry(constraint, math.prod(variable.shape))}
    if not full:
        return per_variable
    return constraints.constraints_for_model(model, default, overrides={**full, **overrides}, init_norms=init_norms)


def _holds_every_entry(constraint, n):
    """Whether ``constraint`` is an entry-wise top-K set with K = n for a variable of n entries."""
    return isinstance(constraint, (sets.KSparsePolytope, sets.KSupportNormBall)) and constraint.k_for(n) >= n


def pytorch_bias_norm(bias_size, kernel_size):
    r"""Expected L2 norm of a bias of ``n`` = ``bias_size`` entries under PyTorch's default
    :math:`U(\pm 1/\sqrt{\mathrm{fan_{in}}})`, fan_in = ``kernel_size`` / n:
    :math:`\sqrt{n\,\mathbb{E}[b^2]} = \sqrt{n / (3\,\mathrm{fan_{in}})}`."""
    fan_in = int(kernel_size) // int(bias_size)
    return math.sqrt(int(bias_size) / (3.0 * fan_in))


def build_recipe(model, epochs, steps_per_epoch, constraints, sfw_class, schedule_class, bias_norms, **settings):
    r"""Optimizer, constraints and lr schedule of the recipe for ``model``, for one Keras flavour.

    The flavour's pieces: ``constraints``, its constraints module (``KSparsePolytope``,
    ``KSupportNormBall``, ``Unconstrained``, ``constraints_for_model``); ``sfw_class``, its
    ``SFW``; ``schedule_class``, its ``RecipeSchedule``; ``bias_norms``, its
    ``reference_bias_norms``. ``settings`` override `DEFAULTS` (names as there; anything else is
    refused). Both rates (SFW's and the unconstrained variables' SGD rate) follow one schedule
    shape over ``epochs * steps_per_epoch`` steps.
    """
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"sfw_recipe() got unexpected keyword arguments {unknown}; known: {sorted(DEFAULTS)}")
    s = {**DEFAULTS, **settings}
    epochs = validation.check_positive_int(epochs, "epochs")
    steps_per_epoch = validation.check_positive_int(steps_per_epoch, "steps_per_epoch")
    tau = validation.check_positive_number(s["tau"], "tau")
    validation.check_choice(s["ball"], "ball", BALLS)
    validation.check_choice(s["bias_norm"], "bias_norm", BIAS_NORMS)
    validation.check_choice(s["constrain"], "constrain", CONSTRAIN)
    unconstrained = check_patterns(s["unconstrained"], "unconstrained")
    ulr = validation.check_positive_number(s["unconstrained_learning_rate"], "unconstrained_learning_rate")
    cls = constraints.KSparsePolytope if s["ball"] == "k_sparse" else constraints.KSupportNormBall
    init_norms = bias_norms(model) if s["bias_norm"] == "pytorch" else None
    per_variable = constrained_per_variable(
        constraints, model, cls(k=s["k"], k_frac=s["k_frac"], mode="initialization", value=tau), s["constrain"],
        overrides={pattern: constraints.Unconstrained() for pattern in unconstrained}, init_norms=init_norms,
    )
    shape = (epochs * steps_per_epoch, s["schedule"], s["milestones"], s["factor"], s["warmup"])
    lr = schedule_or_rate(schedule_class, s["learning_rate"], *shape)
    k_annealing = k_annealing_for_run(s["k_annealing"], epochs * steps_per_epoch, s["k_annealing_until"])
    optimizer = sfw_class(learning_rate=lr, momentum=s["momentum"], rescale=s["rescale"], constraints=per_variable,
                          unconstrained_learning_rate=schedule_or_rate(schedule_class, ulr, *shape),
                          k_annealing=k_annealing, sgd_steps=sgd_start_steps(epochs * steps_per_epoch, s["sgd_start"]))
    return optimizer, per_variable, lr
