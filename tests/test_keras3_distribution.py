"""SFW in ``model.fit`` under data parallelism on 2 CPU devices gives the single-device weights:
TensorFlow's ``MirroredStrategy`` (2 logical CPUs) and JAX's ``keras.distribution.DataParallel``
(``--xla_force_host_platform_device_count=2``); run in the workers of `tests/keras3_runner.py`."""

import numpy as np
import pytest

from keras3_runner import keras3_app, keras3_apps  # noqa: F401  (fixtures)


def test_data_parallel_sfw_matches_single_device(keras3_app):
    arrays, report = keras3_app
    if report["backend"] == "torch":
        pytest.skip("data parallelism is checked on the TensorFlow and JAX backends")
    assert report["replicas"] == 2
    assert report["iterations"] == [8, 8]
    if report["backend"] == "jax":
        assert "NamedSharding" in report["sharding"]  # the variables really live on the 2-device mesh
    n = len([k for k in arrays.files if k.startswith("single_")])
    assert n == 4
    for i in range(n):
        np.testing.assert_allclose(arrays[f"parallel_{i}"], arrays[f"single_{i}"], rtol=1e-5, atol=1e-6)
