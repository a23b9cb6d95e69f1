"""Bounded waits with capped backoff, on a fake clock (pure logic)."""
import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._wait import WaitTimeout, wait_for


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
