"""The add_worker_problems filter: what add-worker.yml refuses before anything is written (pure logic)."""
import pytest

from ansible_collections.hybridops.talos.plugins.filter.add_worker_problems import add_worker_problems, worker_names

PLAN = [{'name': 'vps-0', 'role': 'controlplane'}, {'name': 'home-w-0', 'role': 'worker'},
        {'name': 'home-w-2', 'role': 'worker'}, {'name': 'vps-w-0', 'role': 'worker'}]
RUNNING = ['vps-0', 'home-w-0']


def test_planned_workers_can_be_added_as_a_list_or_a_string():
    assert add_worker_problems(['home-w-2', 'vps-w-0'], PLAN, RUNNING) == []
    assert add_worker_problems('home-w-2, vps-w-0', PLAN, RUNNING) == []
    assert worker_names('a,b') == ['a', 'b'] and worker_names(['a']) == ['a'] and worker_names(3) is None


@pytest.mark.parametrize('names,plan,message', [
    ([], PLAN, 'add_worker_names must name at least one worker'),
    ([1], PLAN, 'add_worker_names must name at least one worker'),
    (['home-w-9'], PLAN, 'home-w-9 is not in the plan: add it to hcloud_nodes_servers or proxmox_nodes_vms'),
    (['vps-0'], PLAN, 'vps-0 is a control plane: adding one changes the etcd member count and quorum'),
    (['home-w-2'], PLAN + [{'name': 'vps-2', 'role': 'controlplane'}], 'control plane(s) vps-2 that do not run yet'),
])
def test_refusals_say_why(names, plan, message):
    problems = add_worker_problems(names, plan, RUNNING)
    assert any(message in p for p in problems), problems
