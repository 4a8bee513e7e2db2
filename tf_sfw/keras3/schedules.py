r"""One-shot Frank-Wolfe schedules for Keras 3 (`tf_sfw.keras3.SFW`'s ``learning_rate`` and
``momentum``): the bodies of `tf_sfw.fw_schedules` on Keras 3's ``LearningRateSchedule``, run
over ``keras.ops`` (every backend, under ``jit_compile``).

* :class:`PowerDecay`: :math:`\eta_t = \min(1, a/(t+b)^p)`, default :math:`2/(t+3)`;
* :class:`AveragingMomentum`: :math:`\mu_t = 1-\rho_t`, default :math:`\rho_t = 2/(t+3)^{2/3}`

(Chen, Harshaw, Hassani, Karbasi, ICML 2018, "Projection-Free Online Optimization with
Stochastic Gradient: From Convexity to Submodularity").
"""

import keras

from tf_sfw import fw_schedules
from tf_sfw.keras3 import _ops

__all__ = ["PowerDecay", "AveragingMomentum"]

_SCHEDULE = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="tf_sfw.keras3")
class PowerDecay(fw_schedules.PowerDecayMixin, _SCHEDULE):
    __doc__ = fw_schedules.PowerDecayMixin.__doc__
    _ops = _ops


@keras.saving.register_keras_serializable(package="tf_sfw.keras3")
class AveragingMomentum(fw_schedules.AveragingMomentumMixin, _SCHEDULE):
    __doc__ = fw_schedules.AveragingMomentumMixin.__doc__
    _ops = _ops
