# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capped exponential backoff, and the two ways the collection uses it.

* :class:`RetryPolicy`: how often one call is tried again after a transient failure, and how long
  to wait in between (the Talos API client; the inventory's retry budget uses :class:`Backoff`).
* :func:`wait_for`: polling real state until a condition holds, within a deadline.

Jitter spreads the retries of many hosts (Ansible forks) that lost the same node at the same
moment; the cap keeps one wait short enough to notice a node that came back; the attempt limit
and the deadline bound the whole operation, so a dead node fails in predictable time. Polling a
condition needs no jitter: one poller asks, and a fixed schedule is easier to reason about.
"""

from __future__ import annotations

import random
import time


class Backoff:
    """Waits of ``first * 2**n`` seconds, capped at ``cap``; with ``jitter`` in the upper half of that."""

    def __init__(self, first, cap, jitter=True, rng=None):
        if first < 0 or cap < first:
            raise ValueError('backoff needs 0 <= first <= cap, got first=%r cap=%r' % (first, cap))
        self.first = first
        self.cap = cap
        self.jitter = jitter
        self._rng = rng or random.Random()

    def ceiling(self, retry):
        """The longest wait before retry number ``retry`` (0 = the first retry)."""
        return min(self.cap, self.first * (2 ** retry))

    def delay(self, retry):
        """The wait before retry ``retry``: with jitter at least half the ceiling, so a retry never comes back at once."""
        ceiling = self.ceiling(retry)
        if not self.jitter:
            return ceiling
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


class RetryPolicy:
    """At most ``attempts`` tries of one call, waiting :class:`Backoff` delays in between."""

    def __init__(self, attempts=5, first=0.5, cap=8.0, rng=None):
        if attempts < 1:
            raise ValueError('attempts must be at least 1, got %r' % (attempts,))
        self.attempts = attempts
        self.backoff = Backoff(first, cap, rng=rng)

    def delays(self):
        """The waits between the attempts: one fewer than ``attempts``."""
        return [self.backoff.delay(retry) for retry in range(self.attempts - 1)]


NO_RETRY = RetryPolicy(attempts=1)


class WaitTimeout(Exception):
    """The condition did not hold in time; ``last`` is what was seen last, ``duration`` how long we waited."""

    def __init__(self, what, timeout, last, duration):
        self.what = what
        self.last = last
        self.duration = duration
        super().__init__('%s did not happen within %g s; last seen: %s' % (what, timeout, last))


def wait_for(what, probe, timeout, first=0.2, cap=5.0, clock=time.monotonic, sleep=time.sleep):
    """Call ``probe()`` until it returns ``(True, state)``; return ``(state, duration)``.

    ``probe`` returns ``(done, state)``; ``state`` is a short description of what it saw, used in the
    error when time runs out. Waits double from ``first`` up to ``cap`` and never overshoot the deadline.
    """
    backoff = Backoff(first, cap, jitter=False)
    start = clock()
    deadline = start + timeout
    retry = 0
    while True:
        done, state = probe()
        now = clock()
        if done:
            return state, now - start
        if now >= deadline:
            raise WaitTimeout(what, timeout, state, now - start)
        sleep(min(backoff.delay(retry), max(0.0, deadline - now)))
        retry += 1
