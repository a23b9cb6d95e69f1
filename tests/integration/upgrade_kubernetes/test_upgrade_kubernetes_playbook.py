"""playbooks/upgrade-kubernetes.yml against simulated Talos nodes with the Kubernetes stand-in: two control planes
and a worker built at START by the collection's own modules (bring_up.yml). The tests build on one another in file
order: the refusals and check mode write nothing, the upgrade goes node by node with the control planes first and
each node's kubelet and API server at the new version, a rerun and the site.yml-equivalent render change nothing,
and a node whose kubelet stays NotReady stops the play there."""
import os
import shutil
import socket
import tempfile

import pytest
import yaml

from lab_fixtures import stop_with_directory

from k8s_upgrade_support import (BRING_UP, CNI, CONTROL_PLANES, NODES, PLAYBOOK, PREFIX, REMAP, START, TARGET, WORKERS,
                                 K8sUpgradeLab, backup_command, talos_command)

pytestmark = pytest.mark.lab

UPGRADE_TASK = 'Move the node to the new Kubernetes version and wait until it runs it'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _wait(check, timeout, what):
    from sim_support import wait_for  # pylint: disable=import-outside-toplevel
    return wait_for(check, timeout, step=0.5, what=what)


def _kube(lab):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    return client.ApiClient(config.new_client_from_config(config_file=lab.kubeconfig).configuration)


def _nodes(lab):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    found = {}
    for item in client.CoreV1Api(_kube(lab)).list_node().items:
        ready = next((c.status for c in item.status.conditions or () if c.type == 'Ready'), 'Unknown')
        found[item.metadata.name] = (item.status.node_info.kubelet_version, ready)
    return found


def _served_version(lab, name):
    import ssl  # pylint: disable=import-outside-toplevel
    import urllib.request  # pylint: disable=import-outside-toplevel
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # /version is public; only the answer matters
    with urllib.request.urlopen('https://%s:6443/version' % lab.address(name), context=context, timeout=5) as answer:
        return yaml.safe_load(answer.read())['gitVersion']


@pytest.fixture(scope='module')
def lab(run_playbook_module):
    if os.geteuid() != 0:
        pytest.skip('the Talos node simulator needs root (network namespaces)')
    state_dir = tempfile.mkdtemp(prefix='k8s-upgrade-')
    os.chmod(state_dir, 0o700)

    def down():
        backup_command(state_dir, 'down')
        talos_command(state_dir, 'down', prefix=PREFIX, remap=REMAP)
        if not os.environ.get('TALOS_SIM_KEEP'):
            shutil.rmtree(state_dir, ignore_errors=True)

    stop = stop_with_directory(__file__, down)
    try:
        proc = talos_command(state_dir, 'up', prefix=PREFIX, remap=REMAP)
        if proc.returncode != 0:
            pytest.fail('python -m lab.talos up failed: %s' % (proc.stderr or proc.stdout))
        built = K8sUpgradeLab(state_dir)
        backup = backup_command(state_dir, 'up', webdav_port=free_port(), vault_port=free_port())
        if backup.returncode != 0:
            pytest.fail('python -m lab.backup up failed: %s' % (backup.stderr or backup.stdout))
        from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets  # pylint: disable=import-outside-toplevel
        with open(os.open(built.secrets, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'wb') as handle:
            handle.write(secrets.dump_bundle(secrets.generate_bundle((1, 9))))
        run = run_playbook_module(BRING_UP, '-e', built.extra_vars(k8s_version=START), inventory=built.inventory)
        assert run.rc == 0, run
        from kubernetes import client  # pylint: disable=import-outside-toplevel
        _wait(lambda: len(_nodes(built)) == len(NODES), 90, 'three nodes registered')
        client.AppsV1Api(_kube(built)).create_namespaced_daemon_set('kube-system', CNI)
        _wait(lambda: all(ready == 'True' for dummy, ready in _nodes(built).values()), 90, 'three nodes Ready')
        yield built
    finally:
        stop()


def _run(lab, run_playbook, *args, **values):
    values = dict(dict(talos_cluster_kubernetes_version=TARGET, talos_kubernetes_upgrade_talosconfig=lab.talosconfig,
                       talos_kubernetes_upgrade_skip_backup=True,
                       talos_kubernetes_upgrade_kubeconfig=lab.kubeconfig, talos_kubernetes_upgrade_wait_timeout=30,
                       talos_kubernetes_upgrade_etcd_wait_timeout=30), **values)
    import json  # pylint: disable=import-outside-toplevel
    return run_playbook(PLAYBOOK, '-e', json.dumps(values), *args, inventory=lab.inventory)


def _refusal(run):
    """The message of the first node the survey refused (one item of the loop)."""
    survey = run.result('Read the Kubernetes version of every node')
    return next(item['msg'] for item in survey['results'] if item.get('failed'))


def _order(run):
    return [host for play in run.data['plays'] for task in play['tasks'] if task['task']['name'] == UPGRADE_TASK
            for host in task['hosts']]


@pytest.mark.parametrize('version, sentence', [
    ('1.31.6', 'Kubernetes 1.31.6 is older than the 1.31.7 the node runs: downgrades are not supported.'),
    ('1.33.1', 'Kubernetes 1.33.1 is more than one minor version ahead of the 1.31.7 the node runs: upgrade to 1.32 first.'),
])
def test_refusals_stop_the_play_before_any_node_is_written(lab, run_playbook, version, sentence):
    before = lab.applies()
    run = _run(lab, run_playbook, talos_cluster_kubernetes_version=version)
    assert run.rc != 0
    msg = _refusal(run)
    assert msg.endswith(sentence), msg
    assert lab.applies() == before


def test_check_mode_says_what_would_change_and_writes_nothing(lab, run_playbook):
    before = lab.applies()
    run = _run(lab, run_playbook, '--check')
    assert run.rc == 0, run
    assert sorted(h for h in NODES if run.changed(h)) == sorted(NODES)
    assert lab.applies() == before
    assert {v for v, dummy in _nodes(lab).values()} == {'v' + START}


def test_a_backup_then_every_node_moves_one_at_a_time_control_planes_first(lab, run_playbook):
    assert lab.backup_sets() == []
    run = _run(lab, run_playbook, **lab.backup_vars())
    assert run.rc == 0, run
    tasks = [task['task']['name'].split(' : ')[-1] for play in run.data['plays'] for task in play['tasks']]
    assert tasks.index('Make a new backup set, verified on the remote') < tasks.index(UPGRADE_TASK)
    assert len(lab.backup_sets()) == 1
    order = _order(run)
    assert sorted(order[:len(CONTROL_PLANES)]) == sorted(CONTROL_PLANES) and order[len(CONTROL_PLANES):] == list(WORKERS), order
    for name in NODES:
        assert run.changed(name) == 1, (name, run.stats)
    assert _nodes(lab) == {name: ('v' + TARGET, 'True') for name in NODES}
    assert {name: _served_version(lab, name) for name in CONTROL_PLANES} == {name: 'v' + TARGET for name in CONTROL_PLANES}
    gates = [host for play in run.data['plays'] for task in play['tasks'] if task['task']['name'].startswith('Wait until etcd')
             for host, result in task['hosts'].items() if not result.get('skipped')]
    assert gates == order[:len(CONTROL_PLANES)]


def test_a_rerun_changes_nothing_writes_nothing_and_takes_no_backup(lab, run_playbook):
    before = lab.applies()
    run = _run(lab, run_playbook, **lab.backup_vars())
    assert run.rc == 0, run
    assert all(not stats.get('changed') for stats in run.stats.values()), run.stats
    assert lab.applies() == before and len(lab.backup_sets()) == 1


def test_the_site_render_with_the_new_version_changes_nothing(lab, run_playbook):
    run = run_playbook(BRING_UP, '-e', lab.extra_vars(k8s_version=TARGET), inventory=lab.inventory)
    assert run.rc == 0, run
    assert all(not stats.get('changed') for stats in run.stats.values()), run.stats


def test_talos_support_refuses_the_next_minor_on_talos_1_9(lab, run_playbook):
    before = lab.applies()
    run = _run(lab, run_playbook, talos_cluster_kubernetes_version='1.33.1')
    assert run.rc != 0
    msg = _refusal(run)
    assert msg.endswith('Talos v1.9.6 supports Kubernetes 1.27 to 1.32, not 1.33.1.'), msg
    assert lab.applies() == before


def test_a_node_that_stays_not_ready_stops_the_play_there(lab, run_playbook):
    spoiled = 'vps-1'
    proc = lab.fault('kubelet-notready', spoiled)
    assert proc.returncode == 0, proc.stderr
    newer = '1.32.5'
    run = _run(lab, run_playbook, talos_cluster_kubernetes_version=newer, talos_kubernetes_upgrade_wait_timeout=8)
    assert run.rc != 0
    failed = run.result(UPGRADE_TASK, host=spoiled)
    assert failed['msg'].startswith('Node %s did not come up at Kubernetes %s within 8 seconds (last seen: kubelet v%s, Ready False)'
                                    % (spoiled, newer, newer)), failed['msg']
    order = _order(run)
    assert order[-1] == spoiled, order  # nothing after the node that failed its gate
    assert WORKERS[0] not in order
    assert _nodes(lab)[WORKERS[0]][0] == 'v' + TARGET
