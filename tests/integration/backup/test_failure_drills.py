"""Failure drills with real etcd: one control plane of three stopped, then two, then both back.

- One down, the quorum held: backup.yml still makes a set, from a member that answers, and warns with the name of
  the member down; an upgrade, which reboots the control planes one at a time, refuses before anything is read or
  written and names it.
- Two down, the quorum lost: site.yml, remove-node.yml, upgrade-kubernetes.yml and backup.yml refuse before anything
  is written, say the quorum is lost, name the members down and point at restore.yml.
- Both back: site.yml is changed=0 on every host.

The lab's cluster is the backup package's (tests/integration/backup/conftest.py); runs after test_drill.py and
leaves the cluster as it found it.
"""
# pylint: disable=redefined-outer-name,unused-argument  # pytest fixtures as arguments
import os

import pytest

from backup_support import LAB_VARS, ROOT, SITE, extra_vars

pytestmark = pytest.mark.lab

BACKUP = os.path.join(ROOT, 'playbooks', 'backup.yml')
REMOVE_NODE = os.path.join(ROOT, 'playbooks', 'remove-node.yml')
UPGRADE_TALOS = os.path.join(ROOT, 'playbooks', 'upgrade-talos.yml')
UPGRADE_KUBERNETES = os.path.join(ROOT, 'playbooks', 'upgrade-kubernetes.yml')
# The calls that would change a node: none of them may reach any node while a playbook refuses.
WRITES = ('ApplyConfiguration', 'Upgrade', 'Reset', 'Reboot', 'EtcdRemoveMemberByID', 'EtcdLeaveCluster')
# The gate waits this long for a quorum that does not come back (talos_cluster_quorum_wait_timeout, 30 s by default).
GATE = dict(talos_cluster_quorum_wait_timeout=3)


def run(run_playbook, lab, path, *args, **extra):
    values = lab.backup_vars(talos_cluster_kubespan_check=False, **dict(GATE, **extra))
    return run_playbook(path, '-e', '@' + LAB_VARS, *(extra_vars(values) + list(args)), inventory=lab.inventory,
                        env=lab.credentials_env())


def writes(lab):
    return {node: sum(lab.api_calls(node, call) for call in WRITES) for node in lab.nodes}


def warnings_of(run_result):
    found = []
    for play in run_result.data.get('plays', []):
        for task in play.get('tasks', []):
            for result in task['hosts'].values():
                found += result.get('warnings') or []
    return found


def failure(run_result):
    return ' '.join(str(line) for line in run_result.failures())


@pytest.fixture
def one_down(converged):
    """vps-1 stopped; every node running again afterwards (the next drill stops it again)."""
    assert converged.talos('stop', 'vps-1').returncode == 0
    yield converged
    assert converged.talos('up').returncode == 0


def test_one_member_down_backup_works_and_names_it_and_an_upgrade_refuses(run_playbook, one_down):
    lab = one_down
    sets = set(lab.remote_sets())
    backup = run(run_playbook, lab, BACKUP)
    assert backup.rc == 0, failure(backup) or backup.stderr[-2000:]
    made = backup.result('Make a new backup set, verified on the remote')
    assert made['etcd']['snapshot_member'] != 'vps-1' and len(set(lab.remote_sets()) - sets) == 1
    assert any('etcd member vps-1 does not answer' in warning and 'quorum of 2 holds' in warning
               for warning in warnings_of(backup)), warnings_of(backup)

    before, sets = writes(lab), set(lab.remote_sets())
    upgrade = run(run_playbook, lab, UPGRADE_TALOS, talos_upgrade_image='ghcr.io/siderolabs/installer:v1.9.7')
    assert upgrade.rc != 0
    assert 'needs every etcd member, and vps-1 does not answer' in failure(upgrade), failure(upgrade)
    assert any('etcd member vps-1 does not answer' in warning for warning in warnings_of(upgrade))
    assert writes(lab) == before and set(lab.remote_sets()) == sets  # no node touched, no backup taken


@pytest.fixture
def two_down(converged):
    """vps-1 and home-cp-0 stopped: vps-0's etcd is alone, without its quorum."""
    for node in ('vps-1', 'home-cp-0'):
        assert converged.talos('stop', node).returncode == 0
    yield converged
    assert converged.talos('up').returncode == 0


@pytest.mark.parametrize('path, extra', [
    (SITE, {}),
    (REMOVE_NODE, dict(remove_node_name='home-w-0')),
    (UPGRADE_KUBERNETES, dict(talos_cluster_kubernetes_version='1.32.3')),
    (BACKUP, {}),
], ids=['site', 'remove-node', 'upgrade-kubernetes', 'backup'])
def test_two_members_down_every_playbook_refuses_and_points_at_restore(run_playbook, two_down, path, extra):
    lab = two_down
    before, sets = writes(lab), set(lab.remote_sets())
    refused = run(run_playbook, lab, path, **extra)
    assert refused.rc != 0
    message = failure(refused)
    assert 'lost its quorum' in message and 'playbooks/restore.yml' in message, message
    assert 'home-cp-0' in message and 'vps-1' in message, message
    assert writes(lab) == before and set(lab.remote_sets()) == sets


def test_with_every_member_back_site_changes_nothing(run_playbook, converged):
    # The fixtures above brought every node back; site.yml's etcd check waits until all three members are healthy.
    again = run(run_playbook, converged, SITE)
    assert again.rc == 0, failure(again) or again.stderr[-2000:]
    assert all(stats.get('changed') == 0 for stats in again.stats.values()), again.stats
