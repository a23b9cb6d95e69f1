"""The cilium-cli stand-in's argument parsing and schema check (lab/kube/cilium.py), and the kubelet's termination message."""
import pytest

from lab.kube import cilium, kubelet

from ansible_collections.hybridops.talos.plugins.module_utils import _cilium


def test_the_command_we_render_parses_back_into_the_values():
    command = [doc for doc in _cilium.install_objects('1.18.3', _cilium.CLI_IMAGE, _cilium.values(1420, {'hubble.enabled': True}))
               if doc['kind'] == 'Job'][0]['spec']['template']['spec']['containers'][0]['command']
    options, values = cilium.parse_args(command)
    assert options == {'version': '1.18.3', 'namespace': 'kube-system'}
    assert values['MTU'] == 1420 and values['tunnelProtocol'] == 'vxlan' and values['hubble'] == {'enabled': True}
    assert values['k8sServiceHost'] == 'localhost' and values['k8sServicePort'] == 7445
    assert values['securityContext']['capabilities']['ciliumAgent'][:2] == ['CHOWN', 'KILL']
    assert cilium.schema_problems(values) == []


def test_helm_typing_of_set_values():
    values = cilium.parse_strvals('a=true,b=007,c=12,d=null,e=x\\,y,f={1,2}', {})
    assert values == {'a': True, 'b': '007', 'c': 12, 'd': None, 'e': 'x,y', 'f': [1, 2]}
    assert cilium.parse_strvals('a=true', {}, string=True) == {'a': 'true'}


@pytest.mark.parametrize('args, words', [
    (['cilium', 'install', '--bogus'], 'unknown flag: --bogus'),
    (['cilium', 'upgrade'], 'unknown command "upgrade"'),
    (['cilium', 'install', '--set'], 'flag needs an argument'),
    (['cilium', 'install', '--set', 'novalue'], 'has no value'),
])
def test_arguments_cilium_cli_refuses(args, words):
    with pytest.raises(cilium.CiliumFailure) as caught:
        cilium.parse_args(args)
    assert words in str(caught.value)


def test_a_value_of_the_wrong_type_is_helms_schema_message():
    _options, values = cilium.parse_args(['cilium', 'install', '--set-string', 'MTU=big', '--set', 'hubble.enabled=3'])
    assert cilium.schema_problems(values) == ['- MTU: Invalid type. Expected: integer, given: string',
                                              '- hubble.enabled: Invalid type. Expected: boolean, given: integer']


def test_the_config_map_carries_the_values_the_agent_reads():
    data = cilium.config_data({'routingMode': 'tunnel', 'tunnelProtocol': 'vxlan', 'MTU': 1370, 'ipam': {'mode': 'kubernetes'},
                               'kubeProxyReplacement': True})
    assert data['mtu'] == '1370' and data['tunnel-protocol'] == 'vxlan' and data['ipam'] == 'kubernetes'
    assert data['kube-proxy-replacement'] == 'true'


class _Context:
    def __init__(self, lines):
        self.output = lines


class _Container:
    def __init__(self, code, lines):
        self.code, self.context = code, _Context(lines)


def test_a_failed_container_gets_the_end_of_its_log_as_termination_message():
    spec = {'terminationMessagePolicy': 'FallbackToLogsOnError'}
    assert kubelet.termination_message(spec, _Container(1, ['one', 'Error: boom'])) == 'one\nError: boom'
    assert kubelet.termination_message(spec, _Container(0, ['fine'])) is None
    assert kubelet.termination_message({}, _Container(1, ['Error: boom'])) is None
    long = kubelet.termination_message(spec, _Container(1, ['x' * 100] * 100))
    assert len(long) == 2048
