"""tf_sfw.recipe: the lr schedule family and the one-call SFW recipe."""

import math

import numpy as np
import pytest
import tensorflow as tf

import tf_sfw
from tf_sfw._keras import keras
from tf_sfw.recipe import lr_schedule, reference_bias_norms, sfw_recipe


def _model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("total,milestones", [(100, (0.6, 0.85)), (10, (0.5,)), (37, (0.1, 0.2, 0.9))])
def test_step_schedule_decays_at_fractions_of_the_run(total, milestones):
    schedule = lr_schedule(0.5, total, "step", milestones, factor=0.1)
    boundaries = [math.floor(m * total) for m in milestones]
    for step in range(total):
        expected = 0.5 * 0.1 ** sum(step >= b for b in boundaries)
        np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-6)


def test_cosine_and_constant_schedules():
    schedule = lr_schedule(2.0, 50, "cosine")
    for step in (0, 10, 25, 49, 50):
        np.testing.assert_allclose(float(schedule(step)), 2.0 * 0.5 * (1 + math.cos(math.pi * step / 50)), atol=1e-6)
    assert lr_schedule(0.3, 50, "constant") == 0.3


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(total_steps=0), "total_steps"),
        (dict(schedule="linear"), "schedule"),
        (dict(milestones=(0.8, 0.6)), "milestones"),
        (dict(milestones=(1.2,)), "milestones"),
        (dict(factor=0.0), "factor"),
    ],
)
def test_lr_schedule_validates_arguments(kwargs, match):
    args = dict(learning_rate=1.0, total_steps=10, schedule="step", milestones=(0.5,), factor=0.1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        lr_schedule(**args)


@pytest.mark.parametrize("ball,cls", [("k_sparse", tf_sfw.KSparsePolytope), ("k_support", tf_sfw.KSupportNormBall)])
def test_sfw_recipe_returns_optimizer_constraints_and_schedule(ball, cls):
    model = _model()
    optimizer, constraints, schedule = sfw_recipe(
        model, epochs=2, steps_per_epoch=10, tau=20.0, k_frac=0.1, ball=ball, warmup=0.0, bias_norm="pytorch",
        constrain="all",
    )
    assert isinstance(optimizer, tf_sfw.SFW)
    assert optimizer.constraints is constraints
    np.testing.assert_allclose(float(schedule(14)), 1.0)
    np.testing.assert_allclose(float(schedule(15)), 0.1)  # floor(0.75 * 20)
    np.testing.assert_allclose(float(schedule(17)), 0.1)
    np.testing.assert_allclose(float(schedule(18)), 0.01, rtol=1e-6)  # floor(0.9 * 20)
    for variable in model.trainable_variables:
        constraint = constraints.for_variable(variable)
        assert isinstance(constraint, cls)
        assert constraint.mode == "radius"
    # Biases start at zero in Keras: their sets are sized from U(+-1/sqrt(fan_in)).
    bias = model.get_layer("dense").bias
    n, fan_in = 3, 4 * 4 * 4
    norm = math.sqrt(n / (3 * fan_in))
    k = constraints.for_variable(bias).k_for(n)
    expected = 20.0 * norm / (math.sqrt(k) if ball == "k_sparse" else 1.0)
    np.testing.assert_allclose(constraints.for_variable(bias).radius(n), expected, rtol=1e-6)
    assert reference_bias_norms(model)[bias.name] == pytest.approx(norm)


def test_sfw_recipe_defaults_warm_up_and_constrain_kernels_in_k_support_balls():
    model = _model()
    optimizer, constraints, schedule = sfw_recipe(model, epochs=5, steps_per_epoch=20, constrain="kernels")
    np.testing.assert_allclose(float(schedule(0)), 1.0 / 2)  # warm-up over floor(0.02 * 100) = 2 steps
    np.testing.assert_allclose(float(schedule(1)), 1.0)
    np.testing.assert_allclose(float(schedule(74)), 1.0)
    np.testing.assert_allclose(float(schedule(75)), 0.1)  # milestones at 75 % and 90 % of the steps
    np.testing.assert_allclose(float(schedule(90)), 0.01, rtol=1e-6)
    np.testing.assert_allclose(float(optimizer.unconstrained_learning_rate(75)), 0.05)  # 0.5, same shape
    for layer in ("conv", "dense"):
        kernel = model.get_layer(layer).kernel
        constraint = constraints.for_variable(kernel)
        assert isinstance(constraint, tf_sfw.KSupportNormBall)
        n = int(np.prod(kernel.shape))
        assert constraint.k_for(n) == min(max(150, int(0.05 * n)), n)  # at least 150 entries
        assert not constraints.for_variable(model.get_layer(layer).bias).is_constrained


def test_sfw_recipe_sizes_constrained_biases_from_a_unit_norm():
    model = _model()
    _, constraints, _ = sfw_recipe(model, epochs=5, steps_per_epoch=20, constrain="all", ball="k_sparse")
    bias = model.get_layer("dense").bias
    k = constraints.for_variable(bias).k_for(3)
    np.testing.assert_allclose(constraints.for_variable(bias).radius(3), 15.0 * 1.0 / math.sqrt(k), rtol=1e-6)


def test_sfw_recipe_trains_inside_the_sets():
    model = _model()
    optimizer, constraints, _ = sfw_recipe(model, epochs=1, steps_per_epoch=3, schedule="cosine")
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(24, 6, 6, 2)).astype("float32"), rng.integers(0, 3, 24), batch_size=8, verbose=0)
    for variable in model.trainable_variables:
        constraint = constraints.for_variable(variable)
        x = variable.numpy()
        np.testing.assert_allclose(constraint.shift_inside(variable.value()).numpy(), x, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(epochs=0), "epochs"), (dict(steps_per_epoch=1.5), "steps_per_epoch"), (dict(tau=-1), "tau"),
     (dict(ball="l2"), "ball"), (dict(bias_norm="zero"), "bias_norm")],
)
def test_sfw_recipe_validates_arguments(kwargs, match):
    args = dict(epochs=1, steps_per_epoch=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sfw_recipe(_model(), **args)


@pytest.mark.parametrize("schedule", ["step", "cosine", "constant"])
def test_warmup_ramps_linearly_then_follows_the_schedule(schedule):
    plain = lr_schedule(0.8, 100, schedule)
    warm = lr_schedule(0.8, 100, schedule, warmup=0.1)
    base = (lambda t: plain) if isinstance(plain, float) else plain
    for step in range(100):
        expected = float(base(step)) * min(1.0, (step + 1) / 10)
        np.testing.assert_allclose(float(warm(step)), expected, rtol=1e-6)
    config = warm.get_config()
    restored = type(warm).from_config(config)
    np.testing.assert_allclose(float(restored(3)), float(warm(3)), rtol=1e-6)
    with pytest.raises(ValueError, match="warmup"):
        lr_schedule(0.8, 100, schedule, warmup=1.0)


def test_sfw_recipe_kernels_only_leaves_biases_to_sgd_on_the_same_schedule_shape():
    model = _model()
    optimizer, constraints, schedule = sfw_recipe(
        model, epochs=5, steps_per_epoch=20, constrain="kernels", unconstrained_learning_rate=0.5
    )
    for layer in ("conv", "dense"):
        assert constraints.for_variable(model.get_layer(layer).kernel).is_constrained
        assert not constraints.for_variable(model.get_layer(layer).bias).is_constrained
    ulr = optimizer.unconstrained_learning_rate
    for step in (0, 1, 59, 60, 84, 85, 99):
        np.testing.assert_allclose(float(ulr(step)), 0.5 * float(schedule(step)), rtol=1e-6)
    # one step: the kernel stays in its set, the bias moves by -ulr_0 * g (m_0 = g)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 6, 6, 2)).astype("float32"), rng.integers(0, 3, 8)
    bias = model.get_layer("dense").bias
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x))
        loss = tf.reduce_mean(loss)
    grads = tape.gradient(loss, model.trainable_variables)
    before = bias.numpy().copy()
    grad_bias = dict(zip([v.name for v in model.trainable_variables], grads))[bias.name].numpy()
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    np.testing.assert_allclose(bias.numpy(), before - 0.5 * 0.5 * grad_bias, rtol=1e-5, atol=1e-7)


def test_sfw_recipe_sgd_start_is_a_fraction_of_the_run_and_off_by_default():
    assert sfw_recipe(_model(), epochs=5, steps_per_epoch=20)[0].sgd_steps == 0
    assert sfw_recipe(_model(), epochs=5, steps_per_epoch=20, sgd_start=0.2)[0].sgd_steps == 20
    assert sfw_recipe(_model(), epochs=3, steps_per_epoch=7, sgd_start=0.1)[0].sgd_steps == 2  # floor(2.1)
    for bad in (1.0, -0.5, "0.2"):
        with pytest.raises(ValueError, match="sgd_start"):
            sfw_recipe(_model(), 1, 1, sgd_start=bad)


def _nested_model():
    """Kernels of 72 (conv), 192 (inner/fc) and 12 (head) entries; the inner model's layer is named like a
    top-level one would be."""
    keras.utils.set_random_seed(0)
    inner_in = keras.Input((64,))
    inner = keras.Model(inner_in, keras.layers.Dense(3, name="fc")(inner_in), name="inner")
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, name="conv")(inputs))
    return keras.Model(inputs, keras.layers.Dense(4, name="head")(inner(x)))


@pytest.mark.parametrize("ball", ["k_support", "k_sparse"])
def test_sfw_recipe_sparse_kernels_leaves_kernels_whose_set_holds_every_entry_to_sgd(ball):
    """constrain="sparse_kernels" (the default): kernels with n <= k are unconstrained, as with an explicit pattern."""
    from tf_sfw import constraints as constraints_lib
    from tf_sfw.recipe_math import constrained_per_variable

    model = _nested_model()
    _, constraints, _ = sfw_recipe(model, 1, 1, ball=ball)
    constrained = {path: c.is_constrained for path, c in constraints.constraints.items()}
    assert constrained == {"conv/kernel": False, "conv/bias": False, "inner/fc/kernel": True, "inner/fc/bias": False,
                           "head/kernel": False, "head/bias": False}
    explicit = sfw_recipe(model, 1, 1, ball=ball, constrain="kernels", unconstrained=["^conv/kernel$", "^head/kernel$"])
    assert constraints == explicit[1]
    assert sfw_recipe(model, 1, 1, ball=ball, k=10)[1] == sfw_recipe(model, 1, 1, ball=ball, k=10, constrain="kernels")[1]
    # only entry-wise top-K sets are concerned: an L2 ball stays on every kernel
    l2 = constraints_lib.LpBall(p=2, mode="radius", value=1.0)
    per_variable = constrained_per_variable(constraints_lib, model, l2, "sparse_kernels")
    assert per_variable == constrained_per_variable(constraints_lib, model, l2, "kernels")
    with pytest.raises(ValueError, match="constrain='kernel'"):
        constrained_per_variable(constraints_lib, model, l2, "kernel")


def test_sfw_recipe_unconstrained_patterns_leave_those_variables_to_sgd():
    model = _model()
    _, constraints, _ = sfw_recipe(model, 1, 1, constrain="kernels")
    assert constraints.for_variable(model.get_layer("conv").kernel).is_constrained
    _, constraints, _ = sfw_recipe(model, 1, 1, unconstrained=["conv/kernel"], constrain="kernels")
    assert not constraints.for_variable(model.get_layer("conv").kernel).is_constrained
    assert constraints.for_variable(model.get_layer("dense").kernel).is_constrained
    _, constraints, _ = sfw_recipe(model, 1, 1, unconstrained=("^conv/",), constrain="all")
    assert not any(constraints.for_variable(v).is_constrained for v in model.get_layer("conv").trainable_weights)
    assert constraints.for_variable(model.get_layer("dense").bias).is_constrained
    for bad, match in (("conv/kernel", "sequence"), (["("], r"pattern '\('"), ([3], "pattern 3")):
        with pytest.raises(ValueError, match=match):
            sfw_recipe(model, 1, 1, unconstrained=bad)


def test_sfw_recipe_validates_new_arguments():
    with pytest.raises(ValueError, match="constrain"):
        sfw_recipe(_model(), 1, 1, constrain="biases")
    with pytest.raises(ValueError, match="unconstrained_learning_rate"):
        sfw_recipe(_model(), 1, 1, unconstrained_learning_rate=0.0)


@pytest.mark.parametrize("constrain", ["all", "kernels"])
def test_train_config_recipe_builds_what_sfw_recipe_builds(constrain):
    """`tf-sfw train`'s default (TrainConfig schedule "recipe") is sfw_recipe's optimizer."""
    from tf_sfw.training import TrainConfig, build_optimizer

    model = _model()
    _, expected_constraints, expected = sfw_recipe(model, epochs=4, steps_per_epoch=25, constrain=constrain)
    config = TrainConfig(constrain=constrain, epochs=4)
    optimizer = build_optimizer(model, config, total_steps=100)
    expected_ulr = sfw_recipe(model, epochs=4, steps_per_epoch=25, constrain=constrain)[0].unconstrained_learning_rate
    for step in (0, 1, 2, 59, 60, 84, 85, 99):
        np.testing.assert_allclose(float(optimizer._learning_rate(step)), float(expected(step)), rtol=1e-6)
        ulr = optimizer.unconstrained_learning_rate
        np.testing.assert_allclose(float(ulr(step)), float(expected_ulr(step)), rtol=1e-6)
    for variable in model.trainable_variables:
        got, want = optimizer.constraints.for_variable(variable), expected_constraints.for_variable(variable)
        assert got.is_constrained == want.is_constrained
        if want.is_constrained:
            n = int(np.prod(variable.shape))
            np.testing.assert_allclose(got.radius(n), want.radius(n), rtol=1e-6)


def test_train_config_recipe_takes_absolute_milestones_as_fractions_of_the_run():
    from tf_sfw.training import TrainConfig
    from tf_sfw.training.builders import build_learning_rates

    lr, ulr = build_learning_rates(TrainConfig(epochs=5, milestones=(3, 9), warmup=0.0), total_steps=50)
    assert [float(lr(s)) for s in (19, 20, 49)] == pytest.approx([1.0, 0.1, 0.1])  # epoch 3 starts at step 20
    plain = build_learning_rates(TrainConfig(epochs=5), total_steps=None)
    assert plain == (1.0, TrainConfig().unconstrained_learning_rate)
