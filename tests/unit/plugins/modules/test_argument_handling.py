"""Bad input is refused with a clear message before anything is written, tested in-process per module.

Each case runs the module's real ``main()`` (see module_runner.py); a few of the same cases also run
through ansible-playbook in tests/integration, to prove the playbook path.
"""
import os

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets
from ansible_collections.hybridops.talos.plugins.module_utils._talos.render import render

from module_runner import run_module

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCHEMAS = os.path.join(ROOT, 'talos_schemas')

SEED = [
    {'name': 'vps-0', 'role': 'controlplane', 'site': 'vps'},
    {'name': 'vps-1', 'role': 'controlplane', 'site': 'vps'},
    {'name': 'home-cp-0', 'role': 'controlplane', 'site': 'home'},
    {'name': 'home-w-0', 'role': 'worker', 'site': 'home'},
    {'name': 'home-w-1', 'role': 'worker', 'site': 'home'},
]

TOPOLOGY_INPUTS = [
    ({'nodes': []}, 'nodes is empty'),
    ({'nodes': [{'name': 'a', 'site': 'vps'}]}, 'missing required arguments: role'),
    ({'nodes': [{'name': 'a', 'role': 'master', 'site': 'vps'}]}, 'role must be one of: controlplane, worker'),
    ({'nodes': [{'name': 'a', 'role': 'controlplane'}]}, 'missing required arguments: site'),
    ({'nodes': [{'role': 'controlplane', 'site': 'vps'}]}, 'missing required arguments: name'),
    ({'nodes': SEED + SEED[:1]}, 'node name vps-0 appears more than once'),
    ({'nodes': SEED[:2]}, '2 control planes is an even number: quorum is 2'),
    ({'nodes': SEED[3:]}, 'there are 0 control planes'),
    ({'nodes': [dict(SEED[0], name='cp-%d' % i) for i in range(9)]}, '9 control planes is more than 7'),
    ({'nodes': SEED, 'ingress_sites': ['cloud']}, 'ingress site cloud has no node'),
    ({'nodes': [dict(SEED[0], site='')]}, 'node vps-0 has no site'),
    ({'nodes': 'vps-0'}, 'dictionary requested'),
]


@pytest.mark.parametrize('args,message', TOPOLOGY_INPUTS, ids=[message for _args, message in TOPOLOGY_INPUTS])
def test_cluster_topology_refuses_bad_input(capsys, args, message):
    result = run_module(capsys, 'cluster_topology', args)
    assert result['failed'] is True
    assert message in result['msg'], result['msg']


NODE = dict(cluster_name='hybrid', cluster_endpoint='https://k8s.example.net:6443', talos_version='v1.9.6',
            kubernetes_version='1.32.3', site='vps', underlay_mtu=1450, schema_dir=SCHEMAS)


def private(path, data):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, 0o600)
    return path


@pytest.fixture(scope='module')
def bundle_bytes():
    return secrets.dump_bundle(secrets.generate_bundle((1, 9)))


@pytest.fixture
def bundle(tmp_path, bundle_bytes):
    return private(str(tmp_path / 's' / 'secrets.yaml'), bundle_bytes)


def worker_config(tmp_path, bundle_bytes):
    import yaml
    spec = dict(NODE, role='worker')
    text = render(spec, yaml.safe_load(bundle_bytes)).text
    return private(str(tmp_path / 'adopt' / 'worker.yaml'), text.encode())


TALOS_INPUTS = [
    ('wrong permissions', 'talos_secrets', lambda tmp, b, raw: (os.chmod(b, 0o644), {'path': b})[1],
     'has mode 0644: it holds private keys and must be 0600'),
    ('missing secrets file', 'talos_machineconfig', lambda tmp, b, raw: dict(NODE, secrets=str(tmp / 'nope.yaml'), role='worker'),
     'secrets bundle {tmp}/nope.yaml does not exist'),
    ('unknown role', 'talos_machineconfig', lambda tmp, b, raw: dict(NODE, secrets=b, role='master'),
     'value of role must be one of: controlplane, worker'),
    ('worker config adoption', 'talos_secrets', lambda tmp, b, raw: {
        'path': str(tmp / 'new' / 'secrets.yaml'), 'adopt_from_machineconfig': worker_config(tmp, raw)},
     'is a worker config: it holds no CA private keys'),
    ('reading the cluster without a node', 'talos_secrets', lambda tmp, b, raw: {
        'path': str(tmp / 'new' / 'secrets.yaml'), 'adopt_from_cluster': True},
     'adopt_from_cluster is True but all of the following are missing: node'),
    ('two adoption sources', 'talos_secrets', lambda tmp, b, raw: {
        'path': str(tmp / 'new' / 'secrets.yaml'), 'adopt_from': b, 'adopt_from_cluster': True, 'node': '192.0.2.1'},
     'adopt_from_cluster cannot be combined with adopt_from or adopt_from_machineconfig: choose one source'),
    ('two adoption files', 'talos_secrets', lambda tmp, b, raw: {
        'path': str(tmp / 'new' / 'secrets.yaml'), 'adopt_from': b, 'adopt_from_machineconfig': b},
     'parameters are mutually exclusive: adopt_from|adopt_from_machineconfig'),
    ('return_content without no_log', 'talos_machineconfig',
     lambda tmp, b, raw: dict(NODE, secrets=b, role='worker', return_content=True),
     'return_content needs no_log: true'),
    ('talosconfig endpoint with a scheme', 'talos_talosconfig', lambda tmp, b, raw: {
        'secrets': b, 'dest': str(tmp / 'tc'), 'endpoints': ['https://203.0.113.10']},
     "endpoints: 'https://203.0.113.10' is not a host or host:port"),
    ('unknown talos role', 'talos_talosconfig', lambda tmp, b, raw: {
        'secrets': b, 'dest': str(tmp / 'tc'), 'endpoints': ['a'], 'role': 'os:root'}, 'value of role must be one of'),
    ('secrets folder open to others', 'talos_secrets', lambda tmp, b, raw: (
        os.makedirs(str(tmp / 'open'), mode=0o755), os.chmod(str(tmp / 'open'), 0o755), {'path': str(tmp / 'open' / 'secrets.yaml')})[2],
     'has mode 0755: secrets live in a 0700 folder'),
    ('applied without a node', 'talos_machineconfig', lambda tmp, b, raw: dict(NODE, secrets=b, role='worker', state='applied'),
     'state is applied but all of the following are missing: node'),
    ('renewal window below zero', 'talos_kubeconfig', lambda tmp, b, raw: {
        'node': '192.0.2.1', 'dest': str(tmp / 'kc'), 'renew_before_hours': -1},
     'renew_before_hours must not be negative, got -1'),
    ('etcd info without nodes', 'talos_etcd_info', lambda tmp, b, raw: {'nodes': []},
     'nodes is empty: give the Talos API addresses of the control planes'),
    ('a mesh of one', 'kubespan_verify', lambda tmp, b, raw: {'nodes': ['192.0.2.1']},
     'nodes must list at least two nodes to make a mesh.'),
    ('a picture that is not SVG', 'kubespan_verify', lambda tmp, b, raw: {'nodes': ['192.0.2.1', '192.0.2.2'], 'picture': 'm.png'},
     'picture must be an .svg path: only SVG pictures are drawn, got m.png.'),
    ('the old option name endpoint', 'talos_bootstrap', lambda tmp, b, raw: {'endpoint': '192.0.2.1', 'node': '192.0.2.1'},
     'Unsupported parameters for (basic.py) module: endpoint'),
]


@pytest.mark.parametrize('case, module, make_args, message', TALOS_INPUTS, ids=[c[0] for c in TALOS_INPUTS])
def test_talos_modules_refuse_bad_input_before_writing(capsys, tmp_path, bundle, bundle_bytes, case, module, make_args, message):
    args = make_args(tmp_path, bundle, bundle_bytes)
    before = sorted(str(p) for p in tmp_path.rglob('*'))
    result = run_module(capsys, module, args)
    assert result['failed'] is True, case
    assert message.format(tmp=tmp_path) in result['msg'], result['msg']
    assert sorted(str(p) for p in tmp_path.rglob('*')) == before, 'the module wrote something'


def test_an_explicit_false_adopt_from_cluster_is_not_a_second_source(capsys, tmp_path, bundle, bundle_bytes):
    # The role always passes the boolean; with adopt_from set, false must mean "not this source".
    dest = str(tmp_path / 'here' / 'secrets.yaml')
    result = run_module(capsys, 'talos_secrets', {'path': dest, 'adopt_from': bundle, 'adopt_from_cluster': False})
    assert not result.get('failed'), result.get('msg')
    assert result['source'] == 'bundle' and result['changed'] is True
    with open(dest, 'rb') as adopted:
        assert adopted.read() == bundle_bytes
