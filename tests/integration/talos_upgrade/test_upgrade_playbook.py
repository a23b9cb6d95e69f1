"""playbooks/upgrade-talos.yml against the simulator: input checked before anything happens, the backup comes
first unless skipped, check mode changes nothing, every node goes to the target one at a time with the control
planes first, a second run changes nothing, and a rollback stops the play at that node."""
import pytest

from upgrade_support import CONTROL_PLANES, IMAGE, PLAYBOOK, START, TARGET, WORKERS

pytestmark = pytest.mark.lab

NODES = CONTROL_PLANES + WORKERS


def _run(lab, run_playbook, *args, **extra):
    values = dict(talos_upgrade_image=IMAGE, talos_upgrade_skip_backup=True, talos_upgrade_talosconfig=lab.talosconfig,
                  talos_upgrade_wait_timeout=60, talos_upgrade_etcd_wait_timeout=60)
    values.update(extra)
    values = {k: v for k, v in values.items() if v is not None}
    import json  # pylint: disable=import-outside-toplevel
    return run_playbook(PLAYBOOK, '-e', json.dumps(values), *args, inventory=lab.inventory)


def _upgrade_order(run):
    return [host for play in run.data['plays'] for task in play['tasks']
            if task['task']['name'] == 'Upgrade the node and check the version it comes back with' for host in task['hosts']]


def _upgrades(lab):
    return {name: lab.api_calls(name, 'Upgrade') for name in NODES}


def test_a_missing_or_untagged_image_stops_the_play_before_any_call(upgrade_lab, run_playbook):
    versions = {name: upgrade_lab.api_calls(name, 'Version') for name in NODES}
    for image in (None, 'ghcr.io/siderolabs/installer:latest'):
        run = _run(upgrade_lab, run_playbook, talos_upgrade_image=image)
        assert run.rc != 0
        msg = run.result('Check talos_upgrade_image')['msg']
        assert msg.startswith('Set talos_upgrade_image to an installer image whose tag is the Talos version'), msg
    assert {name: upgrade_lab.api_calls(name, 'Version') for name in NODES} == versions


def test_the_backup_comes_before_the_first_upgrade_unless_skipped(upgrade_lab, run_playbook):
    # No backup remote is configured: the backup role refuses, and it must do so before any node is touched.
    before = _upgrades(upgrade_lab)
    run = _run(upgrade_lab, run_playbook, talos_upgrade_skip_backup=None)
    assert run.rc != 0
    assert 'A backup needs talos_backup_remote' in run.result('Check the backup settings')['msg']
    assert _upgrades(upgrade_lab) == before


def test_check_mode_changes_nothing(upgrade_lab, run_playbook):
    before = _upgrades(upgrade_lab)
    run = _run(upgrade_lab, run_playbook, '--check')
    assert run.rc == 0, run
    assert sorted(h for h in NODES if run.changed(h)) == sorted(NODES)
    assert _upgrades(upgrade_lab) == before
    assert set(upgrade_lab.versions().values()) == {START}


def test_every_node_is_upgraded_one_at_a_time_control_planes_first(upgrade_lab, run_playbook):
    run = _run(upgrade_lab, run_playbook)
    assert run.rc == 0, run
    order = _upgrade_order(run)
    # serial: one host per batch; the control planes (in inventory order) before the worker
    assert sorted(order[:len(CONTROL_PLANES)]) == sorted(CONTROL_PLANES) and order[len(CONTROL_PLANES):] == list(WORKERS), order
    assert upgrade_lab.versions() == {name: TARGET for name in NODES}
    for name in NODES:
        assert run.changed(name) == 1, (name, run.stats)
    gates = [host for play in run.data['plays'] for task in play['tasks'] if task['task']['name'].startswith('Wait until etcd')
             for host, result in task['hosts'].items() if not result.get('skipped')]
    assert gates == order[:len(CONTROL_PLANES)]  # etcd checked before each control plane, and only then


def test_a_second_run_changes_nothing_and_calls_no_upgrade(upgrade_lab, run_playbook):
    before = _upgrades(upgrade_lab)
    run = _run(upgrade_lab, run_playbook)
    assert run.rc == 0, run
    assert all(not stats.get('changed') for stats in run.stats.values()), run.stats
    assert _upgrades(upgrade_lab) == before


def test_a_rollback_stops_the_play_at_that_node(upgrade_lab, run_playbook):
    spoiled = 'vps-0'
    proc = upgrade_lab.fault('upgrade-rollback', spoiled)
    assert proc.returncode == 0, proc.stderr
    newer = 'v1.9.8'
    run = _run(upgrade_lab, run_playbook, talos_upgrade_image=IMAGE.replace(TARGET, newer))
    assert run.rc != 0
    failed = run.result('Upgrade the node and check the version it comes back with', host=spoiled)
    assert failed['msg'].startswith('Node %s rolled back to %s after upgrade to %s: ' % (upgrade_lab.address(spoiled), TARGET, newer))
    order = _upgrade_order(run)
    assert order[-1] == spoiled, order  # nothing after the node that rolled back
    done = order[:-1]
    assert upgrade_lab.versions() == {name: newer if name in done else TARGET for name in NODES}
