"""scripts/compare_pruning.py end to end on a tiny fake MNIST (every method, one seed)."""

import csv

import pytest

from conftest import load_script, write_tiny_mnist


@pytest.fixture(scope="module")
def script():
    return load_script("compare_pruning")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_tiny_mnist(tmp_path_factory.mktemp("data"), 240, 40, directories=("", "datasets"))


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_every_method_runs_and_respects_the_budget(script, data_dir, tmp_path):
    out = tmp_path / "out"
    script.main(["--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "4", "--seeds", "0",
                 "--sparsities", "0", "50", "90", "--calibration", "16", "--out", str(out)])
    rows = _read(out / "results.csv")
    assert set(script.FIELDS) <= set(rows[0])
    methods = {r["method"] for r in rows}
    # mnist_cnn has no BatchNorm: the "+bn" rows are skipped.
    assert methods == set(script.METHODS) - {"sgd+bn", "sfw+bn", "sgd+lw_bn", "sfw+lw_bn"}
    train_steps = 60  # 240 examples / batch 4
    for r in rows:
        s, achieved = float(r["target_sparsity"]), float(r["achieved_sparsity"])
        assert r["dataset"] == "mnist" and r["eval_split"] == "test" and r["seed"] == "0"
        assert 0.0 <= float(r["test_accuracy"]) <= 1.0 and float(r["wall_s"]) > 0
        assert int(r["fine_tune_steps"]) <= 0.02 * int(r["train_steps"])
        if r["method"] == "gmp_equal_total":
            assert int(r["train_steps"]) == train_steps // 2  # two non-zero targets share the budget
        else:
            assert int(r["train_steps"]) == train_steps
        if r["method"].startswith("gmp"):
            assert s > 0 and abs(achieved - s) < 0.02  # layer-wise rounding
        elif r["method"].endswith("lw"):  # wanda_lw, lw: every kernel at the target
            assert abs(achieved - s) < 0.02
        else:
            assert abs(achieved - s) < 1e-3
        if r["method"].endswith("+ft"):
            assert int(r["fine_tune_steps"]) == 1 and s > 0
    for method in ("sgd", "sfw", "gmp"):
        assert len([r for r in rows if r["method"] == method]) == (3 if method != "gmp" else 2)
    assert (out / "accuracy_mnist_mnist_cnn_1ep.png").exists()
    # Dense rows agree between the one-shot methods of the same network.
    dense = {(r["method"], r["seed"]): r["test_accuracy"] for r in rows if float(r["target_sparsity"]) == 0}
    assert dense[("sfw", "0")] == dense[("sfw+wanda", "0")]


def test_validation_mode_evaluates_on_held_out_training_images(script, data_dir, tmp_path):
    out = tmp_path / "val"
    script.main(["--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "40", "--seeds", "0",
                 "--sparsities", "0", "90", "--methods", "sfw", "sfw+ft", "--validation", "40", "--schedule", "cosine",
                 "--tau", "30", "--constrain", "kernels", "--unconstrained-lr", "0.5", "--ft-lr", "0.01", "0.03",
                 "--k-annealing", "1.0", "0.5", "--k-annealing-until", "0.8", "--out", str(out)])
    rows = _read(out / "results.csv")
    assert [r["method"] for r in rows] == ["sfw", "sfw", "sfw+ft@0.01", "sfw+ft@0.03"]  # one row per fine-tune lr
    assert '"constrain":"kernels"' in rows[0]["config"] and '"unconstrained_lr":0.5' in rows[0]["config"]
    assert '"k_annealing":[1.0,0.5],"k_annealing_until":0.8' in rows[0]["config"]
    rows = [r for r in rows if r["method"] == "sfw"]
    assert {r["eval_split"] for r in rows} == {"validation_last_40"}
    assert {int(r["train_steps"]) for r in rows} == {5}  # 200 examples / batch 40
    assert '"tau":30.0' in rows[0]["config"] and '"schedule":"cosine"' in rows[0]["config"]
    assert not list(out.glob("*.png"))  # rows of different configurations are not pooled in a plot
    summary = script.main(["--summarize-tuning", str(out / "results.csv"), str(tmp_path / "tuning.csv")])
    lines = _read(summary)
    assert [(r["method"], r["seeds"]) for r in lines] == [("sfw", "0"), ("sfw+ft@0.01", "0"), ("sfw+ft@0.03", "0")]
    assert set(lines[0]) >= {"acc_0", "acc_90", "note", "config"}
    assert float(lines[0]["acc_90"]) == pytest.approx(
        100 * float(next(r["test_accuracy"] for r in rows if float(r["target_sparsity"]) == 0.9)), abs=0.006)
    table = script.main(["--markdown", str(out / "results.csv")])
    sfw_line = next(line for line in table.splitlines() if line.startswith("| sfw |"))
    assert sfw_line == "| sfw | " + " | ".join(f"{100 * float(r['test_accuracy']):.2f}" for r in rows) + " |"
    # Rows of a method can be reused from an earlier CSV instead of trained again.
    again = tmp_path / "again"
    script.main(["--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "40", "--seeds", "0",
                 "--sparsities", "0", "--methods", "sgd", "--validation", "40", "--out", str(again),
                 "--reuse-from", str(out / "results.csv"), "--reuse-methods", "sfw"])
    reused = _read(again / "results.csv")
    assert [r["method"] for r in reused] == ["sfw", "sfw", "sgd"]
    assert reused[:2] == rows  # copied verbatim, config column included


def test_arguments_are_validated(script):
    with pytest.raises(SystemExit):
        script.parse_args(["--sparsities", "100"])
    with pytest.raises(SystemExit):
        script.parse_args(["--ft-frac", "0.05"])
    for ema in ("1.0", "-0.1"):
        with pytest.raises(SystemExit):
            script.parse_args(["--sfw-ema", ema])
    for start in ("1.0", "-0.1"):
        with pytest.raises(SystemExit, match="2"):
            script.parse_args(["--sfw-sgd-start", start])


@pytest.fixture
def trained(script, monkeypatch):
    """The models `train_dense` returns during the test, in order."""
    models = []
    original = script.train_dense

    def spy(setting, optimizer_name, seed, log):
        model, wall = original(setting, optimizer_name, seed, log)
        models.append(model)
        return model, wall

    monkeypatch.setattr(script, "train_dense", spy)
    return models


def test_sfw_weight_average_ends_training_on_the_average(script, data_dir, tmp_path, trained):
    """--sfw-ema: the SFW optimizer keeps an EMA of the weights and training ends on it (recorded in the config)."""
    out = tmp_path / "ema"
    script.main(["--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "40", "--seeds", "0", "--sparsities", "0",
                 "--methods", "sfw", "--sfw-ema", "0.9", "--validation", "40", "--out", str(out)])
    (model,) = trained
    optimizer = model.optimizer
    assert optimizer.use_ema and optimizer.ema_momentum == 0.9
    for average, variable in zip(optimizer._model_variables_moving_average, model.trainable_variables):
        assert (average.numpy() == variable.numpy()).all()
    assert '"sfw_ema":0.9' in _read(out / "results.csv")[0]["config"]


def test_width_multiplied_resnet_on_padded_images(script, data_dir, tmp_path):
    out = tmp_path / "resnet"
    script.main(["--data-dir", str(data_dir), "--model", "resnet18", "--width", "0.0625", "--epochs", "1",
                 "--batch-size", "40", "--seeds", "0", "--sparsities", "0", "90", "--methods", "sfw", "sfw+bn", "sfw+lw_bn",
                 "--calibration", "16", "--out", str(out)])
    rows = _read(out / "results.csv")
    assert {r["model"] for r in rows} == {"resnet18_w0.0625"}
    assert [(r["method"], r["target_sparsity"]) for r in rows] == [
        ("sfw", "0.0"), ("sfw+bn", "0.0"), ("sfw+lw_bn", "0.0"), ("sfw", "0.9"), ("sfw+bn", "0.9"), ("sfw+lw_bn", "0.9")]
    assert abs(float(rows[-1]["achieved_sparsity"]) - 0.9) < 0.02
    assert (out / "accuracy_mnist_resnet18_w0.0625_1ep.png").exists()
    setting = script.Setting(script.parse_args(["--data-dir", str(data_dir), "--model", "resnet18", "--width", "0.0625"]))
    assert setting.train[0].shape[1:] == (32, 32, 1) and setting.eval[0].shape[1:] == (32, 32, 1)
    model = setting.build(0)
    assert model.get_layer("conv1").filters == 4  # 64 x 0.0625


@pytest.mark.parametrize("argv", [["--width", "0.5"], ["--model", "resnet18", "--width", "0"], ["--model", "vgg"]])
def test_width_needs_resnet18(script, argv):
    with pytest.raises(SystemExit):
        script.parse_args(argv)


def test_distilled_fine_tune_trains_the_same_batches_on_the_dense_networks_probabilities(script, data_dir, tmp_path):
    common = ["--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "40", "--seeds", "0", "--sparsities", "90",
              "--methods", "sfw", "sfw+ft", "sfw+rec+ft", "--rec-calibration", "16", "--ft-frac", "0.02"]
    script.main(common + ["--out", str(tmp_path / "labels")])
    script.main(common + ["--ft-teacher", "--out", str(tmp_path / "teacher")])
    labels, teacher = _read(tmp_path / "labels" / "results.csv"), _read(tmp_path / "teacher" / "results.csv")
    assert [r["method"] for r in teacher] == ["sfw", "sfw+ft", "sfw+rec+ft"]
    assert '"ft_teacher":true' in teacher[0]["config"] and '"ft_teacher":false' in labels[0]["config"]
    assert teacher[0]["test_accuracy"] == labels[0]["test_accuracy"]  # the same network and mask
    for a, b in zip(labels[1:], teacher[1:]):
        assert a["fine_tune_steps"] == b["fine_tune_steps"] == "1"
        assert a["achieved_sparsity"] == b["achieved_sparsity"]  # the masks hold
        assert a["test_loss"] != b["test_loss"]  # other targets, another fine-tuned network


def test_sfw_sgd_start_and_unconstrained_reach_the_recipe(script, data_dir, tmp_path, trained):
    """--sfw-sgd-start 0.5: the recipe's SFW runs its first 5 of 10 steps as SGD; --sfw-unconstrained leaves the
    matching kernel to SGD (both recorded in the config)."""
    out = tmp_path / "sgd_start"
    script.main(["--data-dir", str(data_dir), "--epochs", "2", "--batch-size", "40", "--seeds", "0", "--sparsities", "0",
                 "--methods", "sfw", "--sfw-sgd-start", "0.5", "--sfw-unconstrained", r"^dense(_\d+)?/kernel",
                 "--validation", "40", "--out", str(out)])
    (model,) = trained  # 200 images / batch 40 = 5 steps per epoch, 10 in all
    assert model.optimizer.sgd_steps == 5 and int(model.optimizer.iterations) == 10
    constrained = {v.name.split("/")[0].rstrip("_0123456789"): model.optimizer.constraints.for_variable(v).is_constrained
                   for v in model.trainable_variables if "kernel" in v.name}
    assert constrained == {"conv2d": True, "dense": False}
    config = _read(out / "results.csv")[0]["config"]
    assert '"sfw_sgd_start":0.5' in config and '"sfw_unconstrained":["^dense(_\\\\d+)?/kernel"]' in config


def test_fine_tuned_row_trains_every_step_of_a_budget_longer_than_an_epoch(script, data_dir, tmp_path, monkeypatch):
    """fine_tuned_row repeats the shuffled stream for as many epochs as the budget needs (diag14's 25 % budgets):
    every one of ft_steps steps is taken, none lost to a dataset that runs out after one epoch."""
    import tf_sfw.pruning
    from tf_sfw.pruning import magnitude_masks

    args = script.parse_args(["--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path)])
    setting = script.Setting(args)
    assert setting.steps_per_epoch == 60
    taken = []
    original = tf_sfw.pruning.fine_tune

    def counting_fine_tune(*a, **kw):
        history = original(*a, **kw)
        taken.append(int(kw["optimizer"].iterations.numpy()))
        return history

    monkeypatch.setattr(tf_sfw.pruning, "fine_tune", counting_fine_tune)
    model = setting.build(0)
    row = script.fine_tuned_row(setting, model, magnitude_masks(model, 0.5), 0, 0.003, 150)
    assert taken == [150] and row["fine_tune_steps"] == 150
    assert abs(row["achieved_sparsity"] - 0.5) < 1e-3
