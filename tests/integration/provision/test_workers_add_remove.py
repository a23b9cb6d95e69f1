"""playbooks/add-worker.yml and remove-node.yml on the cluster site.yml built (this file sorts last: the cluster
changes here). A home worker cloned from the template and a Hetzner worker booted from its user data join, turn Ready
with their site's labels, join the KubeSpan mesh and get their site's CSI node plugin; a second run changes nothing;
a control plane is refused before anything is written. Then the Hetzner worker is removed: drained, reset, its Node
and server deleted, and a second run changes nothing; removing a control plane that would leave an even etcd
member count is refused. Last, the home worker is removed with its VM: check mode says what it would delete, then it
is reset, its VM stopped and destroyed, and a second run changes nothing."""
# pylint: disable=redefined-outer-name  # pytest fixtures as arguments
import os

import pytest
import yaml
from provision_lab import MACHINES, ROOT, changed_tasks, once, run, total_changed, wait_for

pytestmark = pytest.mark.lab

ADD_WORKER = os.path.join(ROOT, 'playbooks', 'add-worker.yml')
REMOVE_NODE = os.path.join(ROOT, 'playbooks', 'remove-node.yml')
NEW = {'home-w-2': 'home', 'vps-w-0': 'vps'}


HOME_W2 = {'name': 'home-w-2', 'role': 'worker', 'node': 'pve2', 'vmid': 104, 'ip': '198.18.16.22'}


@pytest.fixture(scope='module')
def grown_plan(empty_lab, tmp_path_factory):
    """The lab's machines file with two more workers, one per site."""
    return _plan_file(tmp_path_factory, [{'name': 'vps-w-0', 'role': 'worker', 'location': 'fsn1'}], [HOME_W2])


def _plan_file(tmp_path_factory, servers_extra, vms_extra):
    plan = dict(MACHINES)
    plan['hcloud_nodes_servers'] = list(plan['hcloud_nodes_servers']) + servers_extra
    plan['proxmox_nodes_vms'] = list(plan['proxmox_nodes_vms']) + vms_extra
    path = str(tmp_path_factory.mktemp('plan') / 'machines.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(plan, handle)
    return path


def test_a_control_plane_is_refused_with_the_quorum_reason_before_anything_is_written(
        run_playbook, built_cluster, empty_lab, secrets_dir, grown_plan):
    assert built_cluster[0].rc == 0
    before = sorted(empty_lab.nodes())
    result = run(run_playbook, ADD_WORKER, empty_lab, secrets_dir, '-e', '@' + grown_plan, add_worker_names=['home-cp-0', 'home-w-2'])
    assert result.rc != 0
    failure = result.result('Check the names against the plan')
    assert 'home-cp-0 is a control plane: adding one changes the etcd member count and quorum' in failure['msg'], failure['msg']
    assert sorted(empty_lab.nodes()) == before  # home-w-2, though planned, was not made either


def test_workers_at_both_sites_join_turn_ready_get_their_csi_plugin_and_a_rerun_changes_nothing(
        run_playbook, built_cluster, empty_lab, secrets_dir, grown_plan):
    from kubernetes import client as k8s, config  # pylint: disable=import-outside-toplevel
    result = run(run_playbook, ADD_WORKER, empty_lab, secrets_dir, '-e', '@' + grown_plan, add_worker_names=sorted(NEW))
    assert result.rc == 0, result
    assert set(NEW) <= set(empty_lab.nodes())

    api = config.new_client_from_config(config_file=os.path.join(secrets_dir, 'kubeconfig'))
    core, storage = k8s.CoreV1Api(api), k8s.StorageV1Api(api)
    for name, site in NEW.items():
        node = core.read_node(name)
        labels = node.metadata.labels
        assert labels['hybridops.io/site'] == site and labels['node-role.kubernetes.io/worker'] == ''
        assert {c.type: c.status for c in node.status.conditions}['Ready'] == 'True'
        drivers = {d.name for d in storage.read_csi_node(name).spec.drivers or ()}
        assert drivers == ({'csi.hetzner.cloud'} if site == 'vps' else {'csi.proxmox.sinextra.dev'}), (name, drivers)
    assert core.read_node('vps-w-0').metadata.labels['instance.hetzner.cloud/provided-by'] == 'cloud'
    assert core.read_node('home-w-2').metadata.labels['topology.kubernetes.io/zone'] == 'pve2'

    mesh = once(result, 'Check that every KubeSpan link between the nodes is up')
    assert mesh['healthy'] and set(NEW) <= {n['name'] for n in mesh['nodes']}
    assert all(mesh['matrix'][name][peer] == 'up' for name in NEW for peer in mesh['matrix'][name] if peer != name), mesh['matrix']
    placement = once(result, "Check that each site's storage stays on that site")
    assert placement['violations'] == []

    again = run(run_playbook, ADD_WORKER, empty_lab, secrets_dir, '-e', '@' + grown_plan, add_worker_names=sorted(NEW))
    assert again.rc == 0, again
    assert total_changed(again) == 0, changed_tasks(again)


def test_a_control_plane_whose_removal_leaves_an_even_etcd_is_refused_before_anything_is_written(
        run_playbook, empty_lab, secrets_dir, grown_plan):
    result = run(run_playbook, REMOVE_NODE, empty_lab, secrets_dir, '-e', '@' + grown_plan, remove_node_name='home-cp-0')
    assert result.rc != 0
    failure = once(result, 'Check the removal before anything is written')
    assert 'Removing home-cp-0 would leave 2 etcd members, an even count' in failure['msg'], failure['msg']
    from kubernetes import client as k8s, config  # pylint: disable=import-outside-toplevel
    core = k8s.CoreV1Api(config.new_client_from_config(config_file=os.path.join(secrets_dir, 'kubeconfig')))
    assert not core.read_node('home-cp-0').spec.unschedulable  # not even cordoned


def test_the_hetzner_worker_is_drained_reset_and_deleted_and_a_second_run_changes_nothing(
        run_playbook, empty_lab, secrets_dir, tmp_path_factory):
    from hcloud import Client  # pylint: disable=import-outside-toplevel
    from kubernetes import client as k8s, config  # pylint: disable=import-outside-toplevel
    api = config.new_client_from_config(config_file=os.path.join(secrets_dir, 'kubeconfig'))
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    labels = {'app': 'drain-me'}
    apps.create_namespaced_deployment('default', {
        'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'drain-me'},
        'spec': {'replicas': 1, 'selector': {'matchLabels': labels}, 'template': {'metadata': {'labels': labels}, 'spec': {
            'nodeSelector': {'kubernetes.io/hostname': 'vps-w-0'},
            'containers': [{'name': 'app', 'image': 'registry.k8s.io/pause:3.10'}]}}}})
    selector = 'app=drain-me'
    first = wait_for(lambda: [p.metadata.name for p in core.list_namespaced_pod('default', label_selector=selector).items
                              if p.status.phase == 'Running'], 90, 'the pod on vps-w-0')
    shrunk = _plan_file(tmp_path_factory, [], [HOME_W2])  # vps-w-0 out of the plan, so that its server may go
    try:
        result = run(run_playbook, REMOVE_NODE, empty_lab, secrets_dir, '-e', '@' + shrunk, remove_node_name='vps-w-0',
                     remove_node_delete_machine=True)
        assert result.rc == 0, result
        assert once(result, 'Cordon the node and evict its pods (DaemonSet pods stay, as with kubectl drain)')['changed']
        assert once(result, 'Reset the node - a control plane leaves etcd first - and let it power off')['state'] == 'unreachable'
        assert not core.list_node(field_selector='metadata.name=vps-w-0').items
        hc = Client(token=empty_lab.env['HCLOUD_TOKEN'], api_endpoint=empty_lab.env['HCLOUD_ENDPOINT'])
        assert hc.servers.get_by_name('vps-w-0') is None
        remaining = {p.metadata.name: p for p in core.list_namespaced_pod('default', label_selector=selector).items}
        assert first[0] not in remaining and all(p.spec.node_name is None for p in remaining.values())  # evicted, nowhere to go

        again = run(run_playbook, REMOVE_NODE, empty_lab, secrets_dir, '-e', '@' + shrunk, remove_node_name='vps-w-0',
                    remove_node_delete_machine=True)
        assert again.rc == 0, again
        assert total_changed(again) == 0, changed_tasks(again)
    finally:
        apps.delete_namespaced_deployment('drain-me', 'default')


def test_the_home_worker_is_reset_and_its_vm_stopped_and_destroyed_and_a_second_run_changes_nothing(
        run_playbook, empty_lab, secrets_dir, tmp_path_factory):
    from lab_fixtures import proxmox  # pylint: disable=import-outside-toplevel
    from kubernetes import client as k8s, config  # pylint: disable=import-outside-toplevel
    core = k8s.CoreV1Api(config.new_client_from_config(config_file=os.path.join(secrets_dir, 'kubeconfig')))
    pve = proxmox(empty_lab.env)
    assert pve.nodes('pve2').qemu(HOME_W2['vmid']).status.current.get()['status'] == 'running'
    shrunk = _plan_file(tmp_path_factory, [], [])  # both new workers out of the plan
    checked = run(run_playbook, REMOVE_NODE, empty_lab, secrets_dir, '-e', '@' + shrunk, '--check',
                  remove_node_name='home-w-2', remove_node_delete_machine=True)
    assert checked.rc == 0, checked
    assert once(checked, 'Report the VM check mode would delete')['msg'] == 'would stop and destroy VM 104 and its disks'
    assert pve.nodes('pve2').qemu(HOME_W2['vmid']).status.current.get()['status'] == 'running'  # check mode touched nothing

    result = run(run_playbook, REMOVE_NODE, empty_lab, secrets_dir, '-e', '@' + shrunk, remove_node_name='home-w-2',
                 remove_node_delete_machine=True)
    assert result.rc == 0, result
    assert once(result, 'Stop the VM if it still runs, then destroy it and its disks')['changed']
    assert HOME_W2['vmid'] not in {vm['vmid'] for vm in pve.cluster.resources.get(type='vm')}
    assert not core.list_node(field_selector='metadata.name=home-w-2').items

    again = run(run_playbook, REMOVE_NODE, empty_lab, secrets_dir, '-e', '@' + shrunk, remove_node_name='home-w-2',
                remove_node_delete_machine=True)
    assert again.rc == 0, again
    assert total_changed(again) == 0, changed_tasks(again)
