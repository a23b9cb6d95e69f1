# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Diffs without noise, and Secrets that stay hidden.

The rule of kubernetes.core's ``diff_objects``: what changes on every write (``resourceVersion``,
``generation``, ``managedFields``) and what the server alone keeps (``uid``, ``creationTimestamp``,
``status``) never makes a diff or a change. A Secret's values never leave the module: they are
compared, then shown as ``<redacted>`` (``<redacted, changed>`` where the value changed, so a diff
still says that something did).
"""

from __future__ import annotations

import copy

NOISE = ('resourceVersion', 'generation', 'managedFields', 'uid', 'creationTimestamp', 'selfLink')
REDACTED = '<redacted>'
REDACTED_CHANGED = '<redacted, changed>'
SECRET_FIELDS = ('data', 'stringData')
# kubectl's client-side apply keeps a copy of the whole object here, Secret values included.
LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'


def is_secret(obj):
    return isinstance(obj, dict) and obj.get('kind') == 'Secret' and (obj.get('apiVersion') or 'v1') == 'v1'


def normalise(obj):
    """The object as compared: without the noise and without ``status``."""
    if obj is None:
        return None
    found = copy.deepcopy(obj)
    found.pop('status', None)
    meta = found.get('metadata')
    if isinstance(meta, dict):
        for key in NOISE:
            meta.pop(key, None)
        if not meta.get('annotations'):
            meta.pop('annotations', None)
        if not meta.get('labels'):
            meta.pop('labels', None)
    return found


def differs(before, after):
    return normalise(before) != normalise(after)


def redact(obj, other=None):
    """A copy of ``obj`` safe to show: Secret values replaced; ``other`` (the object on the other side of a
    diff) marks the keys whose values differ."""
    if obj is None:
        return None
    shown = normalise(obj)
    if not is_secret(obj):
        return shown
    annotations = (shown.get('metadata') or {}).get('annotations') or {}
    if LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = REDACTED
    theirs = other or {}
    for field in SECRET_FIELDS:
        values = shown.get(field)
        if not isinstance(values, dict):
            continue
        mine = obj.get(field) or {}
        others = theirs.get(field) or {} if isinstance(theirs, dict) else {}
        shown[field] = {key: REDACTED if other is None or others.get(key) == mine.get(key) else REDACTED_CHANGED
                        for key in sorted(values)}
    return shown


def identity(obj):
    """``(apiVersion, kind, namespace, name)`` as shown in results."""
    meta = obj.get('metadata') or {}
    return obj.get('apiVersion'), obj.get('kind'), meta.get('namespace'), meta.get('name')
