"""hybridops.talos.cluster_topology through ansible-playbook on localhost."""
import pytest

SEED = [
    {'name': 'vps-0', 'role': 'controlplane', 'site': 'vps'},
    {'name': 'vps-1', 'role': 'controlplane', 'site': 'vps'},
    {'name': 'home-cp-0', 'role': 'controlplane', 'site': 'home'},
    {'name': 'home-w-0', 'role': 'worker', 'site': 'home'},
    {'name': 'home-w-1', 'role': 'worker', 'site': 'home'},
]


def play(args, check=False):
    return [{
        'name': 'topology', 'hosts': 'localhost', 'gather_facts': False,
        'tasks': [{'name': 'check topology', 'hybridops.talos.cluster_topology': args}],
    }]


def test_seed_topology_table(run_playbook):
    run = run_playbook(play({'nodes': SEED, 'ingress_sites': ['vps']}))
    assert run.rc == 0, run.stdout
    result = run.result('check topology')
    assert result['changed'] is False
    assert (result['etcd_members'], result['quorum'], result['tolerated_failures']) == (3, 2, 1)
    rows = {r['scenario']: r for r in result['failure_modes']}
    assert rows['node vps-1 down']['etcd_quorum'] and rows['node vps-1 down']['ingress']
    assert not rows['site vps down']['etcd_quorum'] and not rows['site vps down']['ingress']
    assert rows['site home down']['etcd_members_up'] == 2 and rows['site home down']['etcd_quorum']
    assert result['summary'][-1].split() == ['site', 'vps', 'down', '1/3', 'LOST', 'DOWN', 'DOWN']


def test_check_mode_gives_the_same_answer(run_playbook):
    run = run_playbook(play({'nodes': SEED}), '--check')
    assert run.rc == 0
    assert run.result('check topology')['etcd_members'] == 3


def test_allow_unsafe_warns_instead_of_failing(run_playbook):
    run = run_playbook(play({'nodes': SEED[:2], 'allow_unsafe': True}))
    assert run.rc == 0
    result = run.result('check topology')
    assert any('2 control planes is an even number' in w for w in result['warnings'])


# The playbook path of bad input; every case is tested in-process in tests/unit/plugins/modules/test_argument_handling.py.
BAD_INPUTS = [
    ({'nodes': [{'name': 'a', 'role': 'master', 'site': 'vps'}]}, 'role must be one of: controlplane, worker'),
    ({'nodes': SEED[:2]}, '2 control planes is an even number: quorum is 2'),
]


@pytest.mark.parametrize('args,message', BAD_INPUTS, ids=[message for _args, message in BAD_INPUTS])
def test_bad_input_rejected_with_clear_message(run_playbook, args, message):
    run = run_playbook(play(args))
    assert run.rc != 0
    result = run.result('check topology')
    assert result['failed'] is True
    assert message in result['msg'], result['msg']
    if 'quorum' in message:  # the module's own failure carries the collection's failure shape
        assert result['failure']['reason'] == 'unsafe_topology' and result['failure']['message'] in result['msg']
