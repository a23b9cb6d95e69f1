"""The cluster as the Talos nodes bring it up: the API on every control plane from one etcd, the kubeconfig
from the Talos API, nodes registering NotReady without a CNI, Talos' manifests, the lab's KUBECONFIG."""
import base64
import json
import os
import ssl
import urllib.request

import pytest
import yaml
from kubernetes import client

from kube_lab import CONTROL_PLANES, KUBE_VERSION, SITES, WORKERS, api_client, wait_for

pytestmark = pytest.mark.lab


def test_every_control_plane_serves_one_cluster(kube_lab, k8s):
    """Each control plane's API server answers from the same etcd: an object written through one is read through the others."""
    core = client.CoreV1Api(k8s)
    made = core.create_namespaced_config_map('default', {'metadata': {'name': 'through-vps-0'}, 'data': {'a': '1'}})
    for name in CONTROL_PLANES:
        configuration = client.Configuration()
        configuration.host = 'https://%s:6443' % kube_lab.address(name)
        configuration.ssl_ca_cert, configuration.cert_file, configuration.key_file = k8s.configuration.ssl_ca_cert, \
            k8s.configuration.cert_file, k8s.configuration.key_file
        other = client.CoreV1Api(client.ApiClient(configuration))
        read = other.read_namespaced_config_map('through-vps-0', 'default')
        assert read.metadata.resource_version == made.metadata.resource_version
        assert read.metadata.uid == made.metadata.uid
    core.delete_namespaced_config_map('through-vps-0', 'default')


def test_version_is_the_kubelet_image_tag(k8s):
    info = client.VersionApi(k8s).get_code()
    assert info.git_version == 'v' + KUBE_VERSION and (info.major, info.minor) == ('1', '32')


def test_serving_certificate_and_client_certificates(kube_lab):
    """TLS from the cluster CA; a caller without a client certificate is anonymous and may read /version only."""
    context = ssl.create_default_context(cadata=kube_lab.cluster.k8s_ca.crt_pem.decode())
    context.check_hostname = True
    url = 'https://%s:6443' % kube_lab.address('vps-1')
    with urllib.request.urlopen(url + '/version', context=context, timeout=10) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(url + '/api/v1/namespaces', context=context, timeout=10)
    assert denied.value.code == 403
    status = json.loads(denied.value.read())
    assert (status['reason'], status['code']) == ('Forbidden', 403)
    assert status['message'] == ('namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" '
                                 'in API group "" at the cluster scope')


def test_nodes_register_not_ready_until_a_cni_runs(k8s):
    nodes = {n.metadata.name: n for n in client.CoreV1Api(k8s).list_node().items}
    assert sorted(nodes) == sorted(CONTROL_PLANES + WORKERS)
    for name, node in nodes.items():
        labels = node.metadata.labels
        assert labels['kubernetes.io/hostname'] == name and labels['kubernetes.io/os'] == 'linux'
        assert labels['hybridops.io/site'] == SITES[name], 'machine.nodeLabels'
        ready = next(c for c in node.status.conditions if c.type == 'Ready')
        assert (ready.status, ready.reason) == ('False', 'KubeletNotReady')
        assert ready.message.startswith('container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady')
        assert node.status.node_info.kubelet_version == 'v' + KUBE_VERSION
        addresses = {a.type: a.address for a in node.status.addresses}
        assert addresses['Hostname'] == name
        taints = {(t.key, t.effect) for t in node.spec.taints or ()}
        assert ('node.kubernetes.io/not-ready', 'NoSchedule') in taints
        if name in CONTROL_PLANES:
            assert 'node-role.kubernetes.io/control-plane' in labels
            assert ('node-role.kubernetes.io/control-plane', 'NoSchedule') in taints
        else:
            assert 'node-role.kubernetes.io/control-plane' not in labels
            assert ('node-role.kubernetes.io/control-plane', 'NoSchedule') not in taints


def test_kubernetes_core_sees_the_nodes_not_ready(play):
    run = play([{'name': 'nodes', 'kubernetes.core.k8s_info': {'kind': 'Node'}},
                {'name': 'workers', 'kubernetes.core.k8s_info': {
                    'kind': 'Node', 'label_selectors': ['hybridops.io/site=home', '!node-role.kubernetes.io/control-plane']}}])
    nodes = run.result('nodes')['resources']
    assert len(nodes) == 5
    for node in nodes:
        ready = next(c for c in node['status']['conditions'] if c['type'] == 'Ready')
        assert (ready['status'], ready['reason']) == ('False', 'KubeletNotReady')
    assert sorted(n['metadata']['name'] for n in run.result('workers')['resources']) == sorted(WORKERS)


def _get(k8s, path, accept):
    """A raw GET with the kubeconfig's client certificate (the typed client cannot set Accept)."""
    configuration = k8s.configuration
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    context.load_cert_chain(configuration.cert_file, configuration.key_file)
    request = urllib.request.Request(configuration.host + path, headers={'Accept': accept})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return response.headers['Content-Type'], json.load(response)


def test_aggregated_discovery_when_the_client_asks(k8s):
    kind, data = _get(k8s, '/apis', 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json')
    assert kind == 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'
    groups = {item['metadata']['name']: item for item in data['items']}
    apps = {r['resource']: r for r in groups['apps']['versions'][0]['resources']}
    assert apps['deployments']['responseKind'] == {'group': 'apps', 'version': 'v1', 'kind': 'Deployment'}
    assert apps['deployments']['scope'] == 'Namespaced' and apps['deployments']['shortNames'] == ['deploy']
    assert {s['subresource'] for s in apps['deployments']['subresources']} == {'status', 'scale'}
    assert _get(k8s, '/apis', 'application/json')[1]['kind'] == 'APIGroupList'


def test_internal_ip_is_the_node_address(kube_lab, k8s):
    for node in client.CoreV1Api(k8s).list_node().items:
        addresses = {a.type: a.address for a in node.status.addresses}
        assert addresses['InternalIP'] == kube_lab.address(node.metadata.name)


def test_kubectl_shows_roles_and_not_ready(kubectl):
    table = kubectl('get', 'nodes', '-L', 'hybridops.io/site').stdout
    lines = {line.split()[0]: line.split() for line in table.splitlines()[1:]}
    assert lines['vps-0'][1] == 'NotReady' and lines['vps-0'][2] == 'control-plane' and lines['vps-0'][-1] == 'vps'
    assert lines['home-w-0'][2] == '<none>' and lines['home-w-0'][-1] == 'home'


def test_talos_creates_its_manifests_and_never_updates_them(kube_lab, k8s):
    core = client.CoreV1Api(k8s)
    made = wait_for(lambda: core.read_namespaced_config_map('created-by-talos', 'lab-inline'), 30, what='inline manifest applied')
    assert made.metadata.managed_fields[0].manager == 'talos'
    core.patch_namespaced_config_map('created-by-talos', 'lab-inline', {'data': {'version': 'changed by hand'}})
    dns = client.AppsV1Api(k8s).read_namespaced_deployment('coredns', 'kube-system')
    assert dns.spec.template.spec.priority_class_name == 'system-cluster-critical'
    with pytest.raises(client.ApiException):
        client.AppsV1Api(k8s).read_namespaced_daemon_set('kube-proxy', 'kube-system')  # proxy.disabled
    # A control plane that restarts applies its manifests again: a deleted object comes back, a changed one stays.
    core.delete_namespaced_config_map('created-by-talos', 'lab-inline')
    stop = kube_lab.command('stop', 'vps-1')
    assert stop.returncode == 0, stop.stderr
    start = kube_lab.command('up', '--talos-reboot-seconds', '1')
    assert start.returncode == 0, start.stderr
    back = wait_for(lambda: core.read_namespaced_config_map('created-by-talos', 'lab-inline'), 60, 0.5, 'manifest re-created')
    assert back.data == {'version': '1'}


def test_lab_env_carries_the_admin_kubeconfig(kube_lab, k8s):
    env = {}
    with open(os.path.join(kube_lab.state_dir, 'env'), encoding='utf-8') as handle:
        for line in handle:
            key, _sep, value = line.strip().partition('=')
            env[key] = value
    path = env['KUBECONFIG']
    assert path == os.path.join(kube_lab.state_dir, 'kubeconfig')
    assert os.stat(path).st_mode & 0o777 == 0o600
    document = yaml.safe_load(open(path, encoding='utf-8'))
    cluster = document['clusters'][0]['cluster']
    assert base64.b64decode(cluster['certificate-authority-data']) == kube_lab.cluster.k8s_ca.crt_pem
    assert cluster['server'] == kube_lab.cluster.endpoint
    assert client.CoreV1Api(api_client(path)).read_namespace('kube-system').status.phase == 'Active'


def test_lists_page_with_limit_and_continue(k8s, kubectl):
    core = client.CoreV1Api(k8s)
    for index in range(5):
        core.create_namespaced_config_map('kube-public', {'metadata': {'name': 'page-%d' % index, 'labels': {'paged': 'yes'}}})
    first = core.list_namespaced_config_map('kube-public', label_selector='paged=yes', limit=2)
    assert [c.metadata.name for c in first.items] == ['page-0', 'page-1']
    assert first.metadata.remaining_item_count == 3 and first.metadata._continue
    rest = core.list_namespaced_config_map('kube-public', label_selector='paged=yes', limit=10, _continue=first.metadata._continue)
    assert [c.metadata.name for c in rest.items] == ['page-2', 'page-3', 'page-4']
    assert rest.metadata.resource_version == first.metadata.resource_version, 'one snapshot across the pages'
    assert not rest.metadata._continue
    names = kubectl('-n', 'kube-public', 'get', 'configmaps', '-l', 'paged=yes', '--chunk-size=2', '-o', 'name').stdout.split()
    assert names == ['configmap/page-%d' % index for index in range(5)]
