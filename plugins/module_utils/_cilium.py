# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cilium as Talos documents it for a cluster without a CNI: the values, and the install Job as an inline manifest.

Pins (docs/kubernetes.md says where they come from): Cilium 1.18.3, the chart cilium-cli v0.18.9
embeds as its default, e2e-tested by Cilium against Kubernetes 1.30-1.33; the CLI image
``quay.io/cilium/cilium-cli:v0.18.9``. Because the chart is embedded, the Job needs no Helm repository.

Values: the ones Talos' guide gives for Talos (IPAM from Kubernetes, no kube-proxy so Cilium replaces
it and reaches the API through KubePrism on localhost:7445, the capabilities Talos allows, cgroups
Talos has mounted), this design's VXLAN tunnel, and the MTU of the budget (KubeSpan's MTU: Cilium's
devices sit on top of KubeSpan). The user's extra values may not change what the design or the
budget fixes.

The manifest (ServiceAccount, ClusterRoleBinding to cluster-admin, Job) is what Talos' Job method
runs: host network, every taint tolerated, control planes only, the API of the node it runs on.
Talos creates inline-manifest objects once and never updates them, so this text is compared with
the one in a running cluster's configs before anything would change it (cilium_install_plan).
"""

from __future__ import annotations

import copy

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

VERSION = '1.18.3'
CLI_IMAGE = 'quay.io/cilium/cilium-cli:v0.18.9'
MANIFEST_NAME = 'cilium-install'
NAMESPACE = 'kube-system'
MANAGED_BY = 'hybridops.talos'
MIN_MTU, MAX_MTU = 1280, 9000

AGENT_CAPABILITIES = ['CHOWN', 'KILL', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'SYS_ADMIN', 'SYS_RESOURCE', 'DAC_OVERRIDE',
                      'FOWNER', 'SETGID', 'SETUID']
CLEAN_STATE_CAPABILITIES = ['NET_ADMIN', 'SYS_ADMIN', 'SYS_RESOURCE']

# What the user's values may not change, and why (the message of the refusal).
FIXED = {
    'routingMode': 'this design runs Cilium in tunnel mode over KubeSpan',
    'tunnelProtocol': 'this design uses VXLAN (the MTU budget counts its 50 bytes)',
    'MTU': 'it comes from the MTU budget (talos_cluster_underlay_mtu, or talos_cluster_cilium_mtu)',
    'k8sServiceHost': 'Cilium reaches the API through KubePrism on localhost:7445, as Talos documents',
    'k8sServicePort': 'Cilium reaches the API through KubePrism on localhost:7445, as Talos documents',
    'kubeProxyReplacement': 'the machine configs disable kube-proxy, so Cilium must replace it',
}
CONFLICTS = {
    ('bpf', 'masquerade'): (True, 'bpf.masquerade=true breaks CoreDNS while Talos forwards kube-dns to the host DNS '
                                  '(machine.features.hostDNS.forwardKubeDNSToHost, on in these configs; Talos PR 9200)'),
}


class CiliumError(ValueError):
    """Bad Cilium options; ``option`` names the one to fix."""

    def __init__(self, message, option):
        super().__init__(message)
        self.option = option


def design_values(mtu):
    return {
        'ipam': {'mode': 'kubernetes'},
        'kubeProxyReplacement': True,
        'k8sServiceHost': 'localhost',
        'k8sServicePort': 7445,
        'securityContext': {'capabilities': {'ciliumAgent': list(AGENT_CAPABILITIES),
                                             'cleanCiliumState': list(CLEAN_STATE_CAPABILITIES)}},
        'cgroup': {'autoMount': {'enabled': False}, 'hostRoot': '/sys/fs/cgroup'},
        'routingMode': 'tunnel',
        'tunnelProtocol': 'vxlan',
        'MTU': mtu,
    }


def _nest(values, option):
    """``{'a.b': 1}`` and ``{'a': {'b': 1}}`` both as the nested form; dotted keys are how --set names values."""
    nested = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key or key.startswith('.') or key.endswith('.') or '..' in key:
            raise CiliumError('%s: %r is not a value name such as hubble.enabled.' % (option, key), option)
        parts = key.split('.')
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise CiliumError('%s: %s is given both as a value and as a group of values.' % (option, key), option)
        leaf = _nest(value, option) if isinstance(value, dict) else value
        if isinstance(node.get(parts[-1]), dict) and isinstance(leaf, dict):
            node[parts[-1]] = _merge(node[parts[-1]], leaf)
        else:
            node[parts[-1]] = leaf
    return nested


def _merge(base, extra):
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _leaves(values, prefix=''):
    for key in sorted(values):
        value = values[key]
        path = prefix + key
        if isinstance(value, dict):
            yield from _leaves(value, path + '.')
        else:
            yield path, value


def _check_leaf(path, value, option):
    scalar = (str, int, float, bool)
    if value is None:
        raise CiliumError('%s: %s has no value; leave it out to keep the chart default.' % (option, path), option)
    if isinstance(value, list):
        if not all(isinstance(item, scalar) for item in value):
            raise CiliumError('%s: %s must be a list of plain values: --set cannot carry lists of mappings.' % (option, path), option)
    elif not isinstance(value, scalar):
        raise CiliumError('%s: %s must be a string, number, boolean or list of them, not %s.'
                          % (option, path, type(value).__name__), option)


def values(mtu, extra=None, option='cilium.values'):
    """The complete values: the design's and the budget's, plus the user's ``extra`` (checked)."""
    if not isinstance(mtu, int) or isinstance(mtu, bool) or not MIN_MTU <= mtu <= MAX_MTU:
        raise CiliumError('cilium.mtu %r is not an MTU between %d and %d.' % (mtu, MIN_MTU, MAX_MTU), 'cilium.mtu')
    extra = _nest(extra or {}, option)
    for path, value in _leaves(extra):
        _check_leaf(path, value, option)
        top = path.split('.', 1)[0]
        if top in FIXED:
            raise CiliumError('%s: %s cannot be set here: %s.' % (option, path, FIXED[top]), option)
        conflict = CONFLICTS.get(tuple(path.split('.')))
        if conflict and value == conflict[0]:
            raise CiliumError('%s: %s.' % (option, conflict[1]), option)
    return _merge(design_values(mtu), extra)


def _text(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    text = str(value)
    return text.replace('\\', '\\\\').replace(',', '\\,')


def set_arguments(all_values):
    """The values as cilium-cli arguments: ``--set`` for booleans, numbers and lists, ``--set-string`` for strings
    (so that a string such as "true" stays a string), in a stable order."""
    args = []
    for path, value in _leaves(all_values):
        if isinstance(value, list):
            args += ['--set', '%s={%s}' % (path, ','.join(_text(item) for item in value))]
        elif isinstance(value, str):
            args += ['--set-string', '%s=%s' % (path, _text(value))]
        else:
            args += ['--set', '%s=%s' % (path, _text(value))]
    return args


def install_objects(version, cli_image, all_values):
    """The ServiceAccount, ClusterRoleBinding and Job of Talos' Job method."""
    def labels():
        return {'app.kubernetes.io/name': MANIFEST_NAME, 'app.kubernetes.io/managed-by': MANAGED_BY}

    def meta():
        return {'name': MANIFEST_NAME, 'namespace': NAMESPACE, 'labels': labels()}
    command = ['cilium', 'install', '--version=%s' % version] + set_arguments(all_values)
    container = {
        'name': MANIFEST_NAME,
        'image': cli_image,
        # The API server of the node the Job runs on: no Service routing exists before the CNI.
        'env': [{'name': 'KUBERNETES_SERVICE_HOST', 'valueFrom': {'fieldRef': {'apiVersion': 'v1', 'fieldPath': 'status.podIP'}}},
                {'name': 'KUBERNETES_SERVICE_PORT', 'value': '6443'}],
        'command': command,
        # The CLI's error becomes the container's termination message: the wait can quote it.
        'terminationMessagePolicy': 'FallbackToLogsOnError',
    }
    control_planes = {'nodeSelectorTerms': [{'matchExpressions': [{'key': 'node-role.kubernetes.io/control-plane', 'operator': 'Exists'}]}]}
    pod = {
        'restartPolicy': 'OnFailure',
        'serviceAccountName': MANIFEST_NAME,
        'hostNetwork': True,
        'tolerations': [{'operator': 'Exists'}],
        'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': control_planes}},
        'containers': [container],
    }
    return [
        {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': meta()},
        {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding',
         'metadata': {'name': MANIFEST_NAME, 'labels': labels()},
         'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole', 'name': 'cluster-admin'},
         'subjects': [{'kind': 'ServiceAccount', 'name': MANIFEST_NAME, 'namespace': NAMESPACE}]},
        {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': meta(),
         'spec': {'backoffLimit': 10, 'template': {'metadata': {'labels': labels()}, 'spec': pod}}},
    ]


def manifest(version=VERSION, cli_image=CLI_IMAGE, mtu=None, extra=None):
    """``{'name': 'cilium-install', 'contents': <YAML>}``, the inline manifest for ``cluster.inlineManifests``."""
    if not HAS_YAML:
        raise CiliumError('PyYAML is needed to render the Cilium manifest.', 'cilium')
    if not isinstance(version, str) or not version.strip() or version.strip() in ('latest', 'stable'):
        raise CiliumError('cilium.version %r is not a pinned Cilium version such as %s.' % (version, VERSION), 'cilium.version')
    if not isinstance(cli_image, str) or ':' not in cli_image.rsplit('/', 1)[-1] or cli_image.endswith(':latest'):
        raise CiliumError('cilium.cli_image %r is not a pinned image such as %s (a tag other than latest, or a digest).'
                          % (cli_image, CLI_IMAGE), 'cilium.cli_image')
    docs = install_objects(version.strip().lstrip('v'), cli_image, values(mtu, extra))
    text = yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, explicit_start=False)
    return {'name': MANIFEST_NAME, 'contents': text}


def parse_install_command(command):
    """The (version, values as ``{path: text}``) of a ``cilium install`` command line we rendered; for comparisons."""
    version, found = None, {}
    args = list(command or ())
    index = 0
    while index < len(args):
        arg = args[index]
        if arg.startswith('--version='):
            version = arg.split('=', 1)[1]
        elif arg in ('--set', '--set-string') and index + 1 < len(args):
            path, _sep, text = args[index + 1].partition('=')
            found[path] = text
            index += 1
        index += 1
    return version, found


def running_install(contents):
    """``(cli image, version, values)`` of the install Job in an inline manifest's text, or None."""
    if not HAS_YAML:
        return None
    try:
        docs = list(yaml.safe_load_all(contents or ''))
    except yaml.YAMLError:
        return None
    for doc in docs:
        if isinstance(doc, dict) and doc.get('kind') == 'Job':
            containers = ((((doc.get('spec') or {}).get('template') or {}).get('spec') or {}).get('containers') or [{}])
            container = containers[0] or {}
            version, found = parse_install_command(container.get('command'))
            return container.get('image'), version, found
    return None


def differences(running_contents, wanted_contents):
    """What differs between two install manifests, as short lines (``MTU: 1420 -> 1370``)."""
    before, after = running_install(running_contents), running_install(wanted_contents)
    if before is None or after is None:
        return ['the manifest text differs']
    lines = []
    if before[0] != after[0]:
        lines.append('cilium-cli image: %s -> %s' % (before[0], after[0]))
    if before[1] != after[1]:
        lines.append('Cilium version: %s -> %s' % (before[1], after[1]))
    for path in sorted(set(before[2]) | set(after[2])):
        if before[2].get(path) != after[2].get(path):
            lines.append('%s: %s -> %s' % (path, before[2].get(path, '(unset)'), after[2].get(path, '(unset)')))
    return lines or ['the manifest text differs (same Cilium version and values)']
