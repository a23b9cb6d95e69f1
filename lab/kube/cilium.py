"""Cilium in the lab: what the ``cilium install`` Job and the Cilium agent "do" (container hooks, hooks.py).

**cilium-cli** (image ``quay.io/cilium/cilium-cli``): acts out ``cilium install`` as cilium-cli v0.18 does it
through Helm with the chart it embeds: the arguments are read the way the CLI reads them (``--version``,
``--namespace``, ``--set``/``--set-string`` with Helm's ``strvals`` syntax and typing; an unknown flag is
cobra's error), the values are checked against the chart's value types (data/cilium-1.18.3-value-types.json)
and a wrong type fails the container with Helm's schema message, a release that exists is refused as Helm
refuses it. Then it creates what the chart would for our values, small: the ``cilium`` and
``cilium-operator`` ServiceAccounts, the ``cilium-config`` ConfigMap (routing mode, tunnel protocol,
``mtu``, IPAM, kube-proxy replacement), the ``cilium`` DaemonSet (``k8s-app=cilium``, host network, every
taint tolerated, the API through ``k8sServiceHost``/``k8sServicePort``), the ``cilium-operator``
Deployment and the Helm release Secret ``sh.helm.release.v1.cilium.v1`` (so a Flux HelmRelease can adopt
the release). The output goes to the container log, so a failure's last lines become the Job pod's
termination message (``terminationMessagePolicy: FallbackToLogsOnError``).

**Cilium agent** (image ``quay.io/cilium/cilium``): reads ``cilium-config`` when it starts; a routing mode,
tunnel protocol or IPAM mode Cilium does not know makes it exit 1 with a fatal log line (the pod goes into
``CrashLoopBackOff`` and the node stays NotReady, as on a real node); otherwise it runs. A running, Ready agent
pod is what the lab's kubelet counts as "a CNI runs on this node" (kubelet.py). An agent without a ``cilium-config``
(a bare DaemonSet some tests make) runs with Cilium's defaults.

Not modelled: the chart's other objects (RBAC, Envoy, Hubble, CRDs the agent registers), the agent's real
work, ``cilium upgrade``/``uninstall``.
"""
import asyncio
import json
import os
import re

from . import helm, hooks
from .validation import _type_name
from .client import ApiStatus, Client

CLI_IMAGE = 'quay.io/cilium/cilium-cli'
AGENT_IMAGE = 'quay.io/cilium/cilium'
RELEASE = 'cilium'
TYPES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'cilium-1.18.3-value-types.json')
# The images the chart pins for 1.18.3 (values.yaml image.digest, operator.image.genericDigest).
AGENT_DIGEST = 'sha256:5649db451c88d928ea585514746d50d91e6210801b300c897283ea319d68de15'
OPERATOR_DIGEST = 'sha256:b5a0138e1a38e4437c5215257ff4e35373619501f4877dbaf92c89ecfad81797'
ROUTING_MODES = ('tunnel', 'native')
TUNNEL_PROTOCOLS = ('vxlan', 'geneve')
IPAM_MODES = ('kubernetes', 'cluster-pool', 'multi-pool', 'crd', 'eni', 'azure', 'alibabacloud', 'delegated-plugin')
_TYPES = None


class CiliumFailure(Exception):
    """What cilium-cli prints before it exits 1."""


# ---------------------------------------------------------------------- arguments

def parse_args(args):
    """``(options, values)`` of ``cilium install ...``: the flags cilium-cli has that our manifests use."""
    args = list(args)
    if args[:1] == ['cilium']:
        args = args[1:]
    if args[:1] != ['install']:
        raise CiliumFailure('Error: unknown command "%s" for "cilium"' % (args[0] if args else ''))
    options, values = {'version': None, 'namespace': 'kube-system'}, {}
    index = 1
    while index < len(args):
        arg = args[index]
        name, has_value, value = arg.partition('=')
        if name in ('--version', '--namespace', '-n', '--set', '--set-string'):
            if not has_value:
                index += 1
                if index >= len(args):
                    raise CiliumFailure('Error: flag needs an argument: %s' % name)
                value = args[index]
            if name in ('--set', '--set-string'):
                parse_strvals(value, values, string=name == '--set-string')
            else:
                options['namespace' if name in ('--namespace', '-n') else 'version'] = value
        elif arg.startswith('-'):
            raise CiliumFailure('Error: unknown flag: %s' % name)
        else:
            raise CiliumFailure('Error: unknown command "%s" for "cilium install"' % arg)
        index += 1
    return options, values


def _split(text, separator):
    """Split on ``separator`` outside braces, honouring backslash escapes (kept for the next step)."""
    parts, current, depth, escaped = [], '', 0, False
    for char in text:
        if escaped:
            current += '\\' + char
            escaped = False
        elif char == '\\':
            escaped = True
        elif char == '{':
            depth += 1
            current += char
        elif char == '}':
            depth -= 1
            current += char
        elif char == separator and depth == 0:
            parts.append(current)
            current = ''
        else:
            current += char
    parts.append(current)
    return parts


def _unescape(text):
    return re.sub(r'\\(.)', r'\1', text)


def typed(text, string=False):
    """Helm's typing of a ``--set`` value: booleans, null, integers (not with a leading zero), else a string."""
    if string:
        return text
    lower = text.lower()
    if lower in ('true', 'false'):
        return lower == 'true'
    if lower == 'null':
        return None
    if text == '0' or (text and text[0] != '0' and re.match(r'^[-+]?[0-9]+$', text) and not text.startswith(('-0', '+0'))):
        try:
            return int(text)
        except ValueError:
            return text
    return text


def parse_strvals(text, into, string=False):
    for pair in _split(text, ','):
        if not pair:
            continue
        key, sep, raw = pair.partition('=')
        if not sep:
            raise CiliumFailure('Error: failed parsing --set data: key "%s" has no value' % _unescape(key))
        if '[' in key:
            raise CiliumFailure('Error: the lab does not model list indexes in --set (%s)' % key)
        path = [_unescape(part) for part in _split(key, '.')]
        if raw.startswith('{') and raw.endswith('}') and not string:
            value = [typed(_unescape(item)) for item in _split(raw[1:-1], ',') if item != ''] if raw[1:-1] else []
        else:
            value = typed(_unescape(raw), string)
        node = into
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return into


# ---------------------------------------------------------------------- the chart's schema

def _types():
    global _TYPES  # pylint: disable=global-statement
    if _TYPES is None:
        with open(TYPES_FILE, encoding='utf-8') as handle:
            _TYPES = json.load(handle)['types']
    return _TYPES


def schema_problems(values, prefix=''):
    """Helm's schema check of the values, as the lines gojsonschema gives (``- MTU: Invalid type. ...``)."""
    types = _types()
    problems = []
    for key in sorted(values):
        value = values[key]
        path = prefix + key
        allowed = types.get(path)
        given = _type_name(value)
        if allowed and given not in allowed and not (given == 'integer' and 'number' in allowed):
            problems.append('- %s: Invalid type. Expected: %s, given: %s' % (path, ', '.join(allowed), given))
            continue
        if isinstance(value, dict):
            problems += schema_problems(value, path + '.')
    return problems


# ---------------------------------------------------------------------- what the chart makes

def _helm_meta(name, namespace, labels=None):
    return {'name': name, 'namespace': namespace,
            'labels': dict(labels or {}, **{'app.kubernetes.io/managed-by': 'Helm'}),
            'annotations': {'meta.helm.sh/release-name': RELEASE, 'meta.helm.sh/release-namespace': namespace}}


def config_data(values):
    mode = values.get('kubeProxyReplacement', False)
    data = {'cluster-name': 'default', 'routing-mode': str(values.get('routingMode') or 'tunnel'),
            'tunnel-protocol': str(values.get('tunnelProtocol') or 'vxlan'),
            'ipam': str((values.get('ipam') or {}).get('mode') or 'cluster-pool'),
            'kube-proxy-replacement': 'true' if mode in (True, 'true') else 'false'}
    if values.get('MTU'):
        data['mtu'] = str(values['MTU'])
    return data


def chart_objects(version, namespace, values):
    agent_labels = {'k8s-app': 'cilium', 'app.kubernetes.io/part-of': 'cilium', 'app.kubernetes.io/name': 'cilium-agent'}
    operator_labels = {'io.cilium/app': 'operator', 'name': 'cilium-operator', 'app.kubernetes.io/part-of': 'cilium',
                       'app.kubernetes.io/name': 'cilium-operator'}
    env = [{'name': 'K8S_NODE_NAME', 'valueFrom': {'fieldRef': {'apiVersion': 'v1', 'fieldPath': 'spec.nodeName'}}},
           {'name': 'CILIUM_K8S_NAMESPACE', 'valueFrom': {'fieldRef': {'apiVersion': 'v1', 'fieldPath': 'metadata.namespace'}}}]
    if values.get('k8sServiceHost'):
        env += [{'name': 'KUBERNETES_SERVICE_HOST', 'value': str(values['k8sServiceHost'])},
                {'name': 'KUBERNETES_SERVICE_PORT', 'value': str(values.get('k8sServicePort') or 443)}]
    operator_tolerations = [{'key': key, 'operator': 'Exists'} for key in (
        'node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master', 'node.kubernetes.io/not-ready',
        'node.cloudprovider.kubernetes.io/uninitialized')]
    replicas = ((values.get('operator') or {}).get('replicas'))
    return [
        {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': _helm_meta('cilium', namespace)},
        {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': _helm_meta('cilium-operator', namespace)},
        {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': _helm_meta('cilium-config', namespace), 'data': config_data(values)},
        {'apiVersion': 'apps/v1', 'kind': 'DaemonSet', 'metadata': _helm_meta('cilium', namespace, agent_labels),
         'spec': {'selector': {'matchLabels': {'k8s-app': 'cilium'}},
                  'updateStrategy': {'type': 'RollingUpdate', 'rollingUpdate': {'maxUnavailable': 2}},
                  'template': {'metadata': {'labels': agent_labels},
                               'spec': {'hostNetwork': True, 'serviceAccountName': 'cilium', 'priorityClassName': 'system-node-critical',
                                        'tolerations': [{'operator': 'Exists'}], 'nodeSelector': {'kubernetes.io/os': 'linux'},
                                        'containers': [{'name': 'cilium-agent', 'image': '%s:v%s@%s' % (AGENT_IMAGE, version, AGENT_DIGEST),
                                                        'command': ['cilium-agent'], 'args': ['--config-dir=/tmp/cilium/config-map'],
                                                        'env': env}]}}}},
        {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': _helm_meta('cilium-operator', namespace, operator_labels),
         'spec': {'replicas': replicas if isinstance(replicas, int) else 2,
                  'selector': {'matchLabels': {'io.cilium/app': 'operator', 'name': 'cilium-operator'}},
                  'template': {'metadata': {'labels': operator_labels},
                               'spec': {'hostNetwork': True, 'serviceAccountName': 'cilium-operator',
                                        'priorityClassName': 'system-cluster-critical', 'tolerations': operator_tolerations,
                                        'nodeSelector': {'kubernetes.io/os': 'linux'},
                                        'containers': [{'name': 'cilium-operator',
                                                        'image': 'quay.io/cilium/operator-generic:v%s@%s' % (version, OPERATOR_DIGEST),
                                                        'command': ['cilium-operator-generic'],
                                                        'args': ['--config-dir=/tmp/cilium/config-map'], 'env': env}]}}}},
    ]


def release_secret(version, namespace, values, revision=1):
    """Helm's record of the release cilium-cli installs (helm.py)."""
    return helm.secret(helm.record(RELEASE, namespace, 'cilium', version, values, revision,
                                   'Install complete' if revision == 1 else 'Upgrade complete'))


# ---------------------------------------------------------------------- the hooks

async def _exists(client, api_version, plural, namespace, name):
    try:
        await client.request('GET', Client.path(api_version, plural, namespace, name))
        return True
    except ApiStatus as exc:
        if exc.code == 404:
            return False
        raise


async def install(ctx):
    """``cilium install`` in a Job's container; the exit code."""
    container = ctx.container
    try:
        options, values = parse_args(list(container.get('command') or []) + list(container.get('args') or []))
        version = (options['version'] or '1.18.3').lstrip('v')
        namespace = options['namespace']
        ctx.write('ℹ️  Using Cilium version %s' % version)
        problems = schema_problems(values)
        if problems:
            raise CiliumFailure('Error: Unable to install Cilium: values don\'t meet the specifications of the schema(s) in the '
                                'following chart(s):\ncilium:\n' + '\n'.join(problems))
        if await _exists(ctx.client, 'v1', 'secrets', namespace, 'sh.helm.release.v1.%s.v1' % RELEASE):
            raise CiliumFailure('Error: Unable to install Cilium: cannot re-use a name that is still in use')
        if await _exists(ctx.client, 'apps/v1', 'daemonsets', namespace, 'cilium'):
            raise CiliumFailure('Error: Unable to install Cilium: Unable to continue with install: DaemonSet "cilium" in namespace '
                                '"%s" exists and cannot be imported into the current release: invalid ownership metadata' % namespace)
        for doc in chart_objects(version, namespace, values) + [release_secret(version, namespace, values)]:
            plural = {'ServiceAccount': 'serviceaccounts', 'ConfigMap': 'configmaps', 'DaemonSet': 'daemonsets',
                      'Deployment': 'deployments', 'Secret': 'secrets'}[doc['kind']]
            await ctx.client.request('POST', Client.path(doc['apiVersion'], plural, namespace) + '?fieldManager=helm', doc)
        ctx.write('🔮 Auto-detected cluster name: default\n✅ Cilium was successfully installed! Run \'cilium status\' to view '
                  'installation health')
        return 0
    except CiliumFailure as exc:
        ctx.write(str(exc))
        return 1
    except ApiStatus as exc:
        ctx.write('Error: Unable to install Cilium: %s' % (exc.body.get('message') or exc))
        return 1


async def agent(ctx):
    """The Cilium agent: exits 1 on a configuration it refuses, else runs until the pod goes."""
    namespace = ctx.pod['metadata'].get('namespace', 'kube-system')
    try:
        config = await ctx.client.request('GET', Client.path('v1', 'configmaps', namespace, 'cilium-config'))
    except ApiStatus as exc:
        if exc.code != 404:
            raise
        config = {'data': {'routing-mode': 'tunnel', 'tunnel-protocol': 'vxlan', 'ipam': 'cluster-pool'}}  # a bare agent: defaults
    data = config.get('data') or {}
    checks = (('routing-mode', ROUTING_MODES, 'invalid routing mode %r, valid modes = [%s]'),
              ('tunnel-protocol', TUNNEL_PROTOCOLS, 'invalid tunnel protocol %r, valid protocols = [%s]'),
              ('ipam', IPAM_MODES, 'invalid IPAM mode %r, valid modes = [%s]'))
    for key, allowed, text in checks:
        if data.get(key) not in allowed:
            ctx.write('level=fatal msg="Unable to start daemon" error="%s"' % (text % (data.get(key), ', '.join(allowed))))
            return 1
    ctx.write('level=info msg="Daemon initialization completed" routing-mode=%s tunnel-protocol=%s mtu=%s'
              % (data.get('routing-mode'), data.get('tunnel-protocol'), data.get('mtu', 'auto')))
    await asyncio.Event().wait()
    return 0


hooks.register_container(CLI_IMAGE, install)
hooks.register_container(AGENT_IMAGE, agent)
