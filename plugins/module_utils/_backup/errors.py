# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The error every backup helper raises: one sentence for an operator, never a secret value."""

from __future__ import annotations

from .._errors import ModuleError


class BackupError(ModuleError):
    """A backup or restore step failed, or its input is wrong: the collection's one failure shape (_errors.py).

    ``reason`` is a short stable code (``bad_input``, ``remote_failed``, ``verification_failed``,
    ``decrypt_failed``, ``wrong_cluster`` ...); the message says what was being done, on what, and why.
    """

    def __init__(self, reason, message, **details):
        super().__init__(reason, message, **details)
