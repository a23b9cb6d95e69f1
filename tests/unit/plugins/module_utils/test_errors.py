"""The one failure shape: message wording and the structured failure (pure logic)."""
from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.errors import TalosConfigError
from ansible_collections.hybridops.talos.plugins.module_utils._topology import TopologyError


def test_the_message_names_the_call_and_the_node_when_known():
    error = ModuleError('unhealthy', 'its member gave no status', node='192.0.2.1', call='EtcdStatus', status='UNAVAILABLE',
                        member='vps-0')
    assert error.message == 'EtcdStatus on node 192.0.2.1 failed: its member gave no status.'
    assert error.failure == dict(reason='unhealthy', node='192.0.2.1', call='EtcdStatus', status='UNAVAILABLE',
                                 message='its member gave no status', member='vps-0')
    assert ModuleError('x', 'about a node', node='n1').message == 'Node n1: about a node.'
    assert ModuleError('x', 'bad input.').message == 'bad input.'


def test_a_worded_sentence_replaces_the_composed_one_but_not_the_failure():
    error = ModuleError('bootstrap_refused', 'why', node='n', call='Bootstrap', sentence='Refusing to bootstrap etcd on n: why.')
    assert str(error) == 'Refusing to bootstrap etcd on n: why.' and error.failure['message'] == 'why'


def test_every_error_of_the_collection_is_the_one_shape():
    api = TalosApiError('wrong_ca', 'not our CA', node='n', call='Version')
    assert api.message == 'Talos API call Version to node n failed: not our CA.'
    config = TalosConfigError('secrets bundle /x does not exist.', reason='missing_file', path='/x')
    topology = TopologyError('nodes is empty.')
    for error in (api, config, topology):
        assert isinstance(error, ModuleError)
        assert {'reason', 'node', 'call', 'status', 'message'} <= set(error.failure)
    assert config.failure['reason'] == 'missing_file' and config.failure['path'] == '/x'
    assert topology.failure['reason'] == 'bad_input'


def test_result_keys_travel_with_the_error_not_in_the_failure():
    error = ModuleError('mesh_unhealthy', 'two links broken', result=dict(healthy=False))
    assert error.result == dict(healthy=False) and 'healthy' not in error.failure
