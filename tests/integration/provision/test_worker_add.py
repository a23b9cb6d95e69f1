"""playbooks/add-worker.yml on the cluster site.yml built (this file sorts last: the cluster grows here): a home
worker cloned from the template and a Hetzner worker booted from its user data join, turn Ready with their site's
labels, join the KubeSpan mesh and get their site's CSI node plugin; a second run changes nothing; a control plane
is refused before anything is written."""
# pylint: disable=redefined-outer-name  # pytest fixtures as arguments
import os

import pytest
import yaml
from provision_lab import MACHINES, ROOT, changed_tasks, once, run, total_changed

pytestmark = pytest.mark.lab

ADD_WORKER = os.path.join(ROOT, 'playbooks', 'add-worker.yml')
NEW = {'home-w-2': 'home', 'vps-w-0': 'vps'}


@pytest.fixture(scope='module')
def grown_plan(empty_lab, tmp_path_factory):
    """The lab's machines file with two more workers, one per site."""
    plan = dict(MACHINES)
    plan['hcloud_nodes_servers'] = list(plan['hcloud_nodes_servers']) + [{'name': 'vps-w-0', 'role': 'worker', 'location': 'fsn1'}]
    plan['proxmox_nodes_vms'] = list(plan['proxmox_nodes_vms']) + [
        {'name': 'home-w-2', 'role': 'worker', 'node': 'pve2', 'vmid': 104, 'ip': '198.18.16.22'}]
    path = str(tmp_path_factory.mktemp('grown') / 'machines.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(plan, handle)
    return path


def test_a_control_plane_is_refused_with_the_quorum_reason_before_anything_is_written(run_playbook, built_cluster, empty_lab,
                                                                                       secrets_dir, grown_plan):
    assert built_cluster[0].rc == 0
    before = sorted(empty_lab.nodes())
    result = run(run_playbook, ADD_WORKER, empty_lab, secrets_dir, '-e', '@' + grown_plan, add_worker_names=['home-cp-0', 'home-w-2'])
    assert result.rc != 0
    failure = result.result('Check the names against the plan')
    assert 'home-cp-0 is a control plane: adding one changes the etcd member count and quorum' in failure['msg'], failure['msg']
    assert sorted(empty_lab.nodes()) == before  # home-w-2, though planned, was not made either


def test_workers_at_both_sites_join_turn_ready_get_their_csi_plugin_and_a_rerun_changes_nothing(run_playbook, built_cluster, empty_lab,
                                                                                                 secrets_dir, grown_plan):
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
