# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The error type every Talos helper raises: one sentence for an operator, never a secret value."""

from __future__ import annotations


class TalosConfigError(ValueError):
    """Bad input, an inconsistent bundle or an invalid config.

    ``str(error)`` is a one-line message saying what was being done, on what, and why it failed.
    ``failure`` holds the structured cause (a short ``code`` and optional details) for results.
    """

    def __init__(self, msg, code='invalid', **details):
        super().__init__(msg)
        self.code = code
        self.details = details

    @property
    def failure(self):
        return dict(code=self.code, message=str(self), **self.details)
