# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the control-plane configs carry the Cilium install manifest, decided from evidence.

"Cilium runs" alone cannot decide it: on a cluster this collection built, Cilium runs *because* the
manifest in the configs installed it, and dropping the manifest then would change every control-plane
config. So the evidence is, in this order:

1. the running configs of the control planes (Talos API): our manifest (``cilium-install``) in any of
   them means this collection installed Cilium - keep it, and refuse a change to it (Talos never
   updates what an inline manifest created: the change would silently do nothing);
2. no control plane configured yet: a fresh cluster - put it in;
3. configured control planes without it: the Kubernetes API says whether a Cilium runs (the
   ``kube-system/cilium`` DaemonSet) - someone else's: leave it alone (adoption); none: put it in
   (Talos applies a new inline manifest to a running cluster).

``decide`` is the pure rule; ``gather`` collects the evidence.
"""

from __future__ import annotations

import collections

from ._cilium import MANIFEST_NAME, differences

Evidence = collections.namedtuple('Evidence', 'carriers configured maintenance unreachable running_contents cilium_daemonset '
                                  'kubernetes_error helm_release')


class PlanError(Exception):
    def __init__(self, reason, message, **details):
        super().__init__(message)
        self.reason = reason
        self.details = details


def manifest_of(config_text, yaml):
    """The contents of our inline manifest in a machine config's text, or None."""
    for doc in yaml.safe_load_all(config_text or ''):
        if not isinstance(doc, dict):
            continue
        for manifest in ((doc.get('cluster') or {}).get('inlineManifests') or ()):
            if isinstance(manifest, dict) and manifest.get('name') == MANIFEST_NAME:
                return manifest.get('contents') or ''
    return None


def decide(mode, evidence, wanted_contents):
    """``(install, installed_by, reason)``; raises PlanError when the answer would be a guess or a silent no-op."""
    if evidence.carriers:
        if evidence.running_contents != wanted_contents and mode != 'never':
            raise PlanError('cilium_changed', 'The Cilium install manifest in the running configs of %s differs from the one these '
                            'settings render (%s), but Talos never updates what an inline manifest created, so the change would do '
                            'nothing: keep the Cilium settings as they were installed and change the running Cilium through Git once it is '
                            'handed to Flux (flux_cilium_handover, hybridops.talos.cilium_handover; docs/kubernetes.md).'
                            % (', '.join(evidence.carriers), '; '.join(differences(evidence.running_contents, wanted_contents))),
                            carriers=evidence.carriers, differences=differences(evidence.running_contents, wanted_contents))
        if mode == 'never':
            return False, 'hybridops.talos', ('the running configs of %s carry the install manifest; mode never removes it from the '
                                              'configs (Talos leaves what it created in place)' % ', '.join(evidence.carriers))
        return True, 'hybridops.talos', 'our install manifest is in the running configs of %s: kept as it is' % ', '.join(evidence.carriers)
    if mode == 'never':
        return False, 'other' if evidence.cilium_daemonset else None, 'Cilium installation is turned off (mode never)'
    if mode == 'always':
        return True, None, 'the install manifest is asked for (mode always)'
    if not evidence.configured:
        if evidence.unreachable:
            raise PlanError('cilium_evidence_missing', 'Cannot tell whether the cluster runs Cilium: control planes %s did not answer '
                            'and none answered with a config; retry when they are reachable.' % ', '.join(evidence.unreachable))
        return True, None, 'no control plane runs a config yet: a new cluster gets Cilium from the install manifest'
    if evidence.cilium_daemonset:
        owner = ' (Helm release %s)' % evidence.helm_release if evidence.helm_release else ''
        return False, 'other', ('the cluster runs a Cilium this collection did not install%s: it is left alone and the configs get no '
                                'install manifest' % owner)
    if evidence.kubernetes_error:
        raise PlanError('cilium_evidence_missing', 'Cannot tell whether the running cluster (control planes %s, no Cilium install '
                        'manifest in their configs) runs a Cilium of its own: %s. Set talos_cluster_cilium_install to always or '
                        'never to decide it yourself.' % (', '.join(evidence.configured), evidence.kubernetes_error))
    return True, None, ('the running cluster has no Cilium: the install manifest goes into the control-plane configs, and Talos '
                        'applies it')
