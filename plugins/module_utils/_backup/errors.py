# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The error every backup helper raises: one sentence for an operator, never a secret value."""

from __future__ import annotations


class BackupError(Exception):
    """A backup or restore step failed, or its input is wrong.

    ``reason`` is a short stable code (``bad_input``, ``remote_failed``, ``verification_failed``,
    ``decrypt_failed``, ``wrong_cluster`` ...); ``str(error)`` says what was being done, on what, and why.
    ``failure`` has the same shape as the Talos API errors' (reason, node, call, status, message).
    """

    def __init__(self, reason, message, **details):
        super().__init__(message)
        self.reason = reason
        self.details = details

    @property
    def message(self):
        return str(self)

    @property
    def failure(self):
        result = dict(reason=self.reason, node=None, call=None, status=None, message=str(self))
        result.update(self.details)
        return result
