"""Rendering machine configs: schema validity per contract, determinism, adoption, bad inputs."""
import copy
import os
import subprocess
import sys

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos import render as tr
from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets
from ansible_collections.hybridops.talos.plugins.module_utils._talos.errors import TalosConfigError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.schema import ContractSchema, load_schema
from ansible_collections.hybridops.talos.plugins.module_utils._talos.yamlio import load_documents

from shared_oracles import present
from talos_oracles import ROOT, fixture_path, oracles, read_fixture

BASE = dict(cluster_name='hybrid', cluster_endpoint='https://k8s.example.net:6443', talos_version='v1.9.6',
            kubernetes_version='1.32.3', hostname='vps-0', site='vps', region='fsn1', zone='fsn1-dc14',
            cert_sans=['k8s.example.net', '203.0.113.10'], node_ip_subnets=['10.0.0.0/16'], underlay_mtu=1450)


@pytest.fixture(scope='module')
def fixture_bundle():
    """Talos' own bundle (as ``talosctl gen secrets`` writes it) where the oracles are present; elsewhere one
    the collection generates, so that the render tests run in every clone."""
    if not present('oracles', 'talos', 'v1.9.6', 'fixtures', 'secrets', 'secrets.yaml'):
        return secrets.generate_bundle((1, 9))
    return secrets.parse_bundle(read_fixture('secrets', 'secrets.yaml'), 'fixture secrets.yaml')


def spec(**changes):
    result = dict(BASE, role='controlplane', etcd_advertised_subnets=['10.0.0.0/16'])
    result.update(changes)
    if result['role'] == 'worker':
        result['etcd_advertised_subnets'] = []
    return result


def v1(docs):
    return docs[0]


@pytest.mark.parametrize('role', ['controlplane', 'worker'])
@pytest.mark.parametrize('version, kinds', [('v1.9.6', ['v1alpha1']),
                                            ('v1.13.2', ['v1alpha1', 'HostnameConfig', 'KubeSpanConfig'])])
def test_rendered_config_validates_against_its_contract_schema(fixture_bundle, role, version, kinds):
    rendered = tr.render(spec(role=role, talos_version=version), fixture_bundle)
    assert rendered.kinds == kinds
    contract = (1, 9) if version.startswith('v1.9') else (1, 13)
    load_schema(contract).validate(load_documents(rendered.text, 'rendered'), contract)


def test_v1_13_config_uses_separate_documents_for_network_and_kubespan(fixture_bundle):
    docs = tr.render(spec(talos_version='v1.13.2'), fixture_bundle).documents
    assert 'network' not in v1(docs)['machine'] and 'rbac' not in v1(docs)['machine']['features']
    assert docs[1] == {'apiVersion': 'v1alpha1', 'kind': 'HostnameConfig', 'hostname': 'vps-0'}
    assert docs[2] == {'apiVersion': 'v1alpha1', 'kind': 'KubeSpanConfig', 'enabled': True, 'mtu': 1370}


def test_v1_9_config_does_not_validate_against_the_v1_13_schema(fixture_bundle):
    docs = tr.render(spec(), fixture_bundle).documents
    with pytest.raises(TalosConfigError, match=r'at machine: unknown keys features\.rbac|at machine: unknown key network'):
        load_schema((1, 13)).validate(docs, (1, 13))


def test_design_defaults_are_in_every_config(fixture_bundle):
    for role in ('controlplane', 'worker'):
        config = v1(tr.render(spec(role=role), fixture_bundle).documents)
        cluster, machine = config['cluster'], config['machine']
        assert cluster['network']['cni'] == {'name': 'none'} and cluster['proxy']['disabled'] is True
        assert cluster['discovery']['enabled'] is True
        assert machine['network']['kubespan'] == {'enabled': True, 'mtu': 1370}
        assert machine['nodeLabels']['hybridops.io/role'] == role
        assert machine['nodeLabels']['topology.kubernetes.io/zone'] == 'fsn1-dc14'
        assert machine['kubelet']['nodeIP'] == {'validSubnets': ['10.0.0.0/16']}
        assert machine['install'] == {'disk': '/dev/sda', 'image': 'ghcr.io/siderolabs/installer:v1.9.6', 'wipe': False}


def test_adopted_fixture_bundle_secrets_land_exactly_in_the_configs(fixture_bundle):
    raw = load_documents(read_fixture('secrets', 'secrets.yaml'), 'fixture')[0]
    cp = v1(tr.render(spec(), fixture_bundle).documents)
    worker = v1(tr.render(spec(role='worker'), fixture_bundle).documents)
    certs = raw['certs']
    assert cp['machine']['token'] == worker['machine']['token'] == raw['trustdinfo']['token']
    assert cp['cluster']['token'] == worker['cluster']['token'] == raw['secrets']['bootstraptoken']
    assert cp['cluster']['id'] == raw['cluster']['id'] and cp['cluster']['secret'] == raw['cluster']['secret']
    assert cp['cluster']['secretboxEncryptionSecret'] == raw['secrets']['secretboxencryptionsecret']
    assert cp['machine']['ca'] == certs['os'] and cp['cluster']['ca'] == certs['k8s']
    assert cp['cluster']['aggregatorCA'] == certs['k8saggregator'] and cp['cluster']['etcd']['ca'] == certs['etcd']
    assert cp['cluster']['serviceAccount'] == certs['k8sserviceaccount']
    assert worker['machine']['ca'] == {'crt': certs['os']['crt'], 'key': ''}
    assert worker['cluster']['ca'] == {'crt': certs['k8s']['crt'], 'key': ''}
    assert not {'aggregatorCA', 'serviceAccount', 'etcd', 'secretboxEncryptionSecret'} & set(worker['cluster'])


@pytest.mark.parametrize('version', ['v1.9.6', 'v1.13.2'])
def test_bundle_rebuilt_from_a_rendered_control_plane_config_round_trips(fixture_bundle, version):
    text = tr.render(spec(talos_version=version), fixture_bundle).text
    assert secrets.bundle_from_machineconfig(text, 'rendered') == fixture_bundle


def test_same_inputs_give_byte_identical_output_across_processes(fixture_bundle, tmp_path):
    first = tr.render(spec(), fixture_bundle).text
    assert tr.render(copy.deepcopy(spec()), fixture_bundle).text == first
    script = ('import sys; sys.path.insert(0, %r); import conftest; '
              'from ansible_collections.hybridops.talos.plugins.module_utils._talos import render, secrets; '
              'b = secrets.parse_bundle(open(%r, "rb").read(), "f"); '
              'sys.stdout.write(render.render(%r, b).text)')
    script = script % (ROOT, fixture_path('secrets', 'secrets.yaml'), spec())
    env = dict(os.environ, PYTHONHASHSEED='12345')
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, env=env, cwd=ROOT, check=True).stdout
    assert out == first


@pytest.mark.parametrize('name', ['controlplane.yaml', 'worker.yaml'])
def test_talos_example_configs_validate_through_the_same_code_path(name):
    docs = tr.validate_text(read_fixture('decoder', name), (1, 9), what=name)
    assert docs[0]['machine']['type'] == name.split('.')[0]


def test_derived_collection_schemas_judge_like_the_published_ones(fixture_bundle, tmp_path):
    subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'derive_talos_schemas.py'), oracles(), str(tmp_path)],
                   check=True, capture_output=True)
    for contract, name in (((1, 9), 'v1.9.json'), ((1, 13), 'v1.13.json')):
        derived = ContractSchema(str(tmp_path / name))
        good = tr.render(spec(talos_version='v1.9.6' if contract == (1, 9) else 'v1.13.2'), fixture_bundle).documents
        derived.validate(good, contract)
        bad = copy.deepcopy(good)
        bad[0]['machine']['kubelet']['bogus'] = 1
        with pytest.raises(TalosConfigError, match=r'at machine\.kubelet: unknown key bogus'):
            derived.validate(bad, contract)


BAD_INPUTS = [
    (dict(contract='v1.10'), 'config contract v1.10 is unknown: this collection renders v1.9, v1.13'),
    (dict(contract='v1.13'), 'config contract v1.13 is newer than Talos v1.9.6 on the node'),
    (dict(talos_version='v1.8.3'), 'Talos v1.8.3 is older than every contract'),
    (dict(talos_version='latest'), "Talos version 'latest' is not a version"),
    (dict(cluster_endpoint='http://k8s.example.net:6443'), "cluster_endpoint 'http://k8s.example.net:6443' is not an https:// URL"),
    (dict(role='master'), "role 'master' is unknown"),
    (dict(cluster_name='Hybrid_Cluster'), "cluster_name 'Hybrid_Cluster' is not a DNS label"),
    (dict(underlay_mtu=1300), 'underlay_mtu 1300 leaves no room for KubeSpan'),
    (dict(node_ip_subnets=['10.0.0.0/33']), "node_ip_subnets: '10.0.0.0/33' is not a subnet"),
    (dict(install_disk='sda'), "install_disk 'sda' is not a device path"),
    (dict(role='worker', etcd_advertised_subnets=['10.0.0.0/16'], hostname='w'), None),
    (dict(node_patches=['machine: [unclosed']), 'node patch 1 is not valid YAML at line 2 column 1'),
    (dict(node_patches=[[{'op': 'frobnicate', 'path': '/machine'}]]), 'node patch 1 operation 1 has unknown op "frobnicate"'),
    (dict(node_patches=[[{'op': 'add', 'path': 'machine/x', 'value': 1}]]), 'has path "machine/x": a JSON pointer starts with "/"'),
    (dict(node_patches=[[{'op': 'replace', 'path': '/machine/nope/deeper', 'value': 1}]]),
     'node patch 1 operation 1 (replace /machine/nope/deeper): path /machine/nope does not exist'),
    (dict(talos_version='v1.13.2', node_patches=[[{'op': 'add', 'path': '/machine/certSANs/-', 'value': 'x'}]]),
     'node patch 1 cannot be applied: JSON6902 patches are not supported for multi-document machine configuration'),
    (dict(role_patches=[{'machine': {'kubelet': {'nodeIP': {'validSubnet': ['10.0.0.0/8']}}}}]),
     'at machine.kubelet.nodeIP: unknown key validSubnet'),
    (dict(cluster_patches=[{'machine': {'network': {'kubespan': {'mtu': 'big'}}}}]),
     'at machine.network.kubespan.mtu: is a string, expected integer'),
    (dict(cluster_patches=[{'cluster': {'controlPlane': {'endpoint': 'tcp://x:6443'}}}]),
     'schema at cluster.controlPlane.endpoint: does not match the pattern ^https://'),
    (dict(node_patches=['@/nonexistent/patch.yaml']), 'cannot read node patch 1 from /nonexistent/patch.yaml'),
    (dict(node_patches=['apiVersion: v1alpha1\nkind: NoSuchConfig\n']), 'document 2 is a NoSuchConfig v1alpha1, which config contract v1.9 does not know'),
    (dict(cluster_patches=[{'cluster': {'discovery': {'enabled': False}}}]), 'enables KubeSpan but not cluster.discovery.enabled'),
    (dict(role='worker', node_patches=[{'cluster': {'serviceAccount': {'key': 'c2VjcmV0'}}}]),
     'the patched worker config holds cluster.serviceAccount.key'),
    (dict(node_patches=['machine:\n  a: 1\n  a: 2\n']), "mapping key 'a' is given twice"),
    (dict(kubernetes_version=None), 'kubernetes_version (e.g. 1.32.3) is required'),
]


@pytest.mark.parametrize('changes, message', BAD_INPUTS)
def test_bad_input_is_rejected_with_one_clear_line(fixture_bundle, changes, message):
    bad = spec(**changes)
    if changes.get('role') == 'worker' and 'etcd_advertised_subnets' in changes:
        bad['etcd_advertised_subnets'] = changes['etcd_advertised_subnets']
        message = 'etcd_advertised_subnets is for control-plane nodes'
    with pytest.raises(TalosConfigError) as caught:
        tr.render(bad, fixture_bundle)
    text = str(caught.value)
    assert message in text
    assert '\n' not in text
    assert not any(value in text for value in secrets.secret_values(fixture_bundle))


def test_bundle_inputs_are_refused_with_clear_messages():
    worker = read_fixture('decoder', 'worker.yaml')
    with pytest.raises(TalosConfigError, match='is a worker config: it holds no CA private keys'):
        secrets.bundle_from_machineconfig(worker, 'worker.yaml')
    with pytest.raises(TalosConfigError, match='has no cluster.id'):
        secrets.parse_bundle(b'cluster: {}\n', 'empty.yaml')
    with pytest.raises(TalosConfigError, match=r'trustdinfo\.token is not a token'):
        raw = load_documents(read_fixture('secrets', 'secrets.yaml'), 'f')[0]
        raw['trustdinfo']['token'] = 'not-a-token'
        secrets.check_bundle(raw, 'edited.yaml')


def test_every_node_says_where_it_runs_before_any_csi_starts(fixture_bundle):
    hetzner = v1(tr.render(spec(provider='hcloud', region='fsn1', zone='fsn1-dc14'), fixture_bundle).documents)['machine']
    home = v1(tr.render(spec(role='worker', provider='proxmox', region='lab', zone='pve2'), fixture_bundle).documents)['machine']
    assert hetzner['nodeLabels']['instance.hetzner.cloud/provided-by'] == 'cloud'
    assert hetzner['nodeLabels']['hybridops.io/provider'] == 'hcloud'
    assert (hetzner['nodeLabels']['topology.kubernetes.io/region'], hetzner['nodeLabels']['topology.kubernetes.io/zone']) == ('fsn1', 'fsn1-dc14')
    # A Proxmox VM must not look like a Hetzner server: the Hetzner CSI node plugin would crash on it.
    assert 'instance.hetzner.cloud/provided-by' not in home['nodeLabels']
    assert (home['nodeLabels']['hybridops.io/provider'], home['nodeLabels']['topology.kubernetes.io/region'],
            home['nodeLabels']['topology.kubernetes.io/zone']) == ('proxmox', 'lab', 'pve2')
