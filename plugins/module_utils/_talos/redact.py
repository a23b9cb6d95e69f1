# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep secret values out of everything a module returns.

Two layers: every secret string of the bundle is registered with the module (Ansible then masks it
anywhere in the result, including warnings and errors), and texts shown on purpose (the diff, the
redacted config) have each secret replaced by ``<redacted>`` first, so they stay readable.
"""

from __future__ import annotations

REDACTED = '<redacted>'


def redact(text, secrets):
    """``text`` with every secret value replaced (longest first, so no fragment survives)."""
    if not text:
        return text
    for value in sorted(secrets, key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, REDACTED)
    return text


def text_diff(path, before, after, secrets):
    """An Ansible diff of two texts with secrets redacted; says so when only secret values differ."""
    before_text = redact(before, secrets) if before is not None else ''
    after_text = redact(after, secrets) if after is not None else ''
    after_header = path
    if before is not None and before != after and before_text == after_text:
        after_header = '%s (secret values changed)' % path
    return {'before': before_text, 'after': after_text,
            'before_header': path if before is not None else '%s (absent)' % path, 'after_header': after_header}


def register_secrets(module, secrets):
    """Make Ansible mask these values in every result, warning and error of ``module``."""
    module.no_log_values.update(value for value in secrets if len(value) >= 8)
