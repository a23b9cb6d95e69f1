#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gitops_repo
short_description: Write the GitOps repository of the service catalogue and commit it
version_added: 0.2.0
description:
  - Checks the placement rules of the enabled services of O(catalogue) (critical services and their storage on the
    VPS site, storage-heavy ones at home, Vault one Raft replica per control plane) and refuses a broken rule with
    one sentence before anything is written.
  - Writes the repository layout C(clusters/<name>/), C(infrastructure/), C(apps/) with a C(HelmRepository) and a
    C(HelmRelease) per service (pinned chart version, C(dependsOn), remediation), Flux C(Kustomization)s (Gateway API
    CRDs first), cert-manager C(ClusterIssuer)s, the Gateway, and sealed credentials. Files are 0644; a file written
    by this module and no longer wanted is removed.
  - A sealed file is kept as it is when its values, target and certificate are unchanged, which a digest keyed with a
    random key kept in O(state_dir) (0600 in 0700, never in the repository) tells; values are never written in clear.
  - Commits the changes with git when O(commit), and pushes when O(push). A rerun with nothing new changes no file and
    makes no commit.
  - Supports check mode and diff (sealed files are shown as ciphertext).
author:
  - hybridops.talos maintainers (@hybridops)
requirements:
  - PyYAML
  - cryptography
  - the C(git) command
notes:
  - Vault's auto-unseal is left to the operator; the catalogue installs Vault sealed (docs/services.md).
options:
  path:
    description: The work tree of the GitOps repository; cloned from O(repo_url) when missing, C(git init) when not a repository.
    type: path
    required: true
  repo_url:
    description: The repository to clone into O(path) when O(path) does not exist.
    type: str
  branch:
    description: The branch to commit on and push.
    type: str
    default: main
  commit:
    description: Commit the changes.
    type: bool
    default: true
  push:
    description: Push the branch to O(remote) when it holds commits the remote lacks.
    type: bool
    default: false
  remote:
    description: The remote to push to.
    type: str
    default: origin
  commit_message:
    description: The commit message.
    type: str
    default: "hybridops.talos: update the GitOps repository"
  author_name:
    description: The commit's author and committer name.
    type: str
    default: hybridops.talos
  author_email:
    description: The commit's author and committer e-mail.
    type: str
    default: hybridops-talos@localhost
  cluster_name:
    description: The folder under C(clusters/).
    type: str
    required: true
  catalogue:
    description: The service catalogue (docs/services.md), service name to entry.
    type: dict
    required: true
  services:
    description: The enabled services, names of O(catalogue).
    type: list
    elements: str
    required: true
  site_label:
    description: The node label that names a node's site.
    type: str
    default: hybridops.io/site
  critical_site:
    description: The always-on VPS site, where critical services and their data go.
    type: str
    required: true
  home_site:
    description: The home site, where storage-heavy services and their data go.
    type: str
    required: true
  storage_classes:
    description: The site of each storage class, class name to site.
    type: dict
    required: true
  control_planes:
    description: How many control planes the cluster has.
    type: int
    default: 3
  flux_source:
    description: The Flux C(GitRepository) the Kustomizations read.
    type: str
    default: flux-system
  flux_namespace:
    description: The Flux namespace.
    type: str
    default: flux-system
  ingress:
    description: V(gateway-api) (through Cilium) or V(ingress-nginx), which is unmaintained since March 2026 and warns so.
    type: str
    choices: [gateway-api, ingress-nginx]
    default: gateway-api
  gateway_api_version:
    description: The Gateway API release whose standard CRDs are applied first.
    type: str
    default: v1.3.0
  gateway_api_url:
    description: The Gateway API Git repository.
    type: str
    default: https://github.com/kubernetes-sigs/gateway-api
  gateway_name:
    description: The Gateway's name.
    type: str
    default: main
  gateway_namespace:
    description: The Gateway's namespace.
    type: str
    default: gateway
  gateway_hostname:
    description: The hostname of the Gateway's HTTPS listener; empty gives an HTTP listener only.
    type: str
    default: ""
  acme_email:
    description: The ACME account e-mail; empty writes no ClusterIssuer.
    type: str
    default: ""
  acme_server:
    description: The ACME directory.
    type: str
    default: https://acme-v02.api.letsencrypt.org/directory
  dns01_nameserver:
    description: The PowerDNS server (C(host:port)) for RFC2136 DNS-01; empty writes no DNS-01 issuer.
    type: str
    default: ""
  dns01_tsig_key_name:
    description: The TSIG key name PowerDNS accepts updates with.
    type: str
    default: ""
  dns01_tsig_algorithm:
    description: The TSIG algorithm.
    type: str
    default: HMACSHA256
  sealed_secrets:
    description:
      - Credentials to seal into the repository. Each goes to the folder of the service of its namespace.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The Secret's name.
        type: str
        required: true
      namespace:
        description: The Secret's namespace, that of an enabled service.
        type: str
        required: true
      values:
        description: The clear values, key to string.
        type: dict
        required: true
      scope:
        description: The sealing scope.
        type: str
        choices: [strict, namespace-wide, cluster-wide]
        default: strict
  certificate:
    description: The Sealed Secrets controller's certificate (PEM); required when O(sealed_secrets) is not empty.
    type: str
  state_dir:
    description: Where the key and digests that keep unchanged sealed files live (0700; files 0600).
    type: path
    required: true
attributes:
  check_mode:
    description: Everything is checked and rendered; nothing is written, committed or pushed, and C(changed) says whether it would be.
    support: full
  diff_mode:
    description: Each file before and after (sealed files as ciphertext).
    support: full
  idempotent:
    description: A rerun with the same input changes no file and makes no commit.
    support: full
  action_group:
    support: none
    description: It contacts no API, so it is in no action group.
    membership: []
"""

EXAMPLES = r"""
- name: Write and commit the GitOps repository
  hybridops.talos.gitops_repo:
    path: /srv/gitops
    cluster_name: hybrid
    catalogue: "{{ gitops_catalogue }}"
    services: [cert-manager, vault]
    critical_site: fsn1
    home_site: home
    storage_classes: {hcloud-volumes: fsn1, proxmox-zfs: home}
    state_dir: ~/.local/share/hybridops-talos/gitops-hybrid
"""

RETURN = r"""
changed_files:
  description: The files written or removed, relative to O(path).
  returned: always
  type: list
  elements: str
commit:
  description: The commit made, or null.
  returned: always
  type: str
pushed:
  description: Whether the branch was pushed.
  returned: always
  type: bool
placement:
  description: The planned placement, service to site, control planes, replicas and storage class.
  returned: always
  type: list
  elements: dict
placement_lines:
  description: The planned placement as lines for people.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError, run
from ansible_collections.hybridops.talos.plugins.module_utils import _gitops_layout as layout
from ansible_collections.hybridops.talos.plugins.module_utils import _gitops_write as write
from ansible_collections.hybridops.talos.plugins.module_utils import _service_catalogue as catalogue

NGINX_WARNING = ('ingress-nginx is unmaintained since March 2026 (no further fixes, kubernetes.io/blog/2025/11/11/'
                 'ingress-nginx-retirement); the Gateway API through Cilium (ingress gateway-api) is the maintained choice.')


def _secret_files(module, secret_dirs):
    found = []
    for item in module.params['sealed_secrets']:
        folder = secret_dirs.get(item['namespace'])
        if folder is None:
            raise ModuleError('bad_input', 'Sealed secret %s is for namespace %s, where no enabled service runs.'
                              % (item['name'], item['namespace']))
        found.append(('%s/%s.sealed.yaml' % (folder, item['name']), item))
    if found and not module.params['certificate']:
        raise ModuleError('bad_input', 'Option certificate (the Sealed Secrets certificate) is required to seal credentials.')
    return found


def body(module):
    p = module.params
    services = list(p['services'])
    if p['ingress'] == 'ingress-nginx':
        module.warn(NGINX_WARNING)
        if 'ingress-nginx' not in services:
            services.append('ingress-nginx')
    sites = {'critical': p['critical_site'], 'home': p['home_site']}
    planned, table = catalogue.plan(p['catalogue'], services, sites, p['storage_classes'], p['control_planes'], p['site_label'])
    files, secret_dirs = layout.layout(planned, p)
    secrets = _secret_files(module, secret_dirs)
    texts = {path: write.dump(objects) for path, objects in files.items()}
    texts.update({path: write.dump(objects) for path, objects in
                  layout.with_kustomize_files(list(files) + [path for path, _item in secrets]).items()})
    repo = write.Repository(module, p['path'])
    repo.ensure(p['repo_url'], p['branch'], check=module.check_mode)
    sealer = write.Sealer(p['state_dir'], p['certificate'], module.check_mode) if secrets else None
    pending_state = {}
    for path, item in secrets:
        text, state = sealer.text(path, item, repo.read(path))
        texts[path] = text
        pending_state[path] = state
    changes, diffs = repo.plan(texts)
    result = dict(changed=bool(changes), changed_files=sorted(changes), commit=None, pushed=False, placement=table,
                  placement_lines=catalogue.report_lines(table))
    if module._diff:
        result['diff'] = diffs
    if module.check_mode:
        return result
    repo.apply(changes, texts)
    if sealer:
        sealer.save(pending_state)
    if p['commit']:
        result['commit'] = repo.commit(p['commit_message'], p['author_name'], p['author_email'])
        result['changed'] = result['changed'] or bool(result['commit'])
    if p['push']:
        result['pushed'] = repo.push(p['remote'], p['branch'])
        result['changed'] = result['changed'] or result['pushed']
    return result


def main():
    secret = dict(name=dict(type='str', required=True), namespace=dict(type='str', required=True),
                  values=dict(type='dict', required=True, no_log=True),
                  scope=dict(type='str', default='strict', choices=['strict', 'namespace-wide', 'cluster-wide']))
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True), repo_url=dict(type='str'), branch=dict(type='str', default='main'),
            commit=dict(type='bool', default=True), push=dict(type='bool', default=False),
            remote=dict(type='str', default='origin'),
            commit_message=dict(type='str', default='hybridops.talos: update the GitOps repository'),
            author_name=dict(type='str', default='hybridops.talos'),
            author_email=dict(type='str', default='hybridops-talos@localhost'),
            cluster_name=dict(type='str', required=True), catalogue=dict(type='dict', required=True),
            services=dict(type='list', elements='str', required=True),
            site_label=dict(type='str', default='hybridops.io/site'),
            critical_site=dict(type='str', required=True), home_site=dict(type='str', required=True),
            storage_classes=dict(type='dict', required=True), control_planes=dict(type='int', default=3),
            flux_source=dict(type='str', default='flux-system'), flux_namespace=dict(type='str', default='flux-system'),
            ingress=dict(type='str', default='gateway-api', choices=['gateway-api', 'ingress-nginx']),
            gateway_api_version=dict(type='str', default='v1.3.0'),
            gateway_api_url=dict(type='str', default='https://github.com/kubernetes-sigs/gateway-api'),
            gateway_name=dict(type='str', default='main'), gateway_namespace=dict(type='str', default='gateway'),
            gateway_hostname=dict(type='str', default=''), acme_email=dict(type='str', default=''),
            acme_server=dict(type='str', default='https://acme-v02.api.letsencrypt.org/directory'),
            dns01_nameserver=dict(type='str', default=''), dns01_tsig_key_name=dict(type='str', default=''),
            dns01_tsig_algorithm=dict(type='str', default='HMACSHA256'),
            sealed_secrets=dict(type='list', elements='dict', default=[], options=secret, no_log=False),  # values is no_log
            certificate=dict(type='str'), state_dir=dict(type='path', required=True),
        ),
        supports_check_mode=True,
    )
    run(module, body)


if __name__ == '__main__':
    main()
