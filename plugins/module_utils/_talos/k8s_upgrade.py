# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upgrading Kubernetes on one Talos node, as ``talosctl upgrade-k8s`` does (platform.md section 6): the running
machine config gets new tags on its component images (``cluster.apiServer``, ``controllerManager``,
``scheduler``, ``proxy``) and on ``machine.kubelet.image``, and is applied without a reboot (Talos applies these
fields immediately). Only the tags change, so the config stays what the role renders with the new
``kubernetes_version`` (render.py builds those five images from it and nothing else), and the next site.yml
run finds nothing to change.
"""

from __future__ import annotations

import re

from .._errors import ModuleError
from .._retry import WaitTimeout, wait_for

# The Kubernetes minors each Talos minor supports (Talos' support matrix, "Kubernetes" row): one place to update.
SUPPORTED_KUBERNETES = {
    (1, 8): ((1, 26), (1, 31)),
    (1, 9): ((1, 27), (1, 32)),
    (1, 10): ((1, 28), (1, 33)),
    (1, 11): ((1, 29), (1, 34)),
    (1, 12): ((1, 30), (1, 35)),
    (1, 13): ((1, 31), (1, 36)),
}

# Where the images sit in the v1alpha1 document: (path, controlplane only).
IMAGE_PATHS = (
    (('cluster', 'apiServer', 'image'), True),
    (('cluster', 'controllerManager', 'image'), True),
    (('cluster', 'scheduler', 'image'), True),
    (('cluster', 'proxy', 'image'), False),
    (('machine', 'kubelet', 'image'), False),
)

_VERSION = re.compile(r'^v?(\d+)\.(\d+)\.(\d+)$')
_TALOS = re.compile(r'^v?(\d+)\.(\d+)\.')


def parse_version(text, what='kubernetes_version'):
    """``1.32.4`` or ``v1.32.4`` as (1, 32, 4); a clear error otherwise."""
    found = _VERSION.match(str(text or '').strip())
    if not found:
        raise ModuleError('bad_input', '%s must be a Kubernetes release such as 1.32.4 (it is %r).' % (what, text))
    return tuple(int(part) for part in found.groups())


def text(version):
    return '%d.%d.%d' % version


def supported_range(talos_tag):
    """((oldest minor), (newest minor)) of Kubernetes for a Talos version tag, None when we have no data for it."""
    found = _TALOS.match(talos_tag or '')
    return SUPPORTED_KUBERNETES.get((int(found.group(1)), int(found.group(2)))) if found else None


def refusal(current, target, talos_tag):
    """Why moving a node from ``current`` to ``target`` (version tuples) on Talos ``talos_tag`` is refused, or None."""
    if target < current:
        return ('Kubernetes %s is older than the %s the node runs: downgrades are not supported.'
                % (text(target), text(current)))
    if target[:2] > (current[0], current[1] + 1):
        return ('Kubernetes %s is more than one minor version ahead of the %s the node runs: upgrade to %d.%d first.'
                % (text(target), text(current), current[0], current[1] + 1))
    span = supported_range(talos_tag)
    if span is None:
        return 'Talos %s is not in the support table of this collection, so Kubernetes %s cannot be checked against it.' % (
            talos_tag, text(target))
    if not span[0] <= target[:2] <= span[1]:
        return 'Talos %s supports Kubernetes %d.%d to %d.%d, not %s.' % (talos_tag, span[0][0], span[0][1], span[1][0],
                                                                         span[1][1], text(target))
    return None


def v1alpha1_of(docs):
    found = [doc for doc in docs if isinstance(doc, dict) and 'kind' not in doc]
    if len(found) != 1:
        raise ModuleError('bad_config', 'the running machine config has %d v1alpha1 documents, expected one' % len(found))
    return found[0]


def _get(doc, path):
    for key in path:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def image_tag(image):
    """The tag of an image reference (after the last colon of its last path part), or None."""
    name = (image or '').split('@', 1)[0]
    last = name.rsplit('/', 1)[-1]
    return last.rsplit(':', 1)[1] if ':' in last else None


def running_version(doc):
    """The Kubernetes version the config asks for: the kubelet image's tag (every node has a kubelet)."""
    tag = image_tag(_get(doc, ('machine', 'kubelet', 'image')))
    if tag is None:
        raise ModuleError('bad_config', 'the running machine config has no machine.kubelet.image with a version tag')
    return parse_version(tag, 'the kubelet image tag')


def retag(doc, target):
    """Set the tag of every component image the document has to ``v<target>``; return {path: (old, new)} changed."""
    changes = {}
    for path, dummy in IMAGE_PATHS:
        parent = _get(doc, path[:-1])
        image = parent.get(path[-1]) if isinstance(parent, dict) else None
        if not image:
            continue
        name = image.split('@', 1)[0]
        repository = name.rsplit(':', 1)[0] if image_tag(name) is not None else name
        new = '%s:v%s' % (repository, text(target))
        if new != image:
            parent[path[-1]] = new
            changes['.'.join(path)] = (image, new)
    return changes


def _node_state(kube, name, target):
    """(kubelet at the target and Ready, what was seen) for the Node object ``name``."""
    node = kube.request('GET', '/api/v1/nodes/%s' % name, call='Reading node %s' % name)
    status = node.get('status') or {}
    version = (status.get('nodeInfo') or {}).get('kubeletVersion') or 'none'
    ready = next((c.get('status') for c in status.get('conditions') or () if c.get('type') == 'Ready'), 'Unknown')
    return version == 'v' + text(target) and ready == 'True', 'kubelet %s, Ready %s' % (version, ready)


def api_url(address, port=6443):
    return 'https://%s:%d' % ('[%s]' % address if ':' in address else address, port)


def wait_for_kubernetes(kube, own_api, name, target, timeout, errors):
    """Wait until node ``name`` reports kubelet ``target`` and Ready (through ``kube``) and, when ``own_api`` (a
    client on a control plane's own API server) is given, that server answers /version with ``target``.
    Raises ModuleError(timeout) naming the node."""
    seen = dict(last='no answer yet')

    def probe():
        try:
            done, state = _node_state(kube, name, target)
            if done and own_api is not None:
                answer = own_api.request('GET', '/version', call='Reading the version of the API server on %s' % name)
                served = answer.get('gitVersion') or 'none'
                done, state = served == 'v' + text(target), '%s, API server %s' % (state, served)
        except errors as exc:
            done, state = False, str(exc)
        seen['last'] = state
        return done, state

    try:
        return wait_for('node %s at Kubernetes %s' % (name, text(target)), probe, timeout, first=0.2, cap=2.0)[1]
    except WaitTimeout as exc:
        raise ModuleError('timeout', 'waited %g seconds; last seen: %s' % (timeout, seen['last']), node=name,
                          sentence='Node %s did not come up at Kubernetes %s within %g seconds (last seen: %s); the upgrade '
                                   'stops here.' % (name, text(target), timeout, seen['last']),
                          result=dict(duration=round(exc.duration, 2))) from None
