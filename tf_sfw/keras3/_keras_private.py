"""Every access to Keras 3's private modules, in one place.

Two needs that Keras' public API does not serve:

* Keras 3 imports TensorFlow whenever it is installed, whatever the backend (to recognise
  ``tf.TensorShape`` when it serializes a model, and to seed TensorFlow in
  ``keras.utils.set_random_seed``). Under the JAX and PyTorch backends the commands feed NumPy
  arrays only, so they can run as in an environment without TensorFlow: `keep_tensorflow_out`
  sets Keras' lazy-module flag for TensorFlow to "not available".
* `set_global_seed` does what ``keras.utils.set_random_seed`` does to Keras' own state (the
  global seed and the global generator of unseeded initializers and dropout) without the
  TensorFlow import.

Both degrade gracefully when a future Keras moves these names: TensorFlow is then imported,
harmlessly, and seeding falls back to the public function.
"""

__all__ = ["keep_tensorflow_out", "set_global_seed"]


def keep_tensorflow_out():
    """Marks TensorFlow as unavailable to Keras unless Keras has already looked it up."""
    try:
        from keras.src.utils import module_utils

        if getattr(module_utils.tensorflow, "_available", True) is None:
            module_utils.tensorflow._available = False
    except (ImportError, AttributeError):
        pass


def set_global_seed(seed):
    """Keras' global seed and global seed generator (recreated from ``seed`` on first use)."""
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils import rng_utils
    except ImportError:
        import keras

        keras.utils.set_random_seed(seed)
        return
    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
