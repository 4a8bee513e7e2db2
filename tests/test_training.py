"""Tests for tf_sfw.training: exact resumption after a kill, outputs, configuration checks."""

import json

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.training import (
    StopAfterSteps,
    TrainConfig,
    build_constraints,
    build_optimizer,
    build_schedules,
    count_params,
    read_backup_step,
    train,
)


def _arrays(n=512, seed=0):
    """Learnable synthetic 28x28 data: the label is the brightest of 10 horizontal bands."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 100, (n, 28, 28, 1)).astype(np.uint8)
    for i, label in enumerate(y):
        x[i, 2 * label + 4 : 2 * label + 6] += 150
    return (x[: n - 128], y[: n - 128]), (x[n - 128 :], y[n - 128 :])


ARRAYS = _arrays()


def _config(**kw):
    base = dict(
        model="mnist_cnn", dataset="mnist", optimizer="sfw", epochs=3, batch_size=32, test_batch_size=64,
        schedule="paper", milestones=(2,), verbose=0,
    )
    base.update(kw)
    return TrainConfig(**base)


def _state(model):
    weights = [w.numpy() for w in model.weights]
    opt = [v.numpy() for v in model.optimizer.variables()]
    return weights, opt


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run per backup setting (weights, optimizer variables, metrics)."""
    cache = {}

    def get(backup_every):
        if backup_every not in cache:
            out = tmp_path_factory.mktemp(f"ref{backup_every}")
            model, metrics = train(_config(backup_every=backup_every), out, arrays=ARRAYS)
            cache[backup_every] = (_state(model), metrics, out)
        return cache[backup_every]

    return get


@pytest.mark.parametrize(
    "backup_every,kill_at,resumed_from",
    [
        (None, 20, 12),  # per-epoch backups (12 steps/epoch): restart at the end of epoch 1
        (5, 23, 20),  # mid-epoch backups every 5 steps
        (4, 25, 24),  # backup at the last batch of epoch 2 -> resume at the start of epoch 3
    ],
)
def test_killed_run_resumes_bit_exactly(tmp_path, reference, backup_every, kill_at, resumed_from):
    (ref_weights, ref_opt), ref_metrics, _ = reference(backup_every)
    config = _config(backup_every=backup_every)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, arrays=ARRAYS, extra_callbacks=[StopAfterSteps(kill_at)])
    assert read_backup_step(tmp_path / "backup") == resumed_from
    assert not (tmp_path / "metrics.json").exists()
    keras.backend.clear_session()
    model, metrics = train(config, tmp_path, resume=True, arrays=ARRAYS)
    assert metrics["initial_step"] == resumed_from
    weights, opt = _state(model)
    assert len(weights) == len(ref_weights) and len(opt) == len(ref_opt)
    for a, b in zip(weights + opt, ref_weights + ref_opt):
        np.testing.assert_array_equal(a, b)
    assert metrics["test_accuracy"] == ref_metrics["test_accuracy"]
    assert metrics["final_learning_rate"] == pytest.approx(0.1)  # milestone 2 applied exactly once
    assert not (tmp_path / "backup").exists()
    # the history holds every epoch, the interrupted one averaged over all of its steps
    assert set(metrics["history"]) == set(ref_metrics["history"])
    for key, values in ref_metrics["history"].items():
        assert metrics["history"][key] == pytest.approx(values, rel=1e-6), key


def test_outputs(reference):
    (weights, _), metrics, out = reference(None)
    on_disk = json.loads((out / "metrics.json").read_text())
    for key in ("test_accuracy", "test_loss", "epochs", "wall_time_s", "params", "config", "history"):
        assert key in on_disk
    assert on_disk["config"] == _config(backup_every=None).to_dict()
    assert on_disk["params"] == {"trainable": 34826, "non_trainable": 0, "total": 34826}
    assert on_disk["epochs"] == 3 and len(on_disk["history"]["loss"]) == 3
    assert on_disk["history"]["lr"] == pytest.approx([1.0, 0.1, 0.1])
    assert on_disk["test_accuracy"] > 0.5  # learnable synthetic task, 36 SFW steps
    assert on_disk["at_chance_level"] is False
    loaded = keras.models.load_model(out / "model.keras")
    x = ARRAYS[1][0][:16].astype("float32") / 255.0
    (model_weights) = [w.numpy() for w in loaded.weights]
    np.testing.assert_array_equal(model_weights[0], weights[0])
    assert loaded.predict(x, verbose=0).shape == (16, 10)
    assert json.loads((out / "config.json").read_text())["model"] == "mnist_cnn"


def test_existing_backup_requires_resume(tmp_path):
    config = _config(epochs=1, backup_every=3)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, arrays=ARRAYS, extra_callbacks=[StopAfterSteps(4)])
    with pytest.raises(FileExistsError, match="--resume"):
        train(config, tmp_path, arrays=ARRAYS)
    with pytest.raises(ValueError, match="different configuration.*learning_rate"):
        train(_config(epochs=1, backup_every=3, learning_rate=0.5), tmp_path, resume=True, arrays=ARRAYS)


@pytest.mark.filterwarnings("ignore:The trained model's test accuracy")  # random images and labels: chance level
def test_cifar10_files_end_to_end(tmp_path):
    """train() reading CIFAR-10 python batches from data_dir, with augmentation, simple_cnn."""
    import pickle

    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8), b"labels": list(range(8))}, f)
    model, metrics = train(
        _config(model="simple_cnn", dataset="cifar10", epochs=1, batch_size=16, data_dir=str(tmp_path / "data"), download=False),
        tmp_path / "out",
        save_model=False,
    )
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    assert metrics["train_examples"] == 40 and metrics["test_examples"] == 8 and metrics["steps_per_epoch"] == 3
    assert metrics["config"]["augment"] is None and metrics["augment"] is True  # default: on for cifar10
    assert not (tmp_path / "out" / "model.keras").exists()


def test_a_run_at_chance_level_warns_and_is_recorded(tmp_path):
    """All-black images carry no information: every prediction is the same class, so on balanced test
    labels the accuracy is exactly 1/10 whatever was learned."""
    blank = lambda n: (np.zeros((n, 28, 28, 1), np.uint8), np.arange(n) % 10)  # noqa: E731
    config = _config(optimizer="sgd", learning_rate=0.05, epochs=1, schedule="constant")
    with pytest.warns(RuntimeWarning, match=r"test accuracy 0\.1000 is at chance level for 10 classes"):
        _, metrics = train(config, tmp_path, arrays=(blank(64), blank(100)))
    assert metrics["test_accuracy"] == pytest.approx(0.1) and metrics["at_chance_level"] is True
    assert json.loads((tmp_path / "metrics.json").read_text())["at_chance_level"] is True


def test_sgd_baseline_runs(tmp_path):
    model, metrics = train(_config(optimizer="sgd", learning_rate=0.05, epochs=1, schedule="constant"), tmp_path, arrays=ARRAYS)
    assert type(model.optimizer).__name__ == "SGD"
    assert np.isfinite(metrics["test_loss"])


def test_unconstrained_bn_constraints():
    from tf_sfw.constraints import KSparsePolytope, Unconstrained

    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(2, 3, name="c")(inputs)
    x = keras.layers.BatchNormalization(name="norm")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="d")(keras.layers.Flatten()(x)))
    for flag in (False, True):
        config = _config(unconstrained_bn=flag, unconstrained=("^d/bias",), constraint="k_sparse", constrain="all")
        cons = dict(build_constraints(model, config).items())
        kinds = {name.split(":")[0]: type(c) for name, c in cons.items()}
        assert kinds["c/kernel"] is KSparsePolytope and kinds["d/kernel"] is KSparsePolytope
        assert kinds["d/bias"] is Unconstrained
        assert (kinds["norm/gamma"] is Unconstrained) == flag and (kinds["norm/beta"] is Unconstrained) == flag
    assert count_params(model)["non_trainable"] == 4  # BN moving mean/variance


def test_config_round_trip():
    config = _config(unconstrained=("bn",), subset=100)
    d = config.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert TrainConfig.from_dict(d) == config
    with pytest.raises(ValueError, match="Unknown TrainConfig keys"):
        TrainConfig.from_dict({**d, "lr": 1.0})


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"model": "resnet50"}, "model"),
        ({"dataset": "svhn"}, "dataset"),
        ({"optimizer": "adam"}, "optimizer"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": -1}, "batch_size"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"momentum": 1.0}, "momentum"),
        ({"k_frac": 0}, "k_frac"),
        ({"unconstrained": ("(",)}, "unconstrained"),
        ({"schedule": "cosine"}, "schedule"),
        ({"backup_every": 0}, "backup_every"),
        ({"milestones": (1, 3)}, "milestones"),
        ({"milestones_frac": (0.5, 1.5)}, "milestones_frac"),
        ({"decay_factor": 0}, "decay_factor"),
        ({"divergence_factor": 0.5}, "divergence_factor"),
        ({"sfw_init": True, "optimizer": "sgd"}, "sfw_init"),
        ({"sfw_init_iterations": 0}, "sfw_init_iterations"),
        ({"k_annealing": ()}, "k_annealing"),
        ({"k_annealing": 0.5}, r"Received: k_annealing=0\.5"),
        ({"k_annealing": "always"}, r"Received: k_annealing='always'"),
        ({"k_annealing": (1.0, 0.0)}, r"k_annealing\[1\]"),
        ({"k_annealing": (1.0,), "constraint": "l2"}, "constraint='l2'"),
        ({"k_annealing": (1.0,), "optimizer": "sgd"}, "optimizer='sgd'"),
        ({"k_annealing_until": 1.5}, "k_annealing_until"),
        ({"sgd_start": 1.0}, r"sgd_start=1\.0"),
        ({"sgd_start": -0.1}, "sgd_start"),
        ({"sgd_start": 0.2, "optimizer": "sgd"}, "sgd_start=0.2"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _config(**kwargs)


def test_stop_after_steps_validates():
    with pytest.raises(ValueError, match="steps"):
        StopAfterSteps(0)


def test_default_milestones_are_relative():
    """The paper's step decay: 1/3 and 2/3 of the run (epochs 61 and 121 of 180); the default
    recipe schedule decays at 60 % and 85 % of the steps, without epoch callbacks."""
    from tf_sfw.schedules import StepDecay, relative_milestones

    from tf_sfw.recipe_math import DEFAULTS

    assert TrainConfig().milestones_frac == DEFAULTS["milestones"]
    assert not [cb for cb in build_schedules(TrainConfig()) if isinstance(cb, StepDecay)]
    config = TrainConfig(schedule="paper")
    assert config.milestones is None and relative_milestones(config.milestones_frac, config.epochs) == (61, 121)
    decay = [cb for cb in build_schedules(config) if isinstance(cb, StepDecay)]
    assert len(decay) == 1 and decay[0].milestones_frac == config.milestones_frac
    absolute = [cb for cb in build_schedules(_config(milestones=(3, 5))) if isinstance(cb, StepDecay)]
    assert absolute[0].milestones == (3, 5) and absolute[0].milestones_frac is None
    assert not [cb for cb in build_schedules(_config(milestones=())) if isinstance(cb, StepDecay)]


@pytest.mark.parametrize(
    "options,kind,lr",
    [({"optimizer": "sgd", "learning_rate": 0.05}, "SGD", 0.05), ({"optimizer": "sfw", "momentum": 0.5}, "SFW", 1.0)],
)
def test_build_optimizer_from_options(options, kind, lr):
    """The one builder of optimizers takes a TrainConfig or a dict of some of its fields."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    optimizer = build_optimizer(model, options)
    assert type(optimizer).__name__ == kind
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(lr)
    if kind == "SFW":
        assert float(optimizer.momentum) == pytest.approx(0.5)
        assert len(dict(optimizer.constraints.items())) == 2
    with pytest.raises(ValueError, match="Unknown TrainConfig keys"):
        build_optimizer(model, {"lr": 1.0})


def test_sfw_init_configured_by_the_config(tmp_path):
    """sfw_init=True runs SFW-Init before training (the initial weights are rescaled)."""
    seen = {}

    class FirstStepWeights(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if "w" not in seen:
                seen["w"] = [w.numpy() for w in self.model.trainable_weights]

    plain = _config(epochs=1, schedule="constant")
    _, _ = train(plain, tmp_path / "a", arrays=ARRAYS, extra_callbacks=[FirstStepWeights()], save_model=False)
    before = seen.pop("w")
    model, metrics = train(plain.replace(sfw_init=True, sfw_init_iterations=2), tmp_path / "b", arrays=ARRAYS,
                           extra_callbacks=[FirstStepWeights()], save_model=False)
    after = seen.pop("w")
    assert metrics["config"]["sfw_init"] is True
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize(
    "constraint,cls",
    [("group_k_sparse", "GroupKSparsePolytope"), ("group_k_support", "GroupKSupportNormBall"), ("nm", "NMSparsePolytope")],
)
def test_build_structured_constraints(constraint, cls):
    """--constraint group_k_sparse|group_k_support|nm reach the structured sets (N:M from nm_n/nm_m)."""
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="d")])
    built = build_constraints(model, {"constraint": constraint, "nm_n": 1, "nm_m": 4, "k": 1, "k_frac": 0.5})
    kernel = built.constraints["d/kernel"]
    assert type(kernel).__name__ == cls
    if constraint == "nm":
        assert (kernel.n, kernel.m) == (1, 4)
    else:
        assert (kernel.k, kernel.k_frac) == (1, 0.5)


@pytest.mark.parametrize("constraint", ["group_k_sparse", "group_k_support"])
def test_group_sets_left_at_the_recipe_k_take_their_own_defaults(constraint):
    """The recipe's K (at least 150 entries) is not a filter count: group sets keep theirs."""
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="d")])
    kernel = build_constraints(model, {"constraint": constraint}).constraints["d/kernel"]
    assert (kernel.k, kernel.k_frac) == (1, 0.25) and kernel.k_groups(kernel_shape := (8, 16)) == 4
    assert build_constraints(model, {"constraint": constraint, "k": 3}).constraints["d/kernel"].k_groups(kernel_shape) == 3
    assert build_constraints(model, {"constraint": constraint, "k": 6}).constraints["d/kernel"].k_groups(kernel_shape) == 6


def test_k_annealing_reaches_sfw_and_round_trips():
    """TrainConfig(k_annealing=...) gives SFW a KAnnealing over the run's first `k_annealing_until`."""
    from tf_sfw.k_annealing import KAnnealing

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    config = TrainConfig(k_annealing=[1.0, 0.3, 0.1], k_annealing_until=0.25)
    assert config.k_annealing == (1.0, 0.3, 0.1)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    optimizer = build_optimizer(model, config, total_steps=120)
    assert optimizer.k_annealing == KAnnealing((10, 20, 30), (1.0, 0.3, 0.1))
    with pytest.raises(ValueError, match="total_steps=None"):
        build_optimizer(model, config)
    # phases too short for one step are dropped: 3 phases over a quarter of 4 steps (boundaries 0, 1, 1)
    assert build_optimizer(model, config, total_steps=4).k_annealing == KAnnealing((1,), (0.3,))


def test_sgd_start_reaches_sfw_and_round_trips():
    """TrainConfig(sgd_start=f) gives SFW floor(f * total_steps) SGD steps; off by default."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    config = TrainConfig(sgd_start=0.25)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert build_optimizer(model, config, total_steps=122).sgd_steps == 30
    assert build_optimizer(model, TrainConfig(), total_steps=122).sgd_steps == 0
    with pytest.raises(ValueError, match="total_steps=None"):
        build_optimizer(model, config)


def test_k_annealing_auto_is_the_recipe_for_top_k_sets_only():
    from tf_sfw.k_annealing import KAnnealing
    from tf_sfw.recipe_math import DEFAULTS

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    auto = TrainConfig()
    assert auto.k_annealing == "auto" and auto.k_annealing_phases() == DEFAULTS["k_annealing"] == (1.0, 0.3, 0.1)
    assert build_optimizer(model, auto, total_steps=120).k_annealing == KAnnealing((20, 40, 60), (1.0, 0.3, 0.1))
    assert build_optimizer(model, auto).k_annealing is None  # no run length: plain rates, no annealing
    assert TrainConfig(constraint="l2").k_annealing_phases() is None
    assert TrainConfig(optimizer="sgd").k_annealing_phases() is None
    assert TrainConfig(k_annealing=None).k_annealing_schedule(120) is None
    assert TrainConfig(constraint="group_k_sparse").k_annealing_phases() == (1.0, 0.3, 0.1)


def test_unconstrained_learning_rate_reaches_sfw():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    optimizer = build_optimizer(model, {"unconstrained_learning_rate": 0.003, "unconstrained": ("bias",)})
    assert optimizer.get_config()["unconstrained_learning_rate"] == pytest.approx(0.003)
    with pytest.raises(ValueError, match=r"`nm_n` must be an integer in \[1, 4\]\. Received: nm_n=5"):
        TrainConfig(nm_n=5, nm_m=4)
    with pytest.raises(ValueError, match=r"`unconstrained_learning_rate` must be a finite number >= 0"):
        TrainConfig(unconstrained_learning_rate=-1.0)
