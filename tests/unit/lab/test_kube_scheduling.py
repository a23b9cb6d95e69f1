"""The scheduler stand-in's predicates and messages (lab/kube/scheduling.py)."""
from lab.kube import scheduling


def node(name, labels=None, taints=None, unschedulable=False):
    return {'metadata': {'name': name, 'labels': dict({'kubernetes.io/hostname': name}, **(labels or {}))},
            'spec': dict({'taints': taints or []}, **({'unschedulable': True} if unschedulable else {}))}


CONTROL_PLANE = {'key': 'node-role.kubernetes.io/control-plane', 'effect': 'NoSchedule'}
NOT_READY = {'key': 'node.kubernetes.io/not-ready', 'effect': 'NoSchedule'}


def test_tolerations_match_as_the_api_defines():
    assert scheduling.tolerates({'operator': 'Exists'}, CONTROL_PLANE)
    assert scheduling.tolerates({'key': CONTROL_PLANE['key'], 'operator': 'Exists'}, CONTROL_PLANE)
    assert not scheduling.tolerates({'key': CONTROL_PLANE['key'], 'operator': 'Exists', 'effect': 'NoExecute'}, CONTROL_PLANE)
    assert scheduling.tolerates({'key': 'dedicated', 'value': 'gpu'}, {'key': 'dedicated', 'value': 'gpu', 'effect': 'NoSchedule'})
    assert not scheduling.tolerates({'key': 'dedicated', 'operator': 'Equal', 'value': 'cpu'},
                                    {'key': 'dedicated', 'value': 'gpu', 'effect': 'NoSchedule'})
    prefer = {'key': 'soft', 'effect': 'PreferNoSchedule'}
    assert scheduling.untolerated_taint([prefer], []) is None, 'PreferNoSchedule never filters'


def test_node_affinity_operators():
    labels = {'zone': 'home', 'rank': '5'}
    target = node('n', labels)

    def fits(*expressions):
        spec = {'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {
            'nodeSelectorTerms': [{'matchExpressions': list(expressions)}]}}}}
        return scheduling.affinity_matches(spec, target)
    assert fits({'key': 'zone', 'operator': 'In', 'values': ['home', 'vps']})
    assert not fits({'key': 'zone', 'operator': 'NotIn', 'values': ['home']})
    assert fits({'key': 'missing', 'operator': 'NotIn', 'values': ['x']})
    assert fits({'key': 'zone', 'operator': 'Exists'}) and not fits({'key': 'zone', 'operator': 'DoesNotExist'})
    assert fits({'key': 'rank', 'operator': 'Gt', 'values': ['4']}) and not fits({'key': 'rank', 'operator': 'Lt', 'values': ['5']})
    assert not fits({'key': 'zone', 'operator': 'Gt', 'values': ['1']}), 'Gt on a non-integer never matches'
    terms = {'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [
        {'matchExpressions': [{'key': 'zone', 'operator': 'In', 'values': ['vps']}]},
        {'matchFields': [{'key': 'metadata.name', 'operator': 'In', 'values': ['n']}]}]}}}}
    assert scheduling.affinity_matches(terms, target), 'terms are ORed; matchFields on metadata.name'
    assert not scheduling.affinity_matches({'nodeSelector': {'zone': 'vps'}}, target)


def test_fit_error_counts_each_node_under_its_first_failing_filter():
    nodes = [node('cp-%d' % i, taints=[CONTROL_PLANE, NOT_READY]) for i in range(3)] + \
            [node('w-%d' % i, taints=[NOT_READY]) for i in range(2)]
    chosen, message = scheduling.choose({}, nodes, {})
    assert chosen is None
    assert message == ('0/5 nodes are available: 2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, '
                       '3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. '
                       'preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.')


def test_unschedulable_nodes_and_starved_pods():
    nodes = [node('a', unschedulable=True), node('b')]
    assert scheduling.choose({}, nodes, {}) == ('b', None)
    _chosen, message = scheduling.choose({}, nodes, {}, starved=True)
    assert message == ('0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. preemption: 0/2 nodes are '
                       'available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.')
    assert scheduling.choose({}, [], {}) == (None, 'no nodes available to schedule pods')


def test_the_least_loaded_feasible_node_wins():
    nodes = [node('a'), node('b'), node('c', taints=[CONTROL_PLANE])]
    assert scheduling.choose({}, nodes, {'a': 3, 'b': 1}) == ('b', None)


def test_daemonset_pods_tolerate_what_the_controller_adds():
    not_ready_execute = {'key': 'node.kubernetes.io/not-ready', 'effect': 'NoExecute'}
    assert scheduling.daemon_pod_fits({}, node('n', taints=[not_ready_execute]))
    assert not scheduling.daemon_pod_fits({}, node('n', taints=[NOT_READY])), 'NoSchedule not-ready is not tolerated by default'
    assert scheduling.daemon_pod_fits({'tolerations': [{'operator': 'Exists'}]}, node('n', taints=[CONTROL_PLANE, NOT_READY]))
    network = {'key': 'node.kubernetes.io/network-unavailable', 'effect': 'NoSchedule'}
    assert scheduling.daemon_pod_fits({'hostNetwork': True}, node('n', taints=[network]))
