#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flux_sync
short_description: Connect Flux to a GitOps repository - deploy-key Secret, GitRepository and root Kustomization
version_added: 0.2.0
description:
  - Creates or updates, with server-side apply, what C(flux bootstrap) leaves in the cluster for the repository - a
    Secret with the SSH deploy key (C(identity), C(identity.pub)) and C(known_hosts), a C(GitRepository)
    (C(source.toolkit.fluxcd.io/v1)) for O(url) and O(branch), and the root C(Kustomization)
    (C(kustomize.toolkit.fluxcd.io/v1)) that applies O(path) of it - then waits until both are C(Ready).
  - Without O(ssh_private_key) an existing Secret O(secret_name) is used (it must hold C(identity) and C(known_hosts)
    for an C(ssh://) URL), or none for a public C(https://) repository.
  - The key is checked before anything is written (an OpenSSH or PEM private key without passphrase) and never
    appears in results, diffs or logs; the Secret's values show as C(<redacted>).
  - Needs Flux's CRDs (M(hybridops.talos.flux_install)); without them the task fails before it writes anything.
author:
  - hybridops.talos maintainers (@hybridops)
extends_documentation_fragment:
  - hybridops.talos.kube_api
  - hybridops.talos.kube_api.wait
  - hybridops.talos.kube_api.action_group
options:
  name:
    description: Name of the GitRepository and the Kustomization.
    type: str
    default: flux-system
  namespace:
    description: Namespace of the three objects (Flux's).
    type: str
    default: flux-system
  url:
    description:
      - The repository, as Flux takes it - V(ssh://git@github.com/org/repo.git) (not the scp-like
        V(git@github.com:org/repo.git)) or an V(https://) URL.
    type: str
    required: true
  branch:
    description: The branch to follow.
    type: str
    default: main
  path:
    description: The folder of the repository that the root Kustomization applies.
    type: str
    default: ./
  interval:
    description: How often Flux fetches the repository.
    type: str
    default: 1m0s
  kustomization_interval:
    description: How often Flux applies the folder again.
    type: str
    default: 10m0s
  prune:
    description: Delete what disappears from the repository.
    type: bool
    default: true
  secret_name:
    description:
      - Name of the Secret with the deploy key; defaults to O(name). Without O(ssh_private_key) it must exist already.
    type: str
  ssh_private_key:
    description:
      - The deploy key (private key, OpenSSH or PEM form, no passphrase). When given, the module manages the Secret.
    type: str
  known_hosts:
    description: The Git server's host keys (C(ssh-keyscan) output); required with O(ssh_private_key).
    type: str
  field_manager:
    description: The field manager of the server-side apply.
    type: str
    default: hybridops.talos
  wait:
    description: Wait until the GitRepository and the Kustomization are C(Ready).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: The API server's dry run.
  diff_mode:
    support: full
    description: One diff per object that changes; the Secret's values are redacted.
  idempotent:
    support: full
    description: The same settings again change nothing.
seealso:
  - module: hybridops.talos.flux_install
"""

EXAMPLES = r"""
- name: Connect Flux to the GitOps repository with a deploy key
  hybridops.talos.flux_sync:
    kubeconfig: ~/.local/share/hybridops-talos/prod/kubeconfig
    url: ssh://git@github.com/example/gitops.git
    branch: main
    path: ./clusters/prod
    ssh_private_key: "{{ lookup('ansible.builtin.file', '~/.ssh/gitops-deploy-key') }}"
    known_hosts: "{{ lookup('ansible.builtin.pipe', 'ssh-keyscan github.com 2>/dev/null') }}"
"""

RETURN = r"""
counts:
  description: How many objects were created, updated and left unchanged.
  returned: success
  type: dict
  sample: {created: 0, updated: 0, unchanged: 3}
objects:
  description: The objects applied and what happened to each (V(created), V(updated), V(unchanged)).
  returned: success
  type: list
  elements: dict
revision:
  description: The revision the GitRepository stored, as Flux reports it.
  returned: success and O(wait=true)
  type: str
  sample: main@sha1:6f1c1ad2dc2d2d50c6e4b1e2f9d3a7a0e2b4c1d9
ready:
  description: What the wait saw last, per object.
  returned: O(wait=true)
  type: list
  elements: dict
duration:
  description: Seconds the task took.
  returned: success
  type: float
failure:
  description: The structured cause of a failure.
  returned: failed
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils import _flux
from ansible_collections.hybridops.talos.plugins.module_utils._errors import run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import KUBE_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._kube import converge
from ansible_collections.hybridops.talos.plugins.module_utils._kube.client import KUBE_ARGS, KubeClient, Resource
from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import KubeError

SECRETS = Resource('v1', 'Secret', 'secrets', True)
GIT_REPOSITORIES = Resource('source.toolkit.fluxcd.io/v1', 'GitRepository', 'gitrepositories', True)
KUSTOMIZATIONS = Resource('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', 'kustomizations', True)


def argument_spec():
    return dict(
        KUBE_ARGS,
        name=dict(type='str', default='flux-system'),
        namespace=dict(type='str', default='flux-system'),
        url=dict(type='str', required=True),
        branch=dict(type='str', default='main'),
        path=dict(type='str', default='./'),
        interval=dict(type='str', default='1m0s'),
        kustomization_interval=dict(type='str', default='10m0s'),
        prune=dict(type='bool', default=True),
        secret_name=dict(type='str', no_log=False),
        ssh_private_key=dict(type='str', no_log=True),
        known_hosts=dict(type='str'),
        field_manager=dict(type='str', default='hybridops.talos'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=300),
    )


def check_input(params):
    """The URL as Flux takes it and the deploy key's public half; refused here, before the cluster is contacted."""
    url = _flux.check_url(params['url'])
    for option in ('interval', 'kustomization_interval'):
        _flux.check_duration(params[option], option)
    public_key = None
    if params['ssh_private_key']:
        if not params['known_hosts']:
            raise _flux.refuse('bad_input', 'known_hosts is required with ssh_private_key: Flux checks the Git server\'s host key '
                               'against it.', option='known_hosts')
        _flux.check_known_hosts(params['known_hosts'])
        public_key = _flux.public_key_of(params['ssh_private_key'])
    elif url.startswith('ssh://') and not params['secret_name']:
        raise _flux.refuse('bad_input', 'An ssh:// URL needs a deploy key: give ssh_private_key and known_hosts, or the '
                           'secret_name of an existing Secret.', option='ssh_private_key')
    return url, public_key


def check_existing_secret(client, params, url):
    name = params['secret_name']
    secret = client.get(SECRETS, name, params['namespace'])
    if secret is None:
        raise KubeError('missing_secret', 'the Secret %s/%s named by secret_name does not exist: give ssh_private_key and '
                        'known_hosts to create it' % (params['namespace'], name), call='Checking the deploy key')
    if url.startswith('ssh://'):
        missing = [key for key in ('identity', 'known_hosts') if not (secret.get('data') or {}).get(key)]
        if missing:
            raise KubeError('bad_secret', 'the Secret %s/%s has no %s, which Flux needs for an ssh:// URL'
                            % (params['namespace'], name, ' and '.join(missing)), call='Checking the deploy key')


def body(module):
    params = module.params
    started = time.monotonic()
    url, public_key = check_input(params)
    client = KubeClient.from_params(params)
    converge.require_flux(client, GIT_REPOSITORIES, KUSTOMIZATIONS)
    if not params['ssh_private_key'] and params['secret_name']:
        check_existing_secret(client, params, url)
    objects = _flux.sync_objects(dict(params, url=url), public_key)
    result, _outcomes = converge.apply_and_report(client, objects, module)
    ready = converge.wait_ready(client, converge.targets_of(objects), module, 'the GitOps repository')
    if ready is not None:
        result['ready'] = ready
        repository = client.get(GIT_REPOSITORIES, params['name'], params['namespace']) or {}
        result['revision'] = ((repository.get('status') or {}).get('artifact') or {}).get('revision')
    result['duration'] = round(time.monotonic() - started, 2)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    requires(module, *KUBE_API)
    run(module, body)


if __name__ == '__main__':
    main()
