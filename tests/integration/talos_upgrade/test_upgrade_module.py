"""talos_upgrade against the simulator, run by ansible-playbook: check mode calls no Upgrade, a bad image is refused
before any call, and a node that comes back at its old version fails the task with one sentence saying so."""
import pytest

from upgrade_support import IMAGE, START, TARGET

pytestmark = pytest.mark.lab


def _task(lab, name, **options):
    args = dict(node=lab.address(name), image=IMAGE, talosconfig=lab.talosconfig, wait_timeout=60)
    args.update(options)
    return [{'name': 'upgrade', 'hosts': 'localhost', 'gather_facts': False,
             'tasks': [{'name': 'talos_upgrade', 'hybridops.talos.talos_upgrade': args}]}]


def test_check_mode_reports_the_change_and_calls_no_upgrade(upgrade_lab, run_playbook):
    before = upgrade_lab.api_calls('vps-1', 'Upgrade')
    run = run_playbook(_task(upgrade_lab, 'vps-1'), '--check', '--diff')
    assert run.rc == 0, run
    result = run.result('talos_upgrade')
    assert result['changed'] is True and result['decision'] == 'upgrade'
    assert (result['previous_version'], result['version'], result['target_version']) == (START, START, TARGET)
    assert result['diff'] == {'before': {'version': START}, 'after': {'version': TARGET}}
    assert upgrade_lab.api_calls('vps-1', 'Upgrade') == before
    assert upgrade_lab.version('vps-1') == START


def test_an_image_without_a_version_is_refused_before_any_call(upgrade_lab, run_playbook):
    before = upgrade_lab.api_calls('vps-1', 'Version')
    run = run_playbook(_task(upgrade_lab, 'vps-1', image='ghcr.io/siderolabs/installer:latest'))
    assert run.rc != 0
    result = run.result('talos_upgrade')
    assert result['failure']['reason'] == 'bad_input' and "'latest'" in result['msg']
    assert upgrade_lab.api_calls('vps-1', 'Version') == before


def test_a_rollback_fails_the_task_naming_both_versions(upgrade_lab, run_playbook):
    proc = upgrade_lab.fault('upgrade-rollback', 'home-w-0')
    assert proc.returncode == 0, proc.stderr
    run = run_playbook(_task(upgrade_lab, 'home-w-0'))
    assert run.rc != 0
    result = run.result('talos_upgrade')
    address = upgrade_lab.address('home-w-0')
    assert result['msg'].startswith('Node %s rolled back to %s after upgrade to %s: ' % (address, START, TARGET)), result['msg']
    assert result['failure']['reason'] == 'rolled_back' and result['changed'] is False
    assert result['version'] == START and result['actor_id']
    assert upgrade_lab.version('home-w-0') == START
