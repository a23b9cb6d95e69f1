# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors and the retry budget shared by the sources of the ``hybrid`` inventory plugin.

No Ansible imports: the plugin turns these errors into AnsibleError, the unit tests use them as is.
"""

from __future__ import annotations

import threading
import time

from ansible_collections.hybridops.talos.plugins.module_utils._retry import Backoff


class InventorySourceError(Exception):
    """A whole source failed (bad option, backend down, token refused, budget spent): stop the run."""


class OddHostError(ValueError):
    """One machine cannot become an inventory host; the plugin warns and skips it."""


class RetryableError(Exception):
    """A transient answer (429, 502-504) worth another try; ``reason`` says which, for the final error."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class RetryBudget:
    """At most ``retries`` retries for one backend in one inventory run, shared by every request.

    One budget per backend and run (not per request) keeps a 429 storm from multiplying into
    ``requests x retries`` sleeps: when the budget is spent the run fails and says so.
    Thread-safe, because the Proxmox source spends it from a pool of workers.
    """

    def __init__(self, retries, backoff, max_delay, sleep=time.sleep):
        self.retries = retries
        self.backoff = backoff
        self.max_delay = max_delay
        self._delays = Backoff(min(backoff, max_delay), max_delay)  # a first wait above the cap is the cap
        self.spent = 0
        self._sleep = sleep
        self._lock = threading.Lock()

    def delay(self, attempt):
        """Seconds to wait before retry ``attempt`` (0-based) of one request: the collection's one capped, jittered backoff."""
        return self._delays.delay(attempt)

    def call(self, function, describe):
        """Run ``function()``; on RetryableError retry while the budget lasts.

        ``describe`` names the request for the error raised when the budget is spent.
        """
        attempt = 0
        while True:
            try:
                return function()
            except RetryableError as exc:
                with self._lock:
                    if self.spent >= self.retries:
                        raise InventorySourceError(
                            '%s still answered %s after %d %s, the whole retry budget of this run '
                            '(option retries); wait for the rate limit to refill or raise the budget.'
                            % (describe, exc.reason, self.spent, 'retry' if self.spent == 1 else 'retries')) from None
                    self.spent += 1
            self._sleep(self.delay(attempt))
            attempt += 1


NETWORK_REASONS = (
    ('refused', 'connection refused'),
    ('timed out', 'timed out'),
    ('Name or service not known', 'host name does not resolve'),
    ('nodename nor servname', 'host name does not resolve'),
    ('certificate verify failed', 'certificate verification failed'),
    ('reset by peer', 'connection reset'),
    ('RemoteDisconnected', 'connection closed without an answer'),
)


def network_reason(exc):
    """A short, secret-free reason for a transport failure (the full text repeats URLs and pool internals)."""
    text = str(exc)
    for needle, reason in NETWORK_REASONS:
        if needle in text:
            return reason
    return type(exc).__name__
