# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tail every module that applies a set of objects shares: apply, report, diff, wait.

The Flux, Cilium hand-over and CSI modules each build their objects differently, then do the same
four things with them; this is that one place, so results, diffs and waits look alike in all of them.
"""

from __future__ import annotations

from . import manifests, wait as kube_wait
from .apply import Applier, diffs, results, summary
from .client import Resource

HELM_RELEASES = Resource('helm.toolkit.fluxcd.io/v2', 'HelmRelease', 'helmreleases', True)
HELM_REPOSITORIES = Resource('source.toolkit.fluxcd.io/v1', 'HelmRepository', 'helmrepositories', True)
FLUX_NOT_INSTALLED = (': its CustomResourceDefinition is missing, so Flux is not installed (run hybridops.talos.flux_install '
                      'first); nothing was applied')


def require_flux(client, *resources):
    """Refuse before writing when the cluster does not serve the Flux kinds a module is about to apply."""
    for resource in resources:
        client.require(resource.api_version, resource.kind, FLUX_NOT_INSTALLED)


def apply_and_report(client, objects, module, field_manager=None):
    """Server-side apply ``objects`` (check mode: the server's dry run); (result dict, outcomes).

    The result holds ``changed``, ``objects`` (identity and action of each) and ``counts``, and ``diff``
    (Secrets redacted) when Ansible runs with --diff."""
    checked = manifests.check(objects)
    manager = field_manager or module.params['field_manager']
    outcomes = Applier(client, manager, check_mode=module.check_mode).apply(checked)
    result = dict(changed=any(o.action != 'unchanged' for o in outcomes), objects=results(outcomes), counts=summary(outcomes))
    if module._diff:  # pylint: disable=protected-access
        result['diff'] = diffs(outcomes)
    return result, outcomes


def targets_of(objects, skip_kinds=('Secret', 'Namespace', 'StorageClass')):
    """The wait targets of applied objects: everything with a readiness of its own."""
    return [kube_wait.Target(o['apiVersion'], o['kind'], o['metadata']['name'], o['metadata'].get('namespace'))
            for o in objects if o['kind'] not in skip_kinds]


def wait_ready(client, targets, module, what, timeout=None):
    """Wait (bounded by ``wait_timeout``) until every target is ready; the last observation per object.

    Nothing is waited for in check mode or with ``wait=false``: then None."""
    if module.check_mode or not module.params.get('wait', True):
        return None
    observation, _seconds = kube_wait.wait(client, targets, check_nodes=False,
                                           timeout=timeout if timeout is not None else module.params['wait_timeout'], what=what)
    return observation.objects
