"""Bad command lines, table-driven over every command: each gives exit code 2 (an invalid command
line) or 1 (a runtime failure) and one error line that names the flag typed and the value
received, without a traceback; a failed run leaves no output folder behind."""

import os
from pathlib import Path

import pytest

from tf_sfw.cli.main import main
from conftest import SHARED_DATA_DIR

DATA_DIR = os.environ.get("TF_SFW_DATA_DIR", SHARED_DATA_DIR)
USAGE, FAILURE = 2, 1


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from tf_sfw._keras import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((28, 28, 1))
    out = keras.layers.Dense(10, activation="softmax", name="head")(keras.layers.Flatten()(inp))
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    keras.Model(inp, out).save(str(path))
    return str(path)


# (argv after the command's required flags, exit code, strings the error must contain).
# OUT, MODEL, FILE are replaced by a fresh output folder, the tiny model and an existing file.
TRAIN = [
    (["--tau", "-1"], USAGE, ["argument --tau:", "`--tau` must be a finite number > 0", "Received: --tau=-1.0"]),
    (["--tau", "0"], USAGE, ["argument --tau:", "`--tau` must be a finite number > 0", "Received: --tau=0.0"]),
    (["--tau", "abc"], USAGE, ["`--tau` must be a number", "Received: --tau='abc'"]),
    (["--decay-factor", "0"], USAGE, ["`--decay-factor` must be in (0, 1]", "Received: --decay-factor=0.0"]),
    (["--decay-factor", "1.5"], USAGE, ["`--decay-factor` must be in (0, 1]", "Received: --decay-factor=1.5"]),
    (["--epochs", "0"], USAGE, ["`--epochs` must be an integer >= 1", "Received: --epochs=0"]),
    (["--epochs", "2.5"], USAGE, ["`--epochs` must be an integer", "Received: --epochs='2.5'"]),
    (["--batch-size", "-4"], USAGE, ["`--batch-size` must be an integer >= 1", "Received: --batch-size=-4"]),
    (["--lr", "0"], USAGE, ["`--lr` must be a finite number > 0", "Received: --lr=0.0"]),
    (["--lr", "nan"], USAGE, ["`--lr` must be a finite number > 0", "Received: --lr=nan"]),
    (["--momentum", "1"], USAGE, ["`--momentum` must be in [0, 1)", "Received: --momentum=1.0"]),
    (["--k", "0"], USAGE, ["`--k` must be an integer >= 1", "Received: --k=0"]),
    (["--k-frac", "0"], USAGE, ["`--k-frac` must be in (0, 1]", "Received: --k-frac=0.0"]),
    (["--k-frac", "1.5"], USAGE, ["`--k-frac` must be in (0, 1]", "Received: --k-frac=1.5"]),
    (["--subset", "0"], USAGE, ["`--subset` must be an integer >= 1", "Received: --subset=0"]),
    (["--seed", "-1"], USAGE, ["`--seed` must be an integer >= 0", "Received: --seed=-1"]),
    (["--backup-every", "0"], USAGE, ["`--backup-every` must be an integer >= 1", "Received: --backup-every=0"]),
    (["--weight-decay", "-0.1"], USAGE, ["`--weight-decay` must be a finite number >= 0", "Received: --weight-decay=-0.1"]),
    (["--sfw-init-iterations", "0"], USAGE, ["`--sfw-init-iterations` must be an integer >= 1"]),
    (["--milestones", "1"], USAGE, ["`--milestones` must be an integer >= 2", "Received: --milestones=1"]),
    (["--milestones", "5", "3"], USAGE, ["`--milestones` must be strictly increasing", "Received: --milestones=5 3"]),
    (["--model", "nope"], USAGE, ["argument --model: invalid choice: 'nope'"]),
    (["--rescale", "nope"], USAGE, ["argument --rescale: invalid choice: 'nope'"]),
    (["--sfw-init", "--optimizer", "sgd"], USAGE, ["`--sfw-init` needs --optimizer sfw", "Received: --optimizer=sgd"]),
    (["--resume"], USAGE, ["Nothing to resume"]),
    (["--unconstrained-lr", "-1"], USAGE, ["`--unconstrained-lr` must be a finite number >= 0", "Received: --unconstrained-lr=-1.0"]),
    (["--constraint", "nm", "--nm-n", "5"], USAGE, ["`--nm-n` must be at most --nm-m (4)", "Received: --nm-n=5"]),
    (["--nm-m", "0"], USAGE, ["`--nm-m` must be an integer >= 1", "Received: --nm-m=0"]),
    # runtime failures
    (["--out", "FILE"], FAILURE, ["`--out` must be a folder", "Received: --out='FILE'"]),
    (["--out", "FILE/sub"], FAILURE, ["`--out` cannot be created", "Received: --out='FILE/sub'"]),
]
PRUNE = [
    (["--sparsity", "1.0"], USAGE, ["`--sparsity` must be in [0, 1)", "Received: --sparsity='1.0'"]),
    (["--sparsity", "-0.2"], USAGE, ["`--sparsity` must be in [0, 1)", "Received: --sparsity='-0.2'"]),
    (["--sparsity", "abc"], USAGE, ["`--sparsity` must be a number in [0, 1)", "Received: --sparsity='abc'"]),
    (["--sparsity", "0.5", "--retrain-lr", "0"], USAGE, ["`--retrain-lr` must be a finite number > 0", "Received: --retrain-lr=0.0"]),
    (["--sparsity", "0.5", "--retrain-epochs", "-1"], USAGE, ["`--retrain-epochs` must be an integer >= 0"]),
    (["--sparsity", "0.5", "--eval-examples", "0"], USAGE, ["`--eval-examples` must be an integer >= 1"]),
    (["--sparsity", "0.5", "--dataset", "nope"], USAGE, ["argument --dataset: invalid choice: 'nope'"]),
    (["--sparsity", "0.5", "--no-eval", "--model", "OUT-missing.keras"], FAILURE,
     ["`--model` does not exist", "Received: --model='OUT-missing.keras'"]),
    (["--sparsity", "0.5", "--no-eval", "--layers", "nope"], FAILURE, ["Unknown layer names", "nope"]),
    (["--sparsity", "0.5", "--no-eval", "--out", "FILE/sub"], FAILURE, ["`--out` cannot be created"]),
]
SWEEP = [
    (["--sparsities", "0.5,1.5"], USAGE, ["`--sparsities` must be in [0, 1)", "Received: --sparsities='1.5'"]),
    (["--sparsities", ","], USAGE, ["`--sparsities` must list at least one sparsity", "Received: --sparsities=','"]),
    (["--eval-batch-size", "0"], USAGE, ["`--eval-batch-size` must be an integer >= 1"]),
    (["--sparsities", "0.5"], USAGE, ["`--dataset` is required", "MODEL"]),  # the model has no config.json
]
DEMO = [
    (["--export-sparsity", "1.0"], USAGE, ["`--export-sparsity` must be in [0, 1)", "Received: --export-sparsity='1.0'"]),
    (["--sparsities", "x"], USAGE, ["`--sparsities` must be a number", "Received: --sparsities='x'"]),
    (["--sgd-lr", "0"], USAGE, ["`--sgd-lr` must be a finite number > 0", "Received: --sgd-lr=0.0"]),
    (["--epochs", "0"], USAGE, ["`--epochs` must be an integer >= 1", "Received: --epochs=0"]),
    (["--out", "FILE/sub"], FAILURE, ["`--out` cannot be created", "Received: --out='FILE/sub'"]),
    (["--export-dir", "FILE"], FAILURE, ["`--export-dir` must be a folder", "Received: --export-dir='FILE'"]),
]
CASES = [("train", *c) for c in TRAIN] + [("prune", *c) for c in PRUNE] + [("sweep", *c) for c in SWEEP] + [
    ("demo", *c) for c in DEMO
]


def _ids():
    return [f"{command}:{' '.join(argv)}" for command, argv, _, _ in CASES]


@pytest.mark.parametrize("command,argv,code,expected", CASES, ids=_ids())
def test_bad_command_line(tmp_path, model_path, capsys, command, argv, code, expected):
    out = tmp_path / "out"
    afile = tmp_path / "file.txt"
    afile.write_text("not a folder")

    def fill(text):
        return (text.replace("OUT", str(out)).replace("FILE", str(afile)).replace("MODEL", model_path))

    required = {
        "train": ["--out", str(out), "--epochs", "1", "--data-dir", DATA_DIR],
        "prune": ["--model", model_path, "--out", str(out)],
        "sweep": ["--model", model_path, "--out", str(out)],
        "demo": ["--out", str(out), "--export-dir", str(tmp_path / "export"), "--data-dir", DATA_DIR],
    }[command]
    assert main([command, *required, *[fill(a) for a in argv]]) == code
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err and "Traceback" not in captured.out
    for text in expected:
        assert fill(text) in err, err
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and error_lines[0].startswith(f"tf-sfw {command}: error: "), err
    # nothing left behind by a refused or failed run
    assert not out.exists() or (command in ("prune", "sweep") and "--out" not in argv and not any(out.iterdir()))
    assert not (tmp_path / "export").exists()


def test_failed_train_run_leaves_no_output_folder(tmp_path, capsys, monkeypatch):
    """A run that fails after it started (here: its data cannot be found) leaves no OUT/config.json behind."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    monkeypatch.delenv("TF_SFW_DATA_DIR", raising=False)
    out = tmp_path / "runs" / "a" / "b"
    code = main(["train", "--dataset", "cifar10", "--out", str(out), "--data-dir", str(tmp_path / "nodata"),
                 "--no-download", "--epochs", "1"])
    assert code == FAILURE
    assert not (tmp_path / "runs").exists()  # every folder the command created is gone again
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    assert main(["train", "--dataset", "cifar10", "--out", str(existing), "--data-dir", str(tmp_path / "nodata"),
                 "--no-download", "--epochs", "1"]) == FAILURE
    assert sorted(p.name for p in existing.iterdir()) == ["keep.txt"]  # a user's folder keeps its files
    assert "config.json" not in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--tau", "--decay-factor"])
@pytest.mark.parametrize("value", ["-1", "0"])
def test_zero_and_negative_read_the_same(capsys, flag, value):
    """`--tau -1` and `--tau 0` give one consistent rule (the value must be > 0), naming the flag."""
    assert main(["train", "--out", "x", flag, value]) == USAGE
    err = capsys.readouterr().err
    expected_rule = "> 0" if flag == "--tau" else "in (0, 1]"
    assert f"`{flag}` must be" in err and expected_rule in err and f"Received: {flag}={float(value)!r}" in err
    for parameter in ("value", "factor"):  # the Python parameters behind the flags
        assert f"`{parameter}`" not in err and f"Received: {parameter}=" not in err


def test_paths_are_relative_to_cwd(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("f").write_text("x")
    assert main(["sweep", "--model", "f", "--out", "f", "--dataset", "mnist"]) == FAILURE
    assert "`--out` must be a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "error,code,expected",
    [
        ("OutputDirError", FAILURE, "`--out` cannot be written: Permission denied. Received: --out="),
        ("TrainingDivergedError", FAILURE, "diverged"),
        ("UnfinishedRunError", USAGE, "unfinished"),
        ("NothingToResumeError", USAGE, "nothing"),
        ("RunAlreadyCompleteError", USAGE, "complete"),
    ],
)
def test_library_errors_of_train_map_to_exit_codes(tmp_path, monkeypatch, capsys, error, code, expected):
    """Runtime failures of `tf_sfw.training.train` exit 1; the ones a flag fixes (--resume) exit 2."""
    import tf_sfw.training as training

    cls = getattr(training, error)

    def fake_train(config, out, resume=False, **kwargs):
        raise cls(out, "Permission denied") if error == "OutputDirError" else cls(expected)

    monkeypatch.setattr(training, "train", fake_train)
    out = tmp_path / "new" / "out"
    assert main(["train", "--out", str(out), "--epochs", "1"]) == code
    err = capsys.readouterr().err
    assert err.startswith("tf-sfw train: error: ") and expected in err and "Traceback" not in err
    assert not (tmp_path / "new").exists()  # the folders the command created are removed again
