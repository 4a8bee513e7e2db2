r"""The bodies of the Frank-Wolfe step-size and averaging schedules, shared by both Keras flavours.

One-shot Frank-Wolfe (Chen, Harshaw, Hassani, Karbasi, ICML 2018, "Projection-Free Online
Optimization with Stochastic Gradient: From Convexity to Submodularity") keeps one stochastic
gradient per round and averages it,

.. math::
    d_t = (1-\rho_t)\,d_{t-1} + \rho_t\,\nabla f_t(x_t), \quad d_0 = 0, \qquad
    x_{t+1} = x_t + \eta_t\,(v_t - x_t), \quad v_t = \mathrm{LMO}(d_t),

with :math:`\rho_t = 2/(t+3)^{2/3}` and :math:`\eta_t = 2/(t+3)` (1-based :math:`t`; the
rates of the momentum-averaged stochastic Frank-Wolfe of Mokhtari, Hassani, Karbasi, AISTATS
2018). In `tf_sfw.SFW` this is ``learning_rate=PowerDecay()`` (:math:`\eta_t`),
``momentum=AveragingMomentum()`` (:math:`\mu_t = 1-\rho_t`) and ``rescale=None``.

The mixins here hold the arguments, the formula call (`tf_sfw.fw.power_decay`) and the
config; each flavour's module combines them with its own ``LearningRateSchedule`` base and op
namespace (`tf_sfw.schedules` for tf_keras, `tf_sfw.keras3.schedules` for Keras 3). Pure
Python: importing this module imports neither TensorFlow nor Keras.
"""

from tf_sfw import fw
from tf_sfw import validation

__all__ = ["PowerDecayMixin", "AveragingMomentumMixin", "RestartingPowerDecayMixin"]


class PowerDecayMixin:
    r""":math:`\eta_t = \min(1,\ a/(t+b)^p)` at 1-based round :math:`t` = ``step + 1``
    (`tf_sfw.fw.power_decay`); the defaults are one-shot Frank-Wolfe's
    :math:`\eta_t = 2/(t+3)`.

    Args:
        scale: :math:`a > 0`.
        offset: :math:`b \ge 0`.
        power: :math:`p > 0`.
    """

    _ops = None  # the flavour's op namespace (None: TensorFlow)

    def __init__(self, scale=2.0, offset=3.0, power=1.0):
        self.scale, self.offset, self.power = fw.check_power_decay_arguments(scale, offset, power)

    def __call__(self, step):
        return fw.power_decay(step, self.scale, self.offset, self.power, self._ops)

    def get_config(self):
        return {"scale": self.scale, "offset": self.offset, "power": self.power}


class AveragingMomentumMixin(PowerDecayMixin):
    r"""The momentum :math:`\mu_t = 1 - \rho_t` of an averaging weight
    :math:`\rho_t = \min(1,\ a/(t+b)^p)`; the defaults are one-shot Frank-Wolfe's
    :math:`\rho_t = 2/(t+3)^{2/3}`.

    Given as ``momentum`` to `tf_sfw.SFW`, it is evaluated at every step including the first
    (the slot starts at :math:`d_0 = 0`, so :math:`d_1 = \rho_1\,g_1`, as in Chen et al.).

    Args:
        scale, offset, power: :math:`a > 0`, :math:`b \ge 0`, :math:`p > 0` of :math:`\rho_t`.
    """

    def __init__(self, scale=2.0, offset=3.0, power=2.0 / 3.0):
        super().__init__(scale, offset, power)

    def rho(self, step):
        r""":math:`\rho_t` at 0-based ``step``."""
        return super().__call__(step)

    def __call__(self, step):
        return 1.0 - self.rho(step)


class RestartingPowerDecayMixin(PowerDecayMixin):
    r""":math:`\gamma_k = \min(1,\ a/(k+b)^p)` with the inner index
    :math:`k = (\mathrm{step} \bmod N) + 1` restarted every ``period`` :math:`N` steps.

    With the defaults :math:`\gamma_k = 2/(k+1)`: the step size of SVRF (Hazan & Luo, ICML
    2016), whose inner loop restarts at every snapshot (a snapshot every :math:`N` steps).

    Args:
        period: :math:`N \ge 1` steps between restarts.
        scale, offset, power: :math:`a > 0`, :math:`b \ge 0`, :math:`p > 0`.
    """

    def __init__(self, period, scale=2.0, offset=1.0, power=1.0):
        self.period = validation.check_positive_int(period, "period")
        super().__init__(scale, offset, power)

    def _inner_step(self, step):
        raise NotImplementedError  # the flavour's floor-mod

    def __call__(self, step):
        return fw.power_decay(self._inner_step(step), self.scale, self.offset, self.power, self._ops)

    def get_config(self):
        return {"period": self.period, **super().get_config()}
