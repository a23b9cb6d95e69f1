# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manifests as data: read, checked before anything is sent, and put in the order the API needs."""

from __future__ import annotations

import re

from .errors import KubeError

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

# Namespaces and CRDs before what lives in them or is of their kinds; the rest in the order given.
FIRST = {('v1', 'Namespace'): 0, ('apiextensions.k8s.io/v1', 'CustomResourceDefinition'): 1}
_NAME = re.compile(r'^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')


def load_text(text, what='manifest'):
    """The mappings of a multi-document YAML text; empty documents are skipped."""
    if not HAS_YAML:
        raise KubeError('missing_library', 'PyYAML is not installed (pip install PyYAML)')
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise KubeError('bad_manifest', '%s is not valid YAML: %s' % (what, ' '.join(str(exc).split())), call='Reading the %s' % what) from None
    found = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise KubeError('bad_manifest', 'document %d of the %s is not a mapping' % (index + 1, what), call='Reading the %s' % what)
        if doc.get('kind') == 'List' and isinstance(doc.get('items'), list):
            found.extend(doc['items'])
        else:
            found.append(doc)
    return found


def check(objects, default_namespace=None, what='definitions'):
    """Copies of ``objects`` with ``metadata.namespace`` filled in where given; rejects what the API would."""
    checked = []
    for index, obj in enumerate(objects):
        where = '%s[%d]' % (what, index)
        if not isinstance(obj, dict):
            raise KubeError('bad_manifest', '%s is not a mapping' % where, call='Checking the %s' % what)
        for key in ('apiVersion', 'kind'):
            if not isinstance(obj.get(key), str) or not obj.get(key):
                raise KubeError('bad_manifest', '%s has no %s' % (where, key), call='Checking the %s' % what)
        meta = obj.get('metadata')
        if not isinstance(meta, dict) or not isinstance(meta.get('name'), str) or not meta.get('name'):
            raise KubeError('bad_manifest', '%s (%s) has no metadata.name: server-side apply needs a name' % (where, obj['kind']),
                            call='Checking the %s' % what)
        if not _NAME.match(meta['name']) or len(meta['name']) > 253:
            raise KubeError('bad_manifest', '%s: %r is not a valid object name (lower-case letters, digits, - and .)'
                            % (where, meta['name']), call='Checking the %s' % what)
        copy = dict(obj, metadata=dict(meta))
        if default_namespace and not meta.get('namespace'):
            copy['metadata']['namespace'] = default_namespace
        checked.append(copy)
    return checked


def ordered(objects):
    """Namespaces first, then CustomResourceDefinitions, then everything else, each group in the given order."""
    return sorted(objects, key=lambda obj: FIRST.get((obj.get('apiVersion'), obj.get('kind')), 2))


def key(obj):
    meta = obj.get('metadata') or {}
    return obj.get('apiVersion'), obj.get('kind'), meta.get('namespace'), meta.get('name')
