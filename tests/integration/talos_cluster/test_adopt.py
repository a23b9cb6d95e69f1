"""Adopting a running cluster: two VPS control planes configured elsewhere from an existing bundle."""
# pylint: disable=redefined-outer-name  # pytest fixtures as arguments
import json
import os

import pytest

pytestmark = pytest.mark.lab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SITE = os.path.join(ROOT, 'playbooks', 'site.yml')
LAB_VARS = os.path.join(ROOT, 'examples', 'lab-vars.yml')
LAB_PREFIX = 'tcb-'
APPLY = 'Render, validate and apply the machine config'


def site(run_playbook, lab, *args, **extra_vars):
    cli = ['-e', '@' + LAB_VARS]
    for key, value in extra_vars.items():
        cli += ['-e', json.dumps({key: value})]
    return run_playbook(SITE, *(cli + list(args)), inventory=lab.inventory)


def task_results(run, name):
    """{host: result} of the tasks whose name starts with ``name`` (role prefix ignored), skipped hosts left out."""
    found = {}
    for play in run.data.get('plays', []):
        for task in play.get('tasks', []):
            if task['task']['name'].split(' : ')[-1].startswith(name):
                found.update({h: r for h, r in task['hosts'].items() if not r.get('skipped')})
    return found


def test_adopting_leaves_the_existing_control_planes_alone(run_playbook, talos_lab, tmp_path):
    elsewhere, here = str(tmp_path / 'elsewhere'), str(tmp_path / 'here')
    # The seed's situation: the two VPS control planes run, bootstrapped, from a bundle made elsewhere.
    before = site(run_playbook, talos_lab, '--limit', 'vps-0,vps-1', '--skip-tags', 'health',
                  talos_cluster_secrets_dir=elsewhere)
    assert before.rc == 0, before.stdout[-3000:]
    assert sorted(task_results(before, APPLY)) == ['vps-0', 'vps-1']

    adopted = site(run_playbook, talos_lab, talos_cluster_secrets_dir=here,
                   talos_cluster_adopt_secrets=os.path.join(elsewhere, 'secrets.yaml'),
                   talos_cluster_expect_configured=['vps-0', 'vps-1'])
    assert adopted.rc == 0, adopted.stdout[-3000:]
    applied = task_results(adopted, APPLY)
    assert {host: result['changed'] for host, result in applied.items()} == {
        'vps-0': False, 'vps-1': False, 'home-cp-0': True, 'home-w-0': True, 'home-w-1': True}
    assert not applied['vps-0']['maintenance'] and applied['home-cp-0']['maintenance']
    bootstrap = next(iter(task_results(adopted, 'Bootstrap etcd on the first control plane, once').values()))
    assert bootstrap['changed'] is False, 'etcd was bootstrapped a second time'
    health = next(iter(task_results(adopted, 'Check that every etcd member is healthy').values()))
    assert sorted(m['hostname'] for m in health['members']) == ['home-cp-0', 'vps-0', 'vps-1']
    with open(os.path.join(elsewhere, 'secrets.yaml'), 'rb') as mine, open(os.path.join(here, 'secrets.yaml'), 'rb') as theirs:
        assert mine.read() == theirs.read()

    again = site(run_playbook, talos_lab, talos_cluster_secrets_dir=here,
                 talos_cluster_adopt_secrets=os.path.join(elsewhere, 'secrets.yaml'),
                 talos_cluster_expect_configured=['vps-0', 'vps-1'])
    assert again.rc == 0 and sum(s['changed'] for s in again.stats.values()) == 0
