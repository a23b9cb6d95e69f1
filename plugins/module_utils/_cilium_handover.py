# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Handing a running Cilium to Flux: read its Helm release, and the HelmRepository and HelmRelease that adopt it.

Facts (docs/kubernetes.md, "Cilium through Git"): ``cilium install`` installs the chart with Helm as release
``cilium`` in ``kube-system``; Helm keeps each revision in a Secret of type ``helm.sh/release.v1`` named
``sh.helm.release.v1.<release>.v<revision>``, labelled ``owner=helm``, ``name=<release>``, ``status``, ``version``,
whose ``release`` key is the release as base64 of gzip'd JSON (``chart.metadata.version``, ``config`` = the values
given, ``info.status``). helm-controller takes over a release of the same name in the HelmRelease's storage
namespace that it did not make by upgrading it with the HelmRelease's chart and values: with the running chart
version and the running values that upgrade changes nothing in the cluster, which is why both are copied here.
"""

from __future__ import annotations

import base64
import gzip
import json

from ._flux import refuse

HELM_RELEASE_TYPE = 'helm.sh/release.v1'
CHART = 'cilium'
CHART_REPOSITORY = 'https://helm.cilium.io/'


def _decode(data):
    """A release record from a Secret's ``release`` value (base64 in the API, then Helm's base64 of gzip'd JSON)."""
    raw = base64.b64decode(base64.b64decode(data))
    if raw[:3] == b'\x1f\x8b\x08':
        raw = gzip.decompress(raw)
    return json.loads(raw)


def running_release(secrets, name, namespace):
    """``{'revision', 'chart', 'version', 'status', 'values'}`` of the newest deployed revision of release ``name``.

    ``secrets`` are the Secrets of ``namespace`` (or of its ``owner=helm,name=<name>`` selection). Refused with
    one sentence when there is none: nothing was installed with Helm under that name, so there is nothing to adopt.
    """
    records = []
    for secret in secrets:
        labels = (secret.get('metadata') or {}).get('labels') or {}
        if secret.get('type') != HELM_RELEASE_TYPE or labels.get('name') != name or labels.get('owner') != 'helm':
            continue
        try:
            record = _decode((secret.get('data') or {}).get('release') or '')
        except (ValueError, OSError, EOFError) as exc:
            raise refuse('bad_release', 'The Helm release record %s/%s cannot be read (%s), so Cilium was not handed over.'
                         % (namespace, secret['metadata']['name'], exc)) from None
        records.append(record)
    deployed = [r for r in records if (r.get('info') or {}).get('status') == 'deployed']
    if not deployed:
        states = sorted({(r.get('info') or {}).get('status') or '?' for r in records})
        raise refuse('no_release', 'No deployed Helm release %s runs in %s%s, so there is nothing for Flux to adopt: Cilium '
                     'must be installed with Helm or cilium install (as talos_cluster does) before it is handed over.'
                     % (name, namespace, ' (its revisions are %s)' % ', '.join(states) if states else ''),
                     release=name, namespace=namespace)
    newest = max(deployed, key=lambda r: int(r.get('version') or 0))
    chart = ((newest.get('chart') or {}).get('metadata')) or {}
    return {'revision': int(newest.get('version') or 0), 'chart': chart.get('name'), 'version': chart.get('version'),
            'status': 'deployed', 'values': newest.get('config') or {}}


def check_release(release, name, namespace, expected_version=None):
    """Refuse a release that is not Cilium's chart, or not the version the caller expects to hand over."""
    if release['chart'] != CHART:
        raise refuse('not_cilium', 'The Helm release %s/%s runs chart %s, not %s, so it was not handed over.'
                     % (namespace, name, release['chart'], CHART), chart=release['chart'])
    if expected_version and str(expected_version).lstrip('v') != str(release['version']).lstrip('v'):
        raise refuse('version_mismatch', 'Cilium %s runs in %s, not %s: the hand-over adopts the running version unchanged, so '
                     'hand it over at %s and upgrade through Git afterwards.'
                     % (release['version'], namespace, expected_version, release['version']),
                     running=release['version'], expected=str(expected_version))


def objects(release, name, namespace, flux_namespace, repository=CHART_REPOSITORY, interval='30m0s'):
    """The HelmRepository and the HelmRelease that adopt ``release`` as it runs (same chart version, same values)."""
    helm_repository = {
        'apiVersion': 'source.toolkit.fluxcd.io/v1', 'kind': 'HelmRepository',
        'metadata': {'name': CHART, 'namespace': flux_namespace},
        'spec': {'url': repository, 'interval': '24h0m0s'},
    }
    helm_release = {
        'apiVersion': 'helm.toolkit.fluxcd.io/v2', 'kind': 'HelmRelease',
        'metadata': {'name': name, 'namespace': namespace},
        'spec': {
            'interval': interval,
            'releaseName': name,
            'storageNamespace': namespace,
            'chart': {'spec': {'chart': CHART, 'version': str(release['version']),
                               'sourceRef': {'kind': 'HelmRepository', 'name': CHART, 'namespace': flux_namespace}}},
            # Roll back a failed upgrade rather than leave the CNI half-upgraded.
            'upgrade': {'remediation': {'retries': 3, 'remediateLastFailure': True}},
            'values': release['values'],
        },
    }
    return [helm_repository, helm_release]


def git_file(docs, yaml_dump):
    """The YAML the user commits to the GitOps repository, with a header that says what it is."""
    header = ('# Cilium, handed over to Flux by hybridops.talos.cilium_handover: the running chart version and values.\n'
              '# Commit this file where the root Kustomization applies it; change Cilium here from now on\n'
              '# (inline manifests in the Talos configs are create-only, so Git is the only way to change it).\n')
    return header + ''.join('---\n' + yaml_dump(doc, sort_keys=False, default_flow_style=False) for doc in docs)
