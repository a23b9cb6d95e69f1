"""The Hetzner CSI chart as its defaults install it, on the Flux suite's cluster (whose nodes carry no
instance.hetzner.cloud/provided-by label, like Proxmox VMs): the lab's helm-controller renders it, the node plugin
lands on every node and crashes there without Hetzner's metadata service, and storage_placement names the nodes.
This is what hcloud_csi's values prevent (tests/integration/provision/test_storage.py shows them working)."""
# pylint: disable=redefined-outer-name,unused-argument  # pytest fixtures as arguments
import pytest

from flux_lab import wait_for

pytestmark = pytest.mark.lab

RELEASE = [
    {'apiVersion': 'source.toolkit.fluxcd.io/v1', 'kind': 'HelmRepository',
     'metadata': {'name': 'hcloud', 'namespace': 'flux-system'}, 'spec': {'url': 'https://charts.hetzner.cloud', 'interval': '24h'}},
    {'apiVersion': 'helm.toolkit.fluxcd.io/v2', 'kind': 'HelmRelease', 'metadata': {'name': 'hcloud-csi', 'namespace': 'kube-system'},
     'spec': {'interval': '30m', 'chart': {'spec': {'chart': 'hcloud-csi', 'version': '2.20.2', 'sourceRef': {
         'kind': 'HelmRepository', 'name': 'hcloud', 'namespace': 'flux-system'}}}, 'values': {}}},
]


def play(flux_lab, *tasks):
    return [{'hosts': 'localhost', 'gather_facts': False,
             'module_defaults': {'group/hybridops.talos.kubernetes': {'kubeconfig': flux_lab.kubeconfig}}, 'tasks': list(tasks)}]


def test_the_chart_defaults_put_the_node_plugin_where_it_crashes_and_the_placement_check_names_those_nodes(
        run_playbook, flux_lab, k8s_api):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    core, storage = client.CoreV1Api(k8s_api), client.StorageV1Api(k8s_api)
    env = flux_lab.flux_env  # Flux first (a no-op after the suite's own Flux tests)
    flux = {'version': env['LAB_FLUX_VERSION'], 'releases_url': env['LAB_FLUX_RELEASES_URL'],
            'sha256': env['LAB_FLUX_INSTALL_SHA256'], 'wait_timeout': 120}
    applied = run_playbook(play(flux_lab, {'name': 'flux', 'hybridops.talos.flux_install': flux},
                                {'name': 'apply', 'hybridops.talos.kube_apply': {'definitions': RELEASE}}))
    assert applied.rc == 0, applied
    try:
        def crashing():
            pods = core.list_namespaced_pod('kube-system', label_selector='app.kubernetes.io/name=hcloud-csi,'
                                            'app.kubernetes.io/component=node').items
            crashed = {p.spec.node_name for p in pods if any((c.restart_count or 0) > 0 for c in p.status.container_statuses or ())}
            return crashed if len(crashed) == 5 else None

        crashed = wait_for(crashing, 90, 0.5, 'the node plugin to crash on every node')
        assert crashed == {'vps-0', 'vps-1', 'home-cp-0', 'home-w-0', 'home-w-1'}  # the default affinity keeps none away
        assert 'csi.hetzner.cloud' in {d.metadata.name for d in storage.list_csi_driver().items}
        assert not any(any(d.name == 'csi.hetzner.cloud' for d in n.spec.drivers or ()) for n in storage.list_csi_node().items)
        checked = run_playbook(play(flux_lab, {'name': 'placement', 'hybridops.talos.storage_placement': {
            'drivers': [{'name': 'csi.hetzner.cloud', 'sites': ['vps']}]}}))
        result = checked.result('placement')
        assert result['failed'] and result['failure']['reason'] == 'placement_violated'
        assert 'the node plugin of csi.hetzner.cloud has pods on node(s) home-cp-0, home-w-0, home-w-1, outside site vps' in result['msg']
        assert 'not registered on node(s) vps-0, vps-1 of site vps' in result['msg']
        # The chart's own default class came with it: a default StorageClass nobody asked for.
        assert any(t['storage_class'] == 'hcloud-volumes' and t['default'] for t in result['table'])
    finally:
        removed = run_playbook(play(flux_lab, {'name': 'remove', 'hybridops.talos.hcloud_csi': {'state': 'absent', 'wait_timeout': 60}}))
        assert removed.rc == 0, removed
    assert not storage.list_storage_class(label_selector='app.kubernetes.io/instance=hcloud-csi').items  # uninstalled with the release
