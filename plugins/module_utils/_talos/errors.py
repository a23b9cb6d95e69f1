# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The error every Talos config helper raises: one sentence for an operator, never a secret value."""

from __future__ import annotations

from .._errors import ModuleError


class TalosConfigError(ModuleError):
    """Bad input, an inconsistent bundle or an invalid config: the collection's one failure shape.

    ``str(error)`` is a one-line message saying what was being done, on what, and why it failed;
    ``reason`` a short code (``bad_input``, ``missing_file``, ``bad_permissions`` ...), and the
    keyword details (``option``, ``path`` ...) go into ``failure``.
    """

    def __init__(self, msg, reason='invalid', **details):
        super().__init__(reason, msg, **details)
