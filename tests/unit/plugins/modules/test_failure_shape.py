"""Every module fails one way: ``msg`` in one sentence, a structured ``failure``, and the traceback.

The cases below drive each module's real ``main()`` in-process into its failure paths: bad input,
files the module refuses, and Talos API failures against real gRPC/TLS fake nodes (a talosconfig of
another cluster, an unhealthy answer). A module without a case here fails the test, so a new module
joins the table. Failures of Ansible's own argument validation (a missing required option) keep
Ansible's shape and are not listed.
"""
import ast
import os
import sys

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets

from module_runner import MODULES, run_module

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'unit', 'plugins', 'module_utils', 'talos'))

from api import certs, fake_node  # noqa: E402  pylint: disable=wrong-import-position

SCHEMAS = os.path.join(ROOT, 'talos_schemas')
FAILURE_KEYS = {'reason', 'node', 'call', 'status', 'message'}


@pytest.fixture(scope='module')
def pki():
    os_ca = certs.make_ca('talos')
    other_ca = certs.make_ca('talos')
    return dict(os_ca=os_ca, other_ca=other_ca, server=certs.issue(os_ca, common_name='cp-1', server_ips=['127.0.0.1']),
                reader=certs.issue(os_ca, roles=['os:reader']), stranger=certs.issue(other_ca, roles=['os:admin']))


@pytest.fixture(scope='module')
def node(pki):
    with fake_node.FakeNode(fake_node.NodeState(), fake_node.server_context(pki['server'], client_ca=pki['os_ca'])) as served:
        yield served


@pytest.fixture
def files(tmp_path, pki):
    """Paths the cases use: a bundle, a reader talosconfig of the node's cluster, one of another cluster."""
    os.makedirs(str(tmp_path / 's'), mode=0o700)
    paths = dict(bundle=str(tmp_path / 's' / 'secrets.yaml'), reader=str(tmp_path / 's' / 'reader.talosconfig'),
                 stranger=str(tmp_path / 's' / 'stranger.talosconfig'), tmp=str(tmp_path))
    for key, ca, client in (('reader', pki['os_ca'], pki['reader']), ('stranger', pki['other_ca'], pki['stranger'])):
        with open(paths[key], 'w') as handle:
            handle.write(certs.talosconfig_text(ca, client))
        os.chmod(paths[key], 0o600)
    with open(paths['bundle'], 'wb') as handle:
        handle.write(secrets.dump_bundle(secrets.generate_bundle((1, 9))))
    os.chmod(paths['bundle'], 0o600)
    return paths


RENDER = dict(role='worker', cluster_name='hybrid', cluster_endpoint='https://k8s.example.net:6443', talos_version='v1.9.6',
              kubernetes_version='1.32.3', schema_dir=SCHEMAS)

# (module, case, arguments from (files, node endpoint), expected reason, whether the failure names a node and a call)
CASES = [
    ('cluster_topology', 'an even number of control planes',
     lambda f, ep: {'nodes': [{'name': 'a', 'role': 'controlplane', 'site': 's'}, {'name': 'b', 'role': 'controlplane', 'site': 's'}]},
     'unsafe_topology', False),
    ('cluster_topology', 'a node without a site', lambda f, ep: {'nodes': [{'name': 'a', 'role': 'controlplane', 'site': ''}]},
     'bad_input', False),
    ('talos_secrets', 'a bundle others may read',
     lambda f, ep: (os.chmod(f['bundle'], 0o640), {'path': f['bundle']})[1], 'bad_permissions', False),
    ('talos_secrets', 'a secrets folder others may enter',
     lambda f, ep: (os.chmod(os.path.dirname(f['bundle']), 0o711), {'path': f['bundle']})[1], 'bad_permissions', False),
    ('talos_talosconfig', 'an endpoint with a scheme',
     lambda f, ep: {'secrets': f['bundle'], 'dest': f['tmp'] + '/tc', 'endpoints': ['https://x']}, 'bad_input', False),
    ('talos_talosconfig', 'a missing bundle',
     lambda f, ep: {'secrets': f['tmp'] + '/none.yaml', 'dest': f['tmp'] + '/tc', 'endpoints': ['x']}, 'missing_file', False),
    ('talos_machineconfig', 'a patch the schema refuses',
     lambda f, ep: dict(RENDER, secrets=f['bundle'], node_patches=[{'machine': {'install': {'disk': 42}}}]), 'schema_invalid', False),
    ('talos_machineconfig', 'a talosconfig of another cluster',
     lambda f, ep: dict(RENDER, secrets=f['bundle'], state='applied', node=ep, talosconfig=f['stranger']), 'wrong_ca', True),
    ('talos_bootstrap', 'a node that does not know our CA',
     lambda f, ep: {'node': ep, 'talosconfig': f['stranger']}, 'bootstrap_refused', True),
    ('talos_reset', 'a node that does not know our CA',
     lambda f, ep: {'node': ep, 'talosconfig': f['stranger']}, 'wrong_ca', True),
    ('talos_etcd_info', 'members that never answer with their status',
     lambda f, ep: {'nodes': [ep], 'talosconfig': f['reader'], 'fail_unhealthy': True, 'wait': False}, 'unhealthy', False),
    ('talos_etcd_info', 'a bad talosconfig',
     lambda f, ep: {'nodes': [ep], 'talosconfig': f['bundle'], 'wait': False}, 'bad_talosconfig', False),
    ('talos_kubeconfig', 'a node that does not know our CA',
     lambda f, ep: {'node': ep, 'talosconfig': f['stranger'], 'dest': f['tmp'] + '/kc'}, 'wrong_ca', True),
    ('kubespan_verify', 'no node answers',
     lambda f, ep: {'nodes': [ep, ep.replace('127.0.0.1', 'localhost')], 'talosconfig': f['stranger'], 'wait': False},
     'wrong_ca', True),
    ('kubespan_verify', 'a node listed twice', lambda f, ep: {'nodes': [ep, ep]}, 'bad_input', False),
    ('kube_apply', 'an object without a kind',
     lambda f, ep: {'definitions': [{'apiVersion': 'v1', 'metadata': {'name': 'x'}}], 'kubeconfig': f['tmp'] + '/none'},
     'bad_manifest', False),
    ('kube_wait', 'a kubeconfig that does not exist', lambda f, ep: {'kubeconfig': f['tmp'] + '/none'}, 'missing_kubeconfig', False),
    ('flux_install', 'a download without a pinned sha256',
     lambda f, ep: {'version': '2.7.5', 'kubeconfig': f['tmp'] + '/none'}, 'bad_input', False),
    ('flux_install', 'a local manifest that does not match its pin',
     lambda f, ep: (_write(f['tmp'] + '/install.yaml', '# Flux Version: v2.7.5\n'),
                    {'version': '2.7.5', 'src': f['tmp'] + '/install.yaml', 'sha256': '0' * 64, 'kubeconfig': f['tmp'] + '/none'})[1],
     'checksum_mismatch', False),
    ('flux_sync', 'an scp-like Git address', lambda f, ep: {'url': 'git@github.com:org/repo.git', 'kubeconfig': f['tmp'] + '/none'},
     'bad_input', False),
    ('flux_sync', 'a deploy key that is no private key',
     lambda f, ep: {'url': 'ssh://git@github.com/org/repo.git', 'ssh_private_key': 'not-a-key-canary',
                    'known_hosts': 'github.com ssh-ed25519 AAAA', 'kubeconfig': f['tmp'] + '/none'}, 'bad_input', False),
    ('proxmox_csi_access', 'a token ID of another user than api_user',
     lambda f, ep: {'api_host': '192.0.2.1', 'api_user': 'root@pam', 'api_token_id': 'other@pve!x', 'api_token_secret': 'canary-secret',
                    'storages': ['local-zfs'], 'kubeconfig': f['tmp'] + '/none'}, 'bad_input', False),
    ('proxmox_csi_access', 'a kubeconfig that does not exist, found before PVE is asked anything',
     lambda f, ep: {'api_host': '127.0.0.1', 'api_port': 9, 'api_user': 'root@pam', 'api_token_id': 'x',
                    'api_token_secret': 'canary-secret', 'storages': ['local-zfs'], 'kubeconfig': f['tmp'] + '/none'},
     'missing_kubeconfig', False),
    ('cilium_handover', 'an interval that is no Go duration',
     lambda f, ep: {'interval': 'hourly', 'kubeconfig': f['tmp'] + '/none'}, 'bad_input', False),
    ('hcloud_csi', 'two default StorageClasses',
     lambda f, ep: {'hcloud_token': 'token-canary', 'location': 'fsn1', 'kubeconfig': f['tmp'] + '/none',
                    'storage_classes': [{'name': 'a', 'default': True}, {'name': 'b', 'default': True}]}, 'bad_input', False),
    ('sealed_secrets_install', 'a chart version of another line',
     lambda f, ep: {'version': '2.17.3', 'kubeconfig': f['tmp'] + '/none'}, 'bad_input', False),
    ('sealed_secrets_cert', 'a certificate file that is not a certificate',
     lambda f, ep: (_write(f['tmp'] + '/cert.pem', 'not a certificate'), {'src': f['tmp'] + '/cert.pem'})[1], 'bad_certificate', False),
    ('sealed_secrets_cert', 'a kubeconfig that does not exist',
     lambda f, ep: {'kubeconfig': f['tmp'] + '/none'}, 'missing_kubeconfig', False),
    ('talos_certificates_info', 'a negative warning window', lambda f, ep: {'warn_before_hours': -1}, 'bad_input', False),
    ('talos_certificates_info', 'a secrets bundle others may read',
     lambda f, ep: (os.chmod(f['bundle'], 0o644), {'secrets': f['bundle']})[1], 'bad_permissions', False),
    ('storage_placement', 'a kubeconfig that does not exist',
     lambda f, ep: {'drivers': [{'name': 'csi.hetzner.cloud', 'sites': ['fsn']}], 'kubeconfig': f['tmp'] + '/none'},
     'missing_kubeconfig', False),
    ('gitops_repo', 'Vault on a storage class of the home site',
     lambda f, ep: {'path': f['tmp'] + '/gitops', 'state_dir': f['tmp'] + '/gitops-state', 'cluster_name': 'c', 'services': ['vault'],
                    'critical_site': 'vps', 'home_site': 'home', 'storage_classes': {'zfs': 'home'},
                    'catalogue': {'vault': {'chart': {'url': 'https://helm.releases.hashicorp.com', 'name': 'vault', 'version': '0.30.1'},
                                            'namespace': 'vault', 'tier': 'critical', 'storage': {'class': 'zfs', 'size': '1Gi'}}}},
     'placement_refused', False),
    ('cilium_install_plan', 'a Cilium value the design fixes',
     lambda f, ep: {'control_planes': [ep], 'cilium': {'values': {'tunnelProtocol': 'geneve'}}}, 'bad_input', False),
    ('backup_set', 'a private key given as a recipient',
     lambda f, ep: {'nodes': [ep], 'remote': 'lab:backups', 'cluster': 'c', 'secrets': f['bundle'],
                    'age_recipients': ['AGE-SECRET-KEY-1QQQQ']}, 'bad_input', False),
    ('backup_set_info', 'a missing age identity',
     lambda f, ep: {'remote': 'lab:backups', 'cluster': 'c', 'verify': True, 'age_identity': f['tmp'] + '/none.txt'},
     'bad_input', False),
    ('backup_sealed_secrets_restore', 'an age identity others may read',
     lambda f, ep: (os.chmod(f['bundle'], 0o640), {'remote': 'lab:backups', 'cluster': 'c', 'age_identity': f['bundle'],
                                                   'kubeconfig': f['tmp'] + '/kc'})[1], 'bad_permissions', False),
    ('backup_retention', 'a negative count to keep',
     lambda f, ep: {'remote': 'lab:backups', 'cluster': 'c', 'keep_daily': -1}, 'bad_input', False),
    ('talos_upgrade', 'an image whose tag is no Talos version, refused before any call',
     lambda f, ep: {'node': ep, 'image': 'ghcr.io/siderolabs/installer:latest', 'talosconfig': f['stranger']}, 'bad_input', False),
    ('talos_upgrade', 'a node that does not know our CA',
     lambda f, ep: {'node': ep, 'image': 'ghcr.io/siderolabs/installer:v1.9.7', 'talosconfig': f['stranger']}, 'wrong_ca', True),
    ('talos_kubernetes_upgrade', 'a version that is no Kubernetes release, refused before any call',
     lambda f, ep: {'node': ep, 'kubernetes_version': 'latest', 'talosconfig': f['stranger']}, 'bad_input', False),
    ('talos_kubernetes_upgrade', 'a node that does not know our CA',
     lambda f, ep: {'node': ep, 'kubernetes_version': '1.32.4', 'talosconfig': f['stranger'], 'wait': False}, 'wrong_ca', True),
    ('talos_etcd_recover', 'a recovering node that is no control plane',
     lambda f, ep: {'node': ep, 'control_planes': ['192.0.2.1'], 'remote': 'lab:backups', 'cluster': 'c',
                    'age_identity': f['tmp'] + '/none.txt'}, 'bad_input', False),
]


def _write(path, text):
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)


def test_every_module_has_failure_cases():
    assert sorted({case[0] for case in CASES}) == sorted(MODULES)


@pytest.mark.parametrize('module, case, make_args, reason, names_node', CASES, ids=['%s: %s' % c[:2] for c in CASES])
def test_every_failure_has_the_one_shape(capsys, files, node, module, case, make_args, reason, names_node):
    result = run_module(capsys, module, make_args(files, node.endpoint))
    assert result['failed'] is True, (case, result)
    msg, failure = result['msg'], result['failure']
    assert isinstance(msg, str) and '\n' not in msg and msg.endswith('.'), msg
    assert FAILURE_KEYS <= set(failure), failure
    assert failure['reason'] == reason, failure
    assert failure['message'] and failure['message'].rstrip('.') in msg, (failure['message'], msg)
    assert result['exception'].startswith('Traceback (most recent call last):'), result['exception']
    if names_node:
        assert failure['node'] and failure['call'], failure
        assert failure['node'] in msg and failure['call'].lower() in msg.lower(), msg


def _main(tree):
    return next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == 'main')


@pytest.mark.parametrize('module', MODULES)
def test_every_main_ends_in_the_one_run(module):
    with open(os.path.join(ROOT, 'plugins', 'modules', module + '.py'), encoding='utf-8') as handle:
        tree = ast.parse(handle.read())
    last = _main(tree).body[-1]
    assert isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and getattr(last.value.func, 'id', None) == 'run'
    imported = {alias.name for node in tree.body if isinstance(node, ast.ImportFrom) and node.module.endswith('._errors')
                for alias in node.names}
    assert 'run' in imported
    calls = {getattr(node.func, 'attr', None) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert 'fail_json' not in calls, 'a module fails through _errors.fail() only'
