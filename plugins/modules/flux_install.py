#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flux_install
short_description: Install a pinned Flux from its release manifest, checked against a pinned sha256, and wait like flux check
version_added: 0.2.0
description:
  - Reads Flux's release manifest C(install.yaml) - downloaded on the controller from the release of O(version), or
    read from O(src) for sites without internet - and refuses it unless its SHA-256 digest is O(sha256). The digest
    is checked before the cluster is contacted; nothing is applied from a manifest that does not match.
  - Refuses, before anything is written, a manifest whose C(# Flux Version) header names another release, and a Flux
    the cluster cannot run (Flux 2.7 needs Kubernetes 1.32, 2.8 and later 1.33, as C(flux check --pre) says).
  - Applies the manifest with server-side apply (as M(hybridops.talos.kube_apply) does) - namespace and CRDs first, the
    custom resources only once their CRD is established. Check mode is the API server's dry run.
  - Then waits as C(flux check) does, bounded by O(wait_timeout) - every CustomResourceDefinition labelled
    C(app.kubernetes.io/part-of=flux) established, every controller Deployment with that label in O(namespace)
    available - and fails naming each CRD or controller that is not ready and why its pods do not run.
  - A second run with the same manifest changes nothing.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.kube_api
  - hybridops.talos.kube_api.wait
  - hybridops.talos.kube_api.action_group
options:
  version:
    description: The Flux release, for example V(2.7.5) (use 2.7.x on Kubernetes 1.32).
    type: str
    required: true
  sha256:
    description:
      - The SHA-256 digest of the release's C(install.yaml), as listed in the release's C(flux_<version>_checksums.txt).
        Required when the manifest is downloaded; with O(src) it is checked when given.
    type: str
  releases_url:
    description:
      - Where releases are downloaded from; the manifest is C(<releases_url>/v<version>/install.yaml).
    type: str
    default: https://github.com/fluxcd/flux2/releases/download
  src:
    description: A local copy of the release's C(install.yaml) on the controller, instead of a download.
    type: path
  validate_certs:
    description: Verify the TLS certificate of the download server.
    type: bool
    default: true
  namespace:
    description:
      - The namespace the manifest installs Flux's controllers into (the manifest's own, normally V(flux-system)); the
        module waits for the controller Deployments there.
    type: str
    default: flux-system
  field_manager:
    description: The field manager of the server-side apply.
    type: str
    default: hybridops.talos
  wait:
    description: Wait until the CRDs are established and the controllers are available.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Downloads and checks the manifest, then applies it as the API server's dry run.
  diff_mode:
    support: full
    description: One diff per object that changes.
  idempotent:
    support: full
    description: Applying the same manifest again changes nothing.
seealso:
  - module: hybridops.talos.flux_sync
  - module: hybridops.talos.kube_apply
"""

EXAMPLES = r"""
- name: Install Flux 2.7.5, checked against the digest from flux_2.7.5_checksums.txt
  hybridops.talos.flux_install:
    kubeconfig: ~/.local/share/hybridops-talos/prod/kubeconfig
    version: 2.7.5
    sha256: "{{ flux_install_sha256 }}"

- name: Install Flux from a copy on the controller (no internet on the site)
  hybridops.talos.flux_install:
    version: 2.7.5
    src: /srv/mirror/flux/v2.7.5/install.yaml
    sha256: "{{ flux_install_sha256 }}"
"""

RETURN = r"""
version:
  description: The Flux release installed.
  returned: success
  type: str
  sample: 2.7.5
sha256:
  description: The SHA-256 digest of the manifest that was applied.
  returned: success
  type: str
source:
  description: Where the manifest came from (URL or path).
  returned: success
  type: str
counts:
  description: How many objects were created, updated and left unchanged.
  returned: success
  type: dict
controllers:
  description: The controller Deployments, as C(flux check) lists them.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The Deployment's name.
      type: str
    images:
      description: Its container images.
      type: list
      elements: str
    ready:
      description: Whether it is available (true for each after a successful wait; false when not waited for).
      type: bool
crds:
  description: The names of the CustomResourceDefinitions installed.
  returned: success
  type: list
  elements: str
duration:
  description: Seconds the task took.
  returned: success
  type: float
failure:
  description:
    - The structured cause of a failure. C(reason) is V(checksum_mismatch) (with C(expected), C(actual) and C(source)),
      V(version_mismatch), V(kubernetes_too_old), V(download_failed), V(bad_input), V(not_ready) (the wait ran out) or an
      API error code.
  returned: failed
  type: dict
"""

import time
from http.client import HTTPException

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.hybridops.talos.plugins.module_utils import _flux
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import KUBE_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._kube import converge, manifests, wait as kube_wait
from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KUBE_ARGS, KubeClient
from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import KubeError


def argument_spec():
    return dict(
        KUBE_ARGS,
        version=dict(type='str', required=True),
        sha256=dict(type='str'),
        releases_url=dict(type='str', default=_flux.DEFAULT_RELEASES),
        src=dict(type='path'),
        validate_certs=dict(type='bool', default=True),
        namespace=dict(type='str', default='flux-system'),
        field_manager=dict(type='str', default='hybridops.talos'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=300),
    )


def read_manifest(params, version, expected):
    """``(source, bytes, sha256)`` of the manifest; refused here, before anything is applied, when the pin differs."""
    if params['src']:
        source = params['src']
        try:
            with open(source, 'rb') as handle:
                data = handle.read()
        except OSError as exc:
            raise KubeError('missing_file', 'cannot read the Flux install manifest %s: %s' % (source, exc.strerror),
                            call='Reading the Flux install manifest') from None
    else:
        source = _flux.install_url(params['releases_url'], version)
        try:
            response = open_url(source, validate_certs=params['validate_certs'], timeout=params['request_timeout'],
                                http_agent='hybridops.talos')
            data = response.read()
        except (OSError, ValueError, HTTPException) as exc:  # urllib, socket and ssl errors are OSErrors
            raise KubeError('download_failed', 'downloading %s failed: %s' % (source, exc), call='Downloading the Flux install manifest',
                            url=source) from None
    return source, data, _flux.verify(data, expected, source)


def check_input(params):
    version = _flux.parse_version(params['version'])
    expected = _flux.check_sha256(params['sha256']) if params['sha256'] else None
    if expected is None and not params['src']:
        raise _flux.refuse('bad_input', 'sha256 is required to download the Flux install manifest: give the digest of '
                           'install.yaml from the release\'s flux_%s_checksums.txt, or a local copy as src.' % _flux.version_text(version),
                           option='sha256')
    return version, expected


def body(module):
    params = module.params
    started = time.monotonic()
    version, expected = check_input(params)
    source, data, digest = read_manifest(params, version, expected)
    text = data.decode('utf-8', 'replace')
    named = _flux.manifest_version(text)
    if named is not None and _flux.parse_version(named, 'the manifest\'s Flux Version') != version:
        raise _flux.refuse('version_mismatch', 'The manifest from %s is Flux %s, not %s, so nothing was applied.'
                           % (source, named, _flux.version_text(version)), manifest_version=named)
    objects = manifests.check(manifests.load_text(text, 'Flux install manifest'), None, 'Flux install manifest')
    crds, deployments = _flux.flux_objects(objects, params['namespace'])
    if not deployments:
        raise _flux.refuse('bad_manifest', 'The manifest from %s has no Flux controller Deployment in namespace %s, so nothing '
                           'was applied (is it Flux\'s install.yaml, and is namespace right?).' % (source, params['namespace']))
    client = KubeClient.from_params(params)
    _flux.check_kubernetes(version, client.version())
    result, _outcomes = converge.apply_and_report(client, objects, module)
    del result['objects']  # the install manifest has dozens of objects: counts, CRDs and controllers say what matters
    result.update(version=_flux.version_text(version), sha256=digest, source=source, crds=crds,
                  controllers=[dict(name=d['metadata']['name'], images=_flux.images(d), ready=False) for d in deployments])
    targets = [kube_wait.Target('apiextensions.k8s.io/v1', 'CustomResourceDefinition', name, None) for name in crds]
    targets += [kube_wait.Target('apps/v1', 'Deployment', d['metadata']['name'], params['namespace']) for d in deployments]
    observed = converge.wait_ready(client, targets, module, 'the Flux CRDs and controllers')
    ready = {(o['kind'], o['name']): o['ready'] for o in observed or ()}
    for controller in result['controllers']:
        controller['ready'] = ready.get(('Deployment', controller['name']), False)
    result['duration'] = round(time.monotonic() - started, 2)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    requires(module, *KUBE_API)
    run(module, body)


if __name__ == '__main__':
    main()
