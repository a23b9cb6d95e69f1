# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded retries with capped, jittered exponential backoff.

Jitter spreads the retries of many hosts (Ansible forks) that lost the same node at the same moment;
the cap keeps one wait short enough to notice a node that came back; the attempt limit bounds the
whole call, so an unreachable node fails in predictable time.
"""

from __future__ import annotations

import random

DEFAULT_ATTEMPTS = 5
DEFAULT_BASE = 0.5
DEFAULT_CAP = 8.0


class RetryPolicy:
    """How often and how long to wait between attempts of one call."""

    def __init__(self, attempts=DEFAULT_ATTEMPTS, base=DEFAULT_BASE, cap=DEFAULT_CAP, rng=None):
        if attempts < 1:
            raise ValueError('attempts must be at least 1, got %r' % (attempts,))
        if base < 0 or cap < base:
            raise ValueError('backoff needs 0 <= base <= cap, got base=%r cap=%r' % (base, cap))
        self.attempts = attempts
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()

    def ceiling(self, retry):
        """The longest wait before retry number ``retry`` (0 = the first retry): base * 2**retry, capped."""
        return min(self.cap, self.base * (2 ** retry))

    def delay(self, retry):
        """Equal jitter: at least half the ceiling, so a retry never comes back instantly."""
        ceiling = self.ceiling(retry)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def delays(self):
        """The waits between the attempts: one fewer than ``attempts``."""
        return [self.delay(retry) for retry in range(self.attempts - 1)]


NO_RETRY = RetryPolicy(attempts=1)
