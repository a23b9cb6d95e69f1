# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded waits on real state, polling with capped backoff."""

from __future__ import annotations

import time


class WaitTimeout(Exception):
    """The condition did not hold in time; ``last`` is what was seen last, ``duration`` how long we waited."""

    def __init__(self, what, timeout, last, duration):
        self.what = what
        self.last = last
        self.duration = duration
        super().__init__('%s did not happen within %d s; last seen: %s' % (what, timeout, last))


def wait_for(what, probe, timeout, first=0.2, cap=5.0, clock=time.monotonic, sleep=time.sleep):
    """Call ``probe()`` until it returns ``(True, state)``; return ``(state, duration)``.

    ``probe`` returns ``(done, state)``; ``state`` is a short description of what it saw, used in the
    error when time runs out. Delays double from ``first`` up to ``cap`` and never overshoot the deadline.
    """
    start = clock()
    deadline = start + timeout
    delay = first
    while True:
        done, state = probe()
        now = clock()
        if done:
            return state, now - start
        if now >= deadline:
            raise WaitTimeout(what, timeout, state, now - start)
        sleep(min(delay, max(0.0, deadline - now)))
        delay = min(cap, delay * 2)
