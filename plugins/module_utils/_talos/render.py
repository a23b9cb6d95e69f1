# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render Talos machine configs from a secrets bundle and node facts, patch and validate them.

The output is deterministic (no timestamps, fixed key order): the same inputs give the same bytes.
Defaults of this design on every node: ``cni: none``, kube-proxy disabled, KubeSpan and discovery
enabled, the KubeSpan MTU derived from the underlay MTU (minus the 80 bytes KubeSpan adds), node
labels for role, site and topology. Contract v1.9 writes one v1alpha1 document; contract v1.13
moves hostname and KubeSpan into their own documents (``HostnameConfig``, ``KubeSpanConfig``),
as Talos 1.13 does.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .._kubespan.mtu import KUBESPAN_OVERHEAD
from .._cilium import CLI_IMAGE as CILIUM_CLI_IMAGE, VERSION as CILIUM_VERSION, CiliumError, manifest as cilium_install
from .contracts import CONTRACTS, contract_name, parse_version, resolve_contract
from .errors import TalosConfigError
from .merge_rules import MergeRules
from .normalise import normalise_documents
from .patch import LEGACY, apply_patches, identity, load_patch
from .schema import load_schema
from .secrets import TOKEN_RE
from .validation import check_documents
from .yamlio import dump_documents

ROLES = ('controlplane', 'worker')
MIN_KUBESPAN_MTU = 1280
LABEL_PREFIX = 'hybridops.io'
_DNS_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
_HOSTNAME = re.compile(r'^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')

DEFAULTS = {
    'role': None, 'cluster_name': None, 'cluster_endpoint': None, 'talos_version': None, 'contract': None,
    'kubernetes_version': None, 'hostname': None, 'site': None, 'provider': None, 'region': None, 'zone': None,
    'install_disk': '/dev/sda', 'install_image': None, 'cert_sans': [], 'node_ip_subnets': [],
    'etcd_advertised_subnets': [], 'underlay_mtu': 1500, 'pod_subnets': ['10.244.0.0/16'],
    'service_subnets': ['10.96.0.0/12'], 'dns_domain': 'cluster.local', 'node_labels': {},
    'cluster_patches': [], 'role_patches': [], 'node_patches': [], 'patch_dir': None, 'schema_dir': None,
    'cilium': None,
}

_ADMISSION_CONTROL = [{
    'name': 'PodSecurity',
    'configuration': {
        'apiVersion': 'pod-security.admission.config.k8s.io/v1alpha1',
        'defaults': {'audit': 'restricted', 'audit-version': 'latest', 'enforce': 'baseline',
                     'enforce-version': 'latest', 'warn': 'restricted', 'warn-version': 'latest'},
        'exemptions': {'namespaces': ['kube-system'], 'runtimeClasses': [], 'usernames': []},
        'kind': 'PodSecurityConfiguration',
    },
}]
_AUDIT_POLICY = {'apiVersion': 'audit.k8s.io/v1', 'kind': 'Policy', 'rules': [{'level': 'Metadata'}]}


class Rendered:
    """A rendered config: ``documents`` (data), ``text`` (YAML), ``contract`` and ``kubespan_mtu``."""

    def __init__(self, documents, text, contract, kubespan_mtu):
        self.documents = documents
        self.text = text
        self.contract = contract
        self.kubespan_mtu = kubespan_mtu

    @property
    def kinds(self):
        return [doc.get('kind', 'v1alpha1') for doc in self.documents]


def _unique(values):
    seen, out = set(), []
    for value in values:
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out


def _check_subnets(values, option, allow_negation=False):
    for value in values:
        text = value[1:] if allow_negation and value.startswith('!') else value
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise TalosConfigError('%s: %r is not a subnet in CIDR form such as 10.0.0.0/8.' % (option, value),
                                   reason='bad_input', option=option) from None
    return list(values)


def check_spec(spec):
    """Check the node facts before anything is rendered; return them completed with defaults."""
    spec = dict(DEFAULTS, **{k: v for k, v in spec.items() if v is not None})
    if spec['role'] not in ROLES:
        raise TalosConfigError('role %r is unknown: use controlplane or worker.' % (spec['role'],), reason='bad_input', option='role')
    name = spec['cluster_name']
    if not isinstance(name, str) or not _DNS_LABEL.match(name):
        raise TalosConfigError('cluster_name %r is not a DNS label (lower-case letters, digits and -).' % (name,),
                               reason='bad_input', option='cluster_name')
    endpoint = spec['cluster_endpoint'] or ''
    parts = urlsplit(endpoint)
    if parts.scheme != 'https' or not parts.hostname:
        raise TalosConfigError('cluster_endpoint %r is not an https:// URL such as https://cp.example.net:6443: Talos '
                               'requires the Kubernetes API endpoint over https.' % endpoint, reason='bad_input',
                               option='cluster_endpoint')
    if not spec['talos_version']:
        raise TalosConfigError('talos_version (the Talos version the node runs, e.g. v1.9.6) is required.',
                               reason='bad_input', option='talos_version')
    spec['contract_key'] = resolve_contract(spec['contract'], spec['talos_version'])
    version = parse_version(spec['talos_version'])
    spec['talos_version'] = 'v%d.%d.%d' % version
    if not spec['kubernetes_version']:
        raise TalosConfigError('kubernetes_version (e.g. 1.32.3) is required.', reason='bad_input', option='kubernetes_version')
    spec['kubernetes_version'] = '%d.%d.%d' % parse_version(spec['kubernetes_version'], 'kubernetes_version')
    if spec['hostname'] is not None and not _HOSTNAME.match(str(spec['hostname'])):
        raise TalosConfigError('hostname %r is not a valid lower-case host name.' % (spec['hostname'],),
                               reason='bad_input', option='hostname')
    if not str(spec['install_disk']).startswith('/dev/'):
        raise TalosConfigError('install_disk %r is not a device path such as /dev/sda.' % (spec['install_disk'],),
                               reason='bad_input', option='install_disk')
    mtu = spec['underlay_mtu']
    if not isinstance(mtu, int) or isinstance(mtu, bool) or mtu - KUBESPAN_OVERHEAD < MIN_KUBESPAN_MTU or mtu > 9216:
        raise TalosConfigError('underlay_mtu %r leaves no room for KubeSpan: it needs %d to 9216 so that the KubeSpan MTU '
                               '(underlay - %d) is at least %d.' % (mtu, MIN_KUBESPAN_MTU + KUBESPAN_OVERHEAD,
                                                                    KUBESPAN_OVERHEAD, MIN_KUBESPAN_MTU),
                               reason='bad_input', option='underlay_mtu')
    _check_subnets(spec['node_ip_subnets'], 'node_ip_subnets', allow_negation=True)
    _check_subnets(spec['etcd_advertised_subnets'], 'etcd_advertised_subnets', allow_negation=True)
    _check_subnets(spec['pod_subnets'], 'pod_subnets')
    _check_subnets(spec['service_subnets'], 'service_subnets')
    if spec['role'] == 'worker' and spec['etcd_advertised_subnets']:
        raise TalosConfigError('etcd_advertised_subnets is for control-plane nodes: workers run no etcd.',
                               reason='bad_input', option='etcd_advertised_subnets')
    spec['cilium_manifest'] = cilium_manifest(spec)
    return spec


def cilium_manifest(spec):
    """The Cilium install Job as an inline manifest, for control planes when ``cilium.install`` is set; else None.

    Identical on every control plane (it depends on cluster-wide values only), as Talos requires.
    """
    options = dict(spec['cilium'] or {})
    if not options.get('install') or spec['role'] != 'controlplane':
        return None
    mtu = options.get('mtu') or spec['underlay_mtu'] - KUBESPAN_OVERHEAD
    try:
        return cilium_install(version=options.get('version') or CILIUM_VERSION, cli_image=options.get('cli_image') or CILIUM_CLI_IMAGE,
                              mtu=mtu, extra=options.get('values') or {})
    except CiliumError as exc:
        raise TalosConfigError(str(exc), reason='bad_input', option=exc.option) from None


def _pair(bundle, name, with_key):
    pair = bundle['certs'][name]
    return {'crt': pair['crt'], 'key': pair['key'] if with_key else ''}


def node_labels(spec):
    """``machine.nodeLabels``: this design's role and site labels (``hybridops.io/...``), Hetzner's provided-by label on
    Hetzner servers, the topology labels, then the user's. Every node says where it runs before any CSI starts: the
    Hetzner CSI node plugin is kept to ``instance.hetzner.cloud/provided-by=cloud`` (the cloud controller that would set
    it is not run in a hybrid cluster), the Proxmox CSI plugin reads region (PVE cluster) and zone (PVE node)."""
    labels = {}
    if spec['role'] == 'controlplane':
        labels['node.kubernetes.io/exclude-from-external-load-balancers'] = ''
    labels['%s/role' % LABEL_PREFIX] = spec['role']
    if spec['site']:
        labels['%s/site' % LABEL_PREFIX] = str(spec['site'])
    if spec['provider']:
        labels['%s/provider' % LABEL_PREFIX] = spec['provider']
    if spec['provider'] == 'hcloud':
        labels['instance.hetzner.cloud/provided-by'] = 'cloud'
    if spec['region']:
        labels['topology.kubernetes.io/region'] = str(spec['region'])
    if spec['zone']:
        labels['topology.kubernetes.io/zone'] = str(spec['zone'])
    for key in sorted(spec['node_labels']):
        labels[key] = str(spec['node_labels'][key])
    return labels


def base_documents(spec, bundle):
    """The unpatched documents for one node."""
    controlplane = spec['role'] == 'controlplane'
    multidoc = CONTRACTS[spec['contract_key']]['multidoc_network']
    k8s = spec['kubernetes_version']
    host = urlsplit(spec['cluster_endpoint']).hostname
    mtu = spec['underlay_mtu'] - KUBESPAN_OVERHEAD
    cert_sans = _unique(spec['cert_sans'])

    kubelet = {'image': 'ghcr.io/siderolabs/kubelet:v%s' % k8s, 'defaultRuntimeSeccompProfileEnabled': True,
               'disableManifestsDirectory': True}
    if spec['node_ip_subnets']:
        kubelet['nodeIP'] = {'validSubnets': list(spec['node_ip_subnets'])}
    machine = {'type': spec['role'], 'token': bundle['trustdinfo']['token'], 'ca': _pair(bundle, 'os', controlplane),
               'certSANs': cert_sans, 'kubelet': kubelet}
    if not multidoc:
        network = {}
        if spec['hostname']:
            network['hostname'] = spec['hostname']
        network['kubespan'] = {'enabled': True, 'mtu': mtu}
        machine['network'] = network
    install = {'disk': spec['install_disk'],
               'image': spec['install_image'] or 'ghcr.io/siderolabs/installer:%s' % spec['talos_version'], 'wipe': False}
    if multidoc:
        install['grubUseUKICmdline'] = True
    machine['install'] = install
    features = {} if multidoc else {'rbac': True, 'stableHostname': True, 'apidCheckExtKeyUsage': True}
    features.update({'diskQuotaSupport': True, 'kubePrism': {'enabled': True, 'port': 7445},
                     'hostDNS': {'enabled': True, 'forwardKubeDNSToHost': True}})
    machine['features'] = features
    machine['nodeLabels'] = node_labels(spec)

    secrets = bundle['secrets']
    cluster = {'id': bundle['cluster']['id'], 'secret': bundle['cluster']['secret'],
               'controlPlane': {'endpoint': spec['cluster_endpoint']}, 'clusterName': spec['cluster_name'],
               'network': {'cni': {'name': 'none'}, 'dnsDomain': spec['dns_domain'],
                           'podSubnets': list(spec['pod_subnets']), 'serviceSubnets': list(spec['service_subnets'])},
               'token': secrets['bootstraptoken']}
    if controlplane:
        # Both when the bundle has both (a cluster moved from aescbc to secretbox): the API server
        # then encrypts with secretbox and still reads the Secrets written with aescbc.
        if secrets.get('aescbcencryptionsecret'):
            cluster['aescbcEncryptionSecret'] = secrets['aescbcencryptionsecret']
        if secrets.get('secretboxencryptionsecret'):
            cluster['secretboxEncryptionSecret'] = secrets['secretboxencryptionsecret']
    cluster['ca'] = _pair(bundle, 'k8s', controlplane)
    if controlplane:
        cluster['aggregatorCA'] = _pair(bundle, 'k8saggregator', True)
        cluster['serviceAccount'] = {'key': bundle['certs']['k8sserviceaccount']['key']}
        api_server = {'image': 'registry.k8s.io/kube-apiserver:v%s' % k8s, 'certSANs': _unique([host] + cert_sans)}
        if not multidoc:
            api_server['disablePodSecurityPolicy'] = True
        api_server['admissionControl'] = [dict(entry) for entry in _ADMISSION_CONTROL]
        api_server['auditPolicy'] = dict(_AUDIT_POLICY)
        cluster['apiServer'] = api_server
        cluster['controllerManager'] = {'image': 'registry.k8s.io/kube-controller-manager:v%s' % k8s}
    cluster['proxy'] = {'disabled': True, 'image': 'registry.k8s.io/kube-proxy:v%s' % k8s}
    if controlplane:
        cluster['scheduler'] = {'image': 'registry.k8s.io/kube-scheduler:v%s' % k8s}
    cluster['discovery'] = {'enabled': True, 'registries': {'kubernetes': {'disabled': True}, 'service': {}}}
    if spec.get('cilium_manifest'):
        cluster['inlineManifests'] = [dict(spec['cilium_manifest'])]
    if controlplane:
        etcd = {'ca': _pair(bundle, 'etcd', True)}
        if spec['etcd_advertised_subnets']:
            etcd['advertisedSubnets'] = list(spec['etcd_advertised_subnets'])
        cluster['etcd'] = etcd

    docs = [{'version': 'v1alpha1', 'debug': False, 'persist': True, 'machine': machine, 'cluster': cluster}]
    if multidoc:
        hostname = {'apiVersion': 'v1alpha1', 'kind': 'HostnameConfig'}
        if spec['hostname']:
            hostname['hostname'] = spec['hostname']
        else:
            hostname['auto'] = 'stable'
        docs.append(hostname)
        docs.append({'apiVersion': 'v1alpha1', 'kind': 'KubeSpanConfig', 'enabled': True, 'mtu': mtu})
    return docs


def load_patches(spec):
    patches = []
    for scope in ('cluster', 'role', 'node'):
        for index, value in enumerate(spec['%s_patches' % scope]):
            patches.append(load_patch(value, '%s patch %d' % (scope, index + 1), spec['patch_dir']))
    return patches


def check_mandatory(docs, spec):
    """What the schema cannot say: the values Talos needs, and no CA private key on a worker."""
    config = next((doc for doc in docs if identity(doc) == LEGACY), None)
    if config is None:
        raise TalosConfigError('the patched config has no v1alpha1 document.', reason='config_invalid')
    machine = config.get('machine') or {}
    cluster = config.get('cluster') or {}
    role = spec['role']

    def get(node, path):
        for part in path.split('.'):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def need(path, what=None):
        if not get(config, path):
            raise TalosConfigError('the patched config has no %s%s.' % (path, what or ''), reason='config_incomplete', path=path)

    if machine.get('type') != role:
        raise TalosConfigError('the patched config has machine.type %r but the node role is %s.' % (machine.get('type'), role),
                               reason='config_invalid', path='machine.type')
    for path in ('machine.token', 'cluster.token'):
        if not TOKEN_RE.match(str(get(config, path) or '')):
            raise TalosConfigError('the patched config has no valid %s (a token of the form [a-z0-9]{6}.[a-z0-9]{16}).' % path,
                                   reason='config_invalid', path=path)
    for path in ('machine.ca.crt', 'cluster.ca.crt', 'cluster.id', 'cluster.secret', 'cluster.clusterName',
                 'cluster.controlPlane.endpoint'):
        need(path)
    endpoint = str(get(config, 'cluster.controlPlane.endpoint'))
    if not endpoint.startswith('https://'):
        raise TalosConfigError('the patched config has cluster.controlPlane.endpoint %r: it must be an https:// URL.' % endpoint,
                               reason='config_invalid', path='cluster.controlPlane.endpoint')
    private = ('machine.ca.key', 'cluster.ca.key', 'cluster.aggregatorCA.key', 'cluster.serviceAccount.key',
               'cluster.etcd.ca.key')
    if role == 'controlplane':
        for path in private + ('cluster.aggregatorCA.crt', 'cluster.etcd.ca.crt'):
            need(path)
        if not (cluster.get('secretboxEncryptionSecret') or cluster.get('aescbcEncryptionSecret')):
            need('cluster.secretboxEncryptionSecret')
    else:
        for path in private + ('cluster.secretboxEncryptionSecret', 'cluster.aescbcEncryptionSecret'):
            if get(config, path):
                raise TalosConfigError('the patched worker config holds %s: a worker must not carry control-plane secrets.'
                                       % path, reason='config_invalid', path=path)
    kubespan = any(doc.get('kind') == 'KubeSpanConfig' and doc.get('enabled') for doc in docs if doc is not config)
    kubespan = kubespan or bool(get(config, 'machine.network.kubespan.enabled'))
    if kubespan and not get(config, 'cluster.discovery.enabled'):
        raise TalosConfigError('the patched config enables KubeSpan but not cluster.discovery.enabled: KubeSpan finds '
                               'its peers through discovery.', reason='config_invalid', path='cluster.discovery.enabled')


def render(spec, bundle):
    """Render, patch, normalise and validate one node's config; returns :class:`Rendered`."""
    spec = check_spec(spec)
    contract = spec['contract_key']
    schema = load_schema(contract, spec['schema_dir'])
    patches = load_patches(spec)
    docs = apply_patches(base_documents(spec, bundle), patches, MergeRules(contract, schema),
                         normalise=lambda items: normalise_documents(items, schema.schema))
    schema.validate(docs, contract)
    check_documents(docs)
    check_mandatory(docs, spec)
    mtu = spec['underlay_mtu'] - KUBESPAN_OVERHEAD
    return Rendered(docs, dump_documents(docs), contract_name(contract), mtu)


def validate_text(text, contract, schema_dir=None, what='config'):
    """Validate an existing config (e.g. Talos' examples) through the same code path as a render."""
    from .yamlio import load_documents

    docs = load_documents(text, what)
    schema = load_schema(contract, schema_dir)
    schema.validate(docs, contract)
    check_documents(docs)
    return docs
