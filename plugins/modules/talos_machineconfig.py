#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: talos_machineconfig
short_description: Render, patch and validate a Talos machine config natively (no talosctl)
version_added: 0.1.0
description:
  - Renders the C(controlplane) or C(worker) machine config of one node from a Talos secrets bundle, for
    Talos config contract V(v1.9) or V(v1.13), deterministically (the same inputs give the same bytes).
  - "This design's defaults: C(cni: none), kube-proxy disabled, KubeSpan and discovery enabled, the KubeSpan
    MTU derived from O(underlay_mtu), node labels for role, site and topology."
  - Applies cluster, role and node patches in that order, in both Talos formats (strategic merge and
    RFC 6902), with Talos' semantics.
  - Validates every YAML document against the JSON schema Talos publishes for the contract, then checks the
    values Talos needs that the schema cannot express. A contract newer than O(talos_version) is refused,
    since the node would reject the config with "unknown keys found during decoding".
  - Writes the config to O(dest) as 0600. The result never holds the config in clear unless the task runs
    with C(no_log) and asks for it with O(return_content); the diff shows it with secrets redacted.
  - O(state=applied) also applies the config to the node O(node) over the Talos API. A node in maintenance
    mode takes it over the unauthenticated connection Talos offers then, a configured node with the client
    certificate of O(talosconfig).
  - Talos' own dry run decides whether anything changes, and C(No changes.) means no change. Check mode stops
    after the dry run, and C(--diff) shows Talos' config diff with every secret redacted.
  - With O(wait=true) the module returns once the node answers over mutual TLS and runs exactly this config.
author:
  - hybridops.talos maintainers (@hybridops)
requirements:
  - cryptography
  - jsonschema
  - PyYAML
  - grpclib and protobuf, for O(state=applied)
extends_documentation_fragment:
  - hybridops.talos.talos_api
  - hybridops.talos.talos_api.wait
  - hybridops.talos.talos_api.action_group
options:
  state:
    description:
      - V(rendered) renders and validates the config, and writes it when O(dest) is given.
      - V(applied) also applies it to O(node).
    type: str
    choices: [rendered, applied]
    default: rendered
  secrets:
    description:
      - The Talos secrets bundle (see M(hybridops.talos.talos_secrets)). Must be mode 0600.
    type: path
    required: true
  secrets_age_identity:
    description:
      - age identity file that decrypts O(secrets) when it is age-encrypted.
    type: path
  dest:
    description:
      - Where to write the rendered config (mode 0600; its folder is created 0700 when missing).
      - Without it the config is only rendered and validated.
    type: path
  return_content:
    description:
      - Return the rendered config in clear as RV(content). Only allowed when the task has C(no_log=true).
    type: bool
    default: false
  role:
    description: Talos machine type of the node.
    type: str
    required: true
    choices: [controlplane, worker]
  cluster_name:
    description: Name of the cluster (a DNS label).
    type: str
    required: true
  cluster_endpoint:
    description:
      - The Kubernetes API endpoint of the cluster, an C(https://) URL (C(cluster.controlPlane.endpoint) of the
        config), for example a DNS name or a VIP in front of the control planes.
    type: str
    required: true
  talos_version:
    description:
      - The Talos version the node runs, for example V(v1.9.6). Sets the default installer image and the
        newest contract the node accepts.
    type: str
    required: true
  contract:
    description:
      - Talos config contract to render for, V(v1.9) or V(v1.13). Defaults to the newest known contract
        that O(talos_version) accepts. A contract newer than O(talos_version) is refused.
    type: str
  kubernetes_version:
    description: Kubernetes version, for example V(1.32.3).
    type: str
    required: true
  hostname:
    description: Host name of the node. Without it Talos picks a stable one.
    type: str
  site:
    description: Site of the node, written as the node label C(hybridops.io/site).
    type: str
  provider:
    description:
      - Where the node runs, written as the node label C(hybridops.io/provider). V(hcloud) also sets
        C(instance.hetzner.cloud/provided-by=cloud), the label the Hetzner CSI driver is kept to.
    type: str
    choices: [hcloud, proxmox]
  region:
    description:
      - Value of the node label C(topology.kubernetes.io/region) (for Proxmox, the cluster name, which the Proxmox CSI
        plugin matches against its config; for Hetzner, the location).
    type: str
  zone:
    description: Value of the node label C(topology.kubernetes.io/zone) (for Proxmox, the PVE node).
    type: str
  node_labels:
    description: More node labels.
    type: dict
    default: {}
  install_disk:
    description: Disk Talos installs to.
    type: str
    default: /dev/sda
  install_image:
    description: Installer image. Defaults to C(ghcr.io/siderolabs/installer:<talos_version>).
    type: str
  cert_sans:
    description: Extra subject alternative names for the Talos API and (on control planes) the Kubernetes API.
    type: list
    elements: str
    default: []
  node_ip_subnets:
    description: Subnets the kubelet picks the node IP from, for multihomed nodes (C(!) excludes).
    type: list
    elements: str
    default: []
  etcd_advertised_subnets:
    description: Subnets etcd advertises its peer address from (control planes only).
    type: list
    elements: str
    default: []
  underlay_mtu:
    description:
      - MTU of the network KubeSpan runs over. The KubeSpan MTU is this minus 80 (1500 gives 1420,
        a Hetzner private network's 1450 gives 1370).
    type: int
    default: 1500
  pod_subnets:
    description: Pod subnets.
    type: list
    elements: str
    default: [10.244.0.0/16]
  service_subnets:
    description: Service subnets.
    type: list
    elements: str
    default: [10.96.0.0/12]
  dns_domain:
    description: Cluster DNS domain.
    type: str
    default: cluster.local
  cilium:
    description:
      - Cilium as the CNI, installed the way Talos documents for a cluster without one - an inline manifest in the
        control-plane configs (C(cluster.inlineManifests), named C(cilium-install)) whose Job runs C(cilium install)
        on a control plane once the API is up. Worker configs never carry it.
      - Talos creates the objects of an inline manifest once and never updates them, so changing these values on a
        running cluster changes nothing in it; M(hybridops.talos.cilium_install_plan) refuses such a change and points
        at Helm or Flux for changing a running Cilium (docs/kubernetes.md).
    type: dict
    suboptions:
      install:
        description: Put the install manifest into the config (control planes only).
        type: bool
        default: false
      version:
        description: The Cilium version to install (pinned, never V(latest)).
        type: str
        default: 1.18.3
      cli_image:
        description: The cilium-cli image the Job runs (a pinned tag or digest, never V(latest)).
        type: str
        default: quay.io/cilium/cilium-cli:v0.18.9
      mtu:
        description:
          - Cilium's C(MTU) value, the MTU of its devices (which sit on KubeSpan). Defaults to the KubeSpan MTU,
            O(underlay_mtu) - 80; pods then get that minus 50 (VXLAN).
        type: int
      values:
        description:
          - More Helm values for the chart, nested or with dotted names (V(hubble.enabled)). The values that this
            design or the MTU budget fix (C(routingMode), C(tunnelProtocol), C(MTU), C(k8sServiceHost),
            C(k8sServicePort), C(kubeProxyReplacement)) are refused.
        type: dict
        default: {}
  node:
    description:
      - The Talos API address of the node to apply the config to, V(host) or V(host:port) (port 50000 by default).
        Required with O(state=applied).
      - Reached directly, or through O(endpoints) when they are given; a node in maintenance mode is always reached
        directly, since maintenance mode answers only on the node itself.
    type: str
  talosconfig:
    description:
      - talosconfig with the OS CA and an C(os:admin) client certificate, for O(state=applied).
      - Defaults to E(TALOSCONFIG), then E(TALOS_HOME)C(/config), then C(~/.talos/config), as C(talosctl) looks for it.
      - Only the credentials are read from it; the context's C(endpoints) and C(nodes) are not used.
    type: path
  apply_mode:
    description:
      - How the node takes a changed config. V(auto) lets Talos reboot only when the change needs it;
        V(no_reboot) fails when it would need one; V(reboot) always reboots; V(staged) applies at the next
        reboot; V(try) applies without reboot and reverts after O(try_timeout) seconds;
        V(staged_if_needing_reboot) stages changes that need a reboot and applies the others at once.
      - A node in maintenance mode always takes the config with V(auto) (it installs and reboots).
    type: str
    choices: [auto, no_reboot, reboot, staged, try, staged_if_needing_reboot]
    default: auto
  try_timeout:
    description: Seconds after which a V(try) apply is reverted.
    type: float
    default: 60
  allow_maintenance:
    description:
      - Apply to a node found in maintenance mode. Set V(false) for nodes that must already be configured
        (adopting a running cluster); a node in maintenance mode then fails the task instead.
    type: bool
    default: true
  wait:
    description:
      - With O(state=applied), wait until the node answers over mutual TLS and runs exactly this config (not
        for V(staged)), polling with waits that double from half a second up to 5 seconds.
    type: bool
    default: true
  cluster_patches:
    description:
      - Patches for every node, applied first. Each is a mapping (strategic merge), a list of RFC 6902
        operations, YAML or JSON text (several documents allowed), or C(@path) to a file (relative paths
        are looked up like other files of the play).
    type: list
    elements: raw
    default: []
  role_patches:
    description: Patches for every node of this role, applied after O(cluster_patches).
    type: list
    elements: raw
    default: []
  node_patches:
    description: Patches for this node only, applied last.
    type: list
    elements: raw
    default: []
  schema_dir:
    description:
      - Folder with the Talos JSON schemas (C(<contract>.json) or C(<talos tag>/config.schema.json)).
        Defaults to the schemas shipped in the collection; the environment variable
        C(HYBRIDOPS_TALOS_SCHEMA_DIR) is used when set.
    type: path
attributes:
  check_mode:
    support: full
    description: In check mode the config is rendered and validated but not written.
  diff_mode:
    support: full
    description: The diff compares the file with the new config, every secret value replaced by C(<redacted>).
  idempotent:
    support: full
    description: The file is rewritten only when its bytes differ from the rendered config.
  action:
    support: full
    description: An action plugin fills O(schema_dir) and resolves C(@file) patch paths on the controller.
  action_group:
    description:
      - Use C(group/hybridops.talos.talos) in O(ignore:module_defaults) to set the Talos API options
        (O(talosconfig), O(context), O(endpoints), O(timeout)) once for every module that reaches the Talos API.
      - The options only matter with O(state=applied).
    support: full
    membership:
      - hybridops.talos.talos
seealso:
  - module: hybridops.talos.talos_secrets
  - module: hybridops.talos.talos_talosconfig
"""

EXAMPLES = r"""
- name: Render the config of a Hetzner control plane
  hybridops.talos.talos_machineconfig:
    secrets: ~/.local/share/hybridops-talos/hybrid/secrets.yaml
    dest: ~/.local/share/hybridops-talos/hybrid/vps-0.yaml
    role: controlplane
    cluster_name: hybrid
    cluster_endpoint: https://k8s.example.net:6443
    talos_version: v1.9.6
    kubernetes_version: 1.32.3
    hostname: vps-0
    site: vps
    underlay_mtu: 1450
    cert_sans: [k8s.example.net]
    node_ip_subnets: [10.0.0.0/16]
    etcd_advertised_subnets: [10.0.0.0/16]
    install_disk: /dev/sda

- name: Render a home worker for the v1.13 contract, with patches at three levels
  hybridops.talos.talos_machineconfig:
    secrets: ~/.local/share/hybridops-talos/hybrid/secrets.yaml
    dest: ~/.local/share/hybridops-talos/hybrid/home-w-0.yaml
    role: worker
    cluster_name: hybrid
    cluster_endpoint: https://k8s.example.net:6443
    talos_version: v1.13.2
    kubernetes_version: 1.35.0
    hostname: home-w-0
    site: home
    region: pve-home
    zone: pve1
    install_disk: /dev/vda
    cluster_patches:
      - |
        apiVersion: v1alpha1
        kind: TimeSyncConfig
        ntp:
          servers: [time.cloudflare.com]
    role_patches:
      - "@patches/worker-sysctls.yaml"  # looked up in files/ beside the playbook or role
    node_patches:
      - machine:
          nodeTaints:
            storage: zfs:NoSchedule

- name: Render a v1.9 worker and taint it with an RFC 6902 patch
  hybridops.talos.talos_machineconfig:
    secrets: ~/.local/share/hybridops-talos/hybrid/secrets.yaml
    dest: ~/.local/share/hybridops-talos/hybrid/vps-w-0.yaml
    role: worker
    cluster_name: hybrid
    cluster_endpoint: https://k8s.example.net:6443
    talos_version: v1.9.6
    kubernetes_version: 1.32.3
    hostname: vps-w-0
    site: vps
    node_patches:
      - - op: add
          path: /machine/nodeTaints
          value: {dedicated: "ingress:NoSchedule"}

- name: Render in memory only and keep the clear config in a variable for a later step
  hybridops.talos.talos_machineconfig:
    secrets: ~/.local/share/hybridops-talos/hybrid/secrets.yaml
    role: worker
    cluster_name: hybrid
    cluster_endpoint: https://k8s.example.net:6443
    talos_version: v1.9.6
    kubernetes_version: 1.32.3
    return_content: true
  no_log: true
  register: home_w_1_config
"""

RETURN = r"""
dest:
  description: Where the config was written.
  returned: when O(dest) is given
  type: str
  sample: /srv/ops/secrets/talos/vps-0.yaml
contract:
  description: The config contract the config was rendered for.
  returned: success
  type: str
  sample: v1.9
documents:
  description: The kind of each YAML document of the config (V(v1alpha1) for the main one).
  returned: success
  type: list
  elements: str
  sample: [v1alpha1, HostnameConfig, KubeSpanConfig]
kubespan_mtu:
  description: The KubeSpan MTU written into the config.
  returned: success
  type: int
  sample: 1370
sha256:
  description: SHA-256 of the rendered config bytes, to compare runs without showing the config.
  returned: success
  type: str
redacted_config:
  description: The rendered config with every secret value replaced by C(<redacted>).
  returned: success
  type: str
content:
  description: The rendered config in clear.
  returned: when O(return_content=true) (which needs C(no_log=true))
  type: str
node:
  description: The node the config was applied to.
  returned: O(state=applied)
  type: str
maintenance:
  description: Whether the node was in maintenance mode (no config yet).
  returned: O(state=applied)
  type: bool
mode:
  description: The apply mode used (after resolving V(staged_if_needing_reboot)).
  returned: O(state=applied) and the config changed
  type: str
needs_reboot:
  description: Whether the change needed a reboot, by Talos' dry run.
  returned: O(state=applied) and the config changed
  type: bool
mode_details:
  description: Talos' answer to the apply, secrets redacted.
  returned: O(state=applied) and the config was applied
  type: str
duration:
  description: Seconds spent waiting for the node to run the new config.
  returned: O(state=applied), the config was applied and O(wait=true)
  type: float
failure:
  description: The structured cause of a failure (code, message, details such as the config path).
  returned: failed
  type: dict
"""

import base64
import hashlib
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError, run
from ansible_collections.hybridops.talos.plugins.module_utils._requires import check as check_libraries
from ansible_collections.hybridops.talos.plugins.module_utils._talos import files, redact
from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets as talos_secrets
from ansible_collections.hybridops.talos.plugins.module_utils._talos.apply import APPLY_ARGS, apply_config
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import Connection
from ansible_collections.hybridops.talos.plugins.module_utils._talos.render import render

# What the config is made of: every one of these options goes to the renderer, and nothing else does.
RENDER_ARGS = dict(
    role=dict(type='str', required=True, choices=['controlplane', 'worker']),
    cluster_name=dict(type='str', required=True),
    cluster_endpoint=dict(type='str', required=True),
    talos_version=dict(type='str', required=True),
    contract=dict(type='str'),
    kubernetes_version=dict(type='str', required=True),
    hostname=dict(type='str'),
    site=dict(type='str'),
    provider=dict(type='str', choices=['hcloud', 'proxmox']),
    region=dict(type='str'),
    zone=dict(type='str'),
    node_labels=dict(type='dict', default={}),
    install_disk=dict(type='str', default='/dev/sda'),
    install_image=dict(type='str'),
    cert_sans=dict(type='list', elements='str', default=[]),
    node_ip_subnets=dict(type='list', elements='str', default=[]),
    etcd_advertised_subnets=dict(type='list', elements='str', default=[]),
    underlay_mtu=dict(type='int', default=1500),
    pod_subnets=dict(type='list', elements='str', default=['10.244.0.0/16']),
    service_subnets=dict(type='list', elements='str', default=['10.96.0.0/12']),
    dns_domain=dict(type='str', default='cluster.local'),
    cluster_patches=dict(type='list', elements='raw', default=[]),
    role_patches=dict(type='list', elements='raw', default=[]),
    node_patches=dict(type='list', elements='raw', default=[]),
    schema_dir=dict(type='path'),
    cilium=dict(type='dict', options=dict(
        install=dict(type='bool', default=False),
        version=dict(type='str', default='1.18.3'),
        cli_image=dict(type='str', default='quay.io/cilium/cilium-cli:v0.18.9'),
        mtu=dict(type='int'),
        values=dict(type='dict', default={}),
    )),
)


def argument_spec():
    return dict(
        APPLY_ARGS,
        state=dict(type='str', choices=['rendered', 'applied'], default='rendered'),
        secrets=dict(type='path', required=True, no_log=False),
        secrets_age_identity=dict(type='path', no_log=False),
        dest=dict(type='path'),
        return_content=dict(type='bool', default=False),
        **RENDER_ARGS
    )


def machineconfig(module):
    params = module.params
    check_libraries('cryptography', 'jsonschema', 'PyYAML', *(('grpclib', 'protobuf') if params['state'] == 'applied' else ()))
    if params['return_content'] and not module.no_log:
        raise ModuleError('bad_input', 'return_content needs no_log: true on the task, so that the config never shows in clear',
                          option='return_content')
    data = files.read_file(params['secrets'], 'secrets bundle', private=True, age_identity=params['secrets_age_identity'],
                           secrets_folder=True)
    bundle = talos_secrets.parse_bundle(data, params['secrets'])
    secret_values = talos_secrets.secret_values(bundle)
    if not params['return_content']:
        redact.register_secrets(module, secret_values)
    rendered = render({name: params[name] for name in RENDER_ARGS}, bundle)
    text = rendered.text
    result = {'changed': False, 'contract': rendered.contract, 'documents': rendered.kinds,
              'kubespan_mtu': rendered.kubespan_mtu, 'sha256': hashlib.sha256(text.encode('utf-8')).hexdigest(),
              'redacted_config': redact.redact(text, secret_values)}
    if params['return_content']:
        result['content'] = text
    dest = params['dest']
    if params['state'] == 'applied':
        with Connection(params) as connection:
            check_same_os_ca(connection, bundle, params)
            applied = apply_config(module, connection, text.encode('utf-8'), secret_values)
        if dest:
            write_rendered(module, dest, text, secret_values, result)
        file_changed = result['changed']
        result.update(applied)
        result['changed'] = file_changed or applied['changed']
        return result
    if not dest:
        return result
    return write_rendered(module, dest, text, secret_values, result)


def check_same_os_ca(connection, bundle, params):
    """Refuse a talosconfig of another cluster before anything is sent: its CA must be the bundle's OS CA."""
    bundle_ca = base64.b64decode(bundle['certs']['os']['crt']).strip()
    if connection.credentials.ca.strip() != bundle_ca:
        raise ModuleError('wrong_ca', 'the talosconfig %s trusts another OS CA than the secrets bundle %s, so it belongs to '
                          'another cluster; use the talosconfig made from this bundle'
                          % (connection.credentials.source, params['secrets']), node=params['node'], call='ApplyConfiguration')


def write_rendered(module, dest, text, secret_values, result):
    """Write the rendered config to ``dest`` when it differs; note the change and the redacted diff."""
    result['dest'] = dest
    before = None
    if os.path.exists(dest):
        with open(dest, 'rb') as handle:
            before = handle.read().decode('utf-8', 'replace')
    wrong_mode = before is not None and files.mode_of(dest) != 0o600
    if before != text or wrong_mode:
        result['changed'] = True
        if not module.check_mode:
            files.write_private_file(dest, text.encode('utf-8'), 'machine config')
    if module._diff and before != text and 'diff' not in result:
        result['diff'] = redact.text_diff(dest, before, text, secret_values)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[('state', 'applied', ['node'])],
                           supports_check_mode=True)
    run(module, machineconfig)


if __name__ == '__main__':
    main()
