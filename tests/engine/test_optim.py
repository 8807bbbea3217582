"""Learning-rate schedules against the official per-epoch rules."""
import pytest

from ppinpaint.config import ConfigError
from ppinpaint.engine.optim import LinearDecay


def rates(sched, n):
    out = []
    for _ in range(n):
        out.append(sched())
        sched.step()
    return out


@pytest.mark.parametrize("extra", [0, 1])
def test_linear_decay_per_epoch_is_the_official_rule(extra):
    # pix2pix-style codes step the scheduler at each epoch's end: during epoch e (from 1) the rate
    # is lr·(1 - max(0, e + extra - niter) / (niter_decay + 1)); RainNet extra 0, CSA's lambda_rule
    # has one more "+ 1" (extra 1). E iterations per epoch.
    E, niter, decay = 3, 4, 5
    start = (niter - 1 - extra) * E
    got = rates(LinearDecay(2.0, start, start + (decay + 1) * E, step_every=E), (niter + decay) * E)
    want = [2.0 * (1 - max(0, it // E + 1 + extra - niter) / (decay + 1)) for it in range((niter + decay) * E)]
    assert got == pytest.approx(want, abs=1e-12)


def test_linear_decay_per_iteration_and_errors():
    assert rates(LinearDecay(1.0, 2, 6), 8) == pytest.approx([1, 1, 1, 0.75, 0.5, 0.25, 0, 0])
    with pytest.raises(ConfigError, match="step_every"):
        LinearDecay(1.0, 2, 6, step_every=0)
