"""Two-worker MultiWorkerMirroredStrategy run of `tf_sfw.training.train` with SFW on 127.0.0.1.

Each worker is a subprocess with its own TF_CONFIG; after a few synchronous SFW steps both must
hold bit-identical weights (gradients are all-reduced, and the SFW update is a deterministic
function of the aggregated gradient). Worker 1's checkpoint writes are slowed down, so the
chief reaches the end of `fit` (where it deletes the backup directory) while worker 1 is still
writing its backup: the chief must wait for it. Subprocesses are killed after a timeout so the
test never hangs.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

TIMEOUT_S = 150

WORKER = r"""
import json, os, sys
import numpy as np
import tensorflow as tf

strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any other TensorFlow op
from tf_sfw.training import TrainConfig, train

if json.loads(os.environ["TF_CONFIG"])["task"]["index"] == 1:
    # Make worker 1's checkpoint writes slow, with a file in the directory being written that
    # must survive the write: the chief must not delete the backup directory (at the end of
    # fit) while another worker is still writing into it.
    import time

    original_write = tf.train.Checkpoint._write

    def slow_write(self, file_prefix, *args, **kwargs):
        marker = os.path.join(os.path.dirname(file_prefix), "marker")
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        open(marker, "w").close()
        time.sleep(3)
        if not os.path.exists(marker):
            raise RuntimeError(f"{os.path.dirname(file_prefix)} was deleted while worker 1 was writing into it")
        return original_write(self, file_prefix, *args, **kwargs)

    tf.train.Checkpoint._write = slow_write

rng = np.random.default_rng(0)
y = rng.integers(0, 4, 96)
x = rng.integers(0, 80, (96, 16, 16, 1)).astype(np.uint8)
for i, label in enumerate(y):
    x[i, 4 * label : 4 * label + 4] += 170
config = TrainConfig(model="simple_cnn", dataset="mnist", optimizer="sfw", epochs=1, batch_size=16,
                     test_batch_size=32, schedule="constant", verbose=0)
model, metrics = train(config, sys.argv[1], arrays=((x[:64], y[:64]), (x[64:], y[64:])), strategy=strategy,
                       save_model=False)
np.savez(sys.argv[2], *[w.numpy() for w in model.weights],
         iterations=model.optimizer.iterations.numpy(), accuracy=metrics["test_accuracy"])
"""


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.mark.slow
def test_two_workers_end_with_identical_weights(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs, logs = [], []
    try:
        for index in range(2):
            env = {
                **os.environ,
                "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "CUDA_VISIBLE_DEVICES": "",
            }
            log = open(tmp_path / f"worker{index}.log", "w")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, str(tmp_path / "run"), str(tmp_path / f"w{index}.npz")],
                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            )
        deadline = time.time() + TIMEOUT_S
        while time.time() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for log in logs:
            log.close()
    tails = "\n".join(
        f"--- worker {i} (exit {p.returncode}) ---\n" + (tmp_path / f"worker{i}.log").read_text()[-3000:]
        for i, p in enumerate(procs)
    )
    assert all(p.returncode == 0 for p in procs), f"workers failed or timed out after {TIMEOUT_S} s:\n{tails}"
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert int(w0["iterations"]) == int(w1["iterations"]) == 4  # 64 examples / global batch 16
    keys = [k for k in w0.files if k.startswith("arr_")]
    assert len(keys) == 10
    for k in keys:
        assert np.isfinite(w0[k]).all()
        np.testing.assert_array_equal(w0[k], w1[k])
    assert (tmp_path / "run" / "metrics.json").is_file()  # written by the chief only
    assert not (tmp_path / "run" / "backup").exists()
