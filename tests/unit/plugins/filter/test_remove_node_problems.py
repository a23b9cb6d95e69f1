"""The remove_node_problems filter: etcd quorum and the plan before a node is removed (pure logic)."""
from ansible_collections.hybridops.talos.plugins.filter.remove_node_problems import remove_node_problems


def _etcd(*names, down=()):
    members = [{'id': 'id-' + n, 'hostname': n} for n in names]
    statuses = {'ip-' + n: ({'error': 'unreachable'} if n in down else {'member_id': 'id-' + n, 'errors': []}) for n in names}
    return {'members': members, 'statuses': statuses}


def test_a_worker_needs_nothing_of_etcd():
    assert remove_node_problems('w', 'worker', {}) == []


def test_five_to_four_is_even_and_needs_allow_unsafe():
    etcd = _etcd('a', 'b', 'c', 'd', 'e')
    problems = remove_node_problems('e', 'controlplane', etcd, 'ip-e')
    assert problems and 'leave 4 etcd members, an even count that tolerates no more failures than 3' in problems[0]
    assert remove_node_problems('e', 'controlplane', etcd, 'ip-e', allow_unsafe=True) == []
    assert remove_node_problems('c', 'controlplane', _etcd('a', 'b', 'c', 'd'), 'ip-c') == []  # 4 -> 3


def test_quorum_loss_is_refused_even_with_allow_unsafe_and_names_the_members_down():
    problems = remove_node_problems('c', 'controlplane', _etcd('a', 'b', 'c', down=('b',)), 'ip-c', allow_unsafe=True)
    assert problems == ['Removing c would leave 1 healthy of 2 etcd members, fewer than the quorum of 2, and etcd would stop: '
                        'bring b back first.']


def test_the_last_member_and_a_planned_machine_are_refused():
    assert 'the last etcd member' in remove_node_problems('a', 'controlplane', _etcd('a'), 'ip-a')[0]
    problems = remove_node_problems('w', 'worker', planned=['w'], delete_machine=True)
    assert problems and 'w is still in the plan' in problems[0]
    assert remove_node_problems('w', 'worker', planned=['w']) == []  # kept machines may stay planned


def test_a_node_that_left_etcd_already_is_not_judged_by_it():
    assert remove_node_problems('x', 'controlplane', _etcd('a', 'b'), 'ip-x') == []
