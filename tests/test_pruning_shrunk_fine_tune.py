"""fine_tune_shrunk: exact step count, distillation targets, frozen BatchNorm, argument errors."""

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.pruning.shrunk_fine_tune import fine_tune_batches, fine_tune_shrunk


def _bn_model(seed=0, logits=False):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(4, 3, use_bias=False, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation=None if logits else "softmax", name="head")(x))


def _data(n_batches, batch=8, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(batch, 6, 6, 1)).astype("float32"), rng.integers(0, 3, batch)) for _ in range(n_batches)]


@pytest.mark.parametrize("steps", [1, 3])
def test_labels_take_exactly_steps_batches_like_fit(steps):
    data = _data(5)
    model, reference = _bn_model(), _bn_model()
    losses = fine_tune_shrunk(model, data, steps, optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    assert len(losses) == steps and int(model.optimizer.iterations.numpy()) == steps
    reference.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    x = np.concatenate([b[0] for b in data[:steps]])
    y = np.concatenate([b[1] for b in data[:steps]])
    reference.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("logits", [False, True])
def test_teacher_targets_are_its_probabilities(logits):
    data = _data(2)
    teacher, student = _bn_model(1, logits), _bn_model(2, logits)
    x = data[0][0]
    t, s = teacher(x, training=False).numpy().astype(np.float64), student(x, training=True).numpy().astype(np.float64)
    if logits:
        t, s = (np.exp(v - v.max(-1, keepdims=True)) for v in (t, s))
        t, s = t / t.sum(-1, keepdims=True), s / s.sum(-1, keepdims=True)
    expected = float(np.mean(-np.sum(t * np.log(s), axis=-1)))  # cross-entropy to the teacher, at step 0
    before = [w.copy() for w in teacher.get_weights()]
    losses = fine_tune_shrunk(student, data, 1, optimizer=keras.optimizers.SGD(0.0), teacher=teacher, from_logits=logits)
    assert losses[0] == pytest.approx(expected, rel=1e-4)
    for a, b in zip(teacher.get_weights(), before):  # the teacher is not trained
        np.testing.assert_array_equal(a, b)


def test_frozen_batchnorm_keeps_its_statistics_and_affine_weights():
    data = _data(4)
    model = _bn_model()
    bn = model.get_layer("bn")
    bn.set_weights([np.full(4, 1.3), np.full(4, 0.2), np.full(4, 0.4), np.full(4, 2.0)])
    before_bn, before_conv = [w.copy() for w in bn.get_weights()], model.get_layer("conv").kernel.numpy().copy()
    fine_tune_shrunk(model, data, 4, optimizer=keras.optimizers.SGD(0.1), freeze_batchnorm=True)
    for a, b in zip(bn.get_weights(), before_bn):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(model.get_layer("conv").kernel.numpy(), before_conv)
    assert bn.trainable  # restored
    fine_tune_shrunk(model, data, 4, optimizer=keras.optimizers.SGD(0.1))  # not frozen: statistics move
    assert not np.allclose(bn.get_weights()[2], before_bn[2])


def test_argument_errors():
    model = _bn_model()
    with pytest.raises(ValueError, match="steps"):
        fine_tune_shrunk(model, _data(2), 0)
    with pytest.raises(ValueError, match="fewer than `steps`.*steps=3"):
        fine_tune_shrunk(model, _data(2), 3)
    with pytest.raises(ValueError, match="teacher"):
        fine_tune_shrunk(model, _data(2), 1, teacher="dense")
    with pytest.raises(ValueError, match=r"\(x, y\)"):
        fine_tune_shrunk(model, [np.zeros((2, 6, 6, 1), "float32")], 1)
    with pytest.raises(ValueError, match="model"):
        fine_tune_shrunk(None, _data(2), 1)


def test_fine_tune_batches_are_the_first_batches_with_labels_or_teacher_probabilities():
    data = _data(4)
    labelled = fine_tune_batches(data, 2)
    assert len(labelled) == 2
    for (x, y), (x0, y0) in zip(labelled, data):
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(y, y0)
    teacher = _bn_model(4)
    for (x, t), (x0, _) in zip(fine_tune_batches(data, 3, teacher), data):
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_allclose(t, teacher(x0, training=False).numpy(), rtol=1e-6)
        np.testing.assert_allclose(t.sum(-1), 1.0, rtol=1e-5)
