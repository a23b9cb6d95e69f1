"""The one backoff helper: capped, jittered retry delays and bounded waits on a fake clock (pure logic)."""
import random

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._retry import Backoff, RetryPolicy, WaitTimeout, wait_for


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_state_and_duration_when_done():
    clock = Clock()
    answers = iter([(False, 'Preparing'), (False, 'Preparing'), (True, 'Running')])
    state, duration = wait_for('etcd running', lambda: next(answers), 60, clock=clock.time, sleep=clock.sleep)
    assert state == 'Running'
    assert clock.sleeps == [0.2, 0.4]
    assert duration == pytest.approx(0.6)


def test_backoff_is_capped_and_never_overshoots_the_deadline():
    clock = Clock()
    with pytest.raises(WaitTimeout) as caught:
        wait_for('etcd running', lambda: (False, 'Preparing'), 10, first=1, cap=4, clock=clock.time, sleep=clock.sleep)
    assert clock.sleeps[:4] == [1, 2, 4, 3]
    assert max(clock.sleeps) <= 4
    assert caught.value.last == 'Preparing'
    assert str(caught.value) == 'etcd running did not happen within 10 s; last seen: Preparing'
    assert caught.value.duration == pytest.approx(10)


# --- backoff -------------------------------------------------------------------------------------

def test_backoff_doubles_up_to_the_cap():
    policy = RetryPolicy(attempts=7, first=0.5, cap=4.0)
    assert [policy.backoff.ceiling(retry) for retry in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_delays_are_jittered_within_half_to_full_ceiling():
    policy = RetryPolicy(attempts=6, first=1.0, cap=8.0, rng=random.Random(7))
    delays = policy.delays()
    assert len(delays) == 5
    for retry, delay in enumerate(delays):
        assert policy.backoff.ceiling(retry) / 2 <= delay <= policy.backoff.ceiling(retry)
    assert delays != RetryPolicy(attempts=6, first=1.0, cap=8.0, rng=random.Random(8)).delays()


def test_backoff_is_reproducible_with_a_seed():
    def delays(seed):
        return RetryPolicy(attempts=4, rng=random.Random(seed)).delays()
    assert delays(3) == delays(3)


@pytest.mark.parametrize('kwargs', [dict(attempts=0), dict(first=-1), dict(first=2, cap=1)])
def test_backoff_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_without_jitter_the_delay_is_the_ceiling():
    backoff = Backoff(0.2, 5.0, jitter=False)
    assert [backoff.delay(retry) for retry in range(6)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
