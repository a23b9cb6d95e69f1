"""A module whose Python library is missing fails with Ansible's missing_required_lib message.

Each case runs the module in a fresh interpreter in which the library cannot be imported
(``sys.modules[name] = None`` makes every import of it raise ImportError), so the module's real
import path runs without it: the module must import, then fail before doing anything, naming the
library. tests/integration/test_missing_libraries_playbook.py does the same through ansible-playbook.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

RUNNER = r'''
import json, os, sys
for name in sys.argv[3].split(','):
    sys.modules[name] = None
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=[sys.argv[1]])._install()
import importlib
from ansible.module_utils.testing import patch_module_args
module = importlib.import_module('ansible_collections.hybridops.talos.plugins.modules.' + sys.argv[2])
with patch_module_args(json.loads(sys.argv[4])):
    module.main()
'''

# (module, arguments, the import names hidden, the library named in the message)
CASES = [
    ('talos_bootstrap', {'node': '192.0.2.1'}, ['grpclib'], 'grpclib'),
    ('talos_etcd_info', {'nodes': ['192.0.2.1']}, ['grpclib'], 'grpclib'),
    ('talos_kubeconfig', {'node': '192.0.2.1', 'dest': '/nonexistent/kc'}, ['grpclib'], 'grpclib'),
    ('kubespan_verify', {'nodes': ['192.0.2.1', '192.0.2.2']}, ['grpclib'], 'grpclib'),
    ('kubespan_verify', {'nodes': ['192.0.2.1', '192.0.2.2']}, ['google.protobuf'], 'protobuf'),
    ('talos_etcd_info', {'nodes': ['192.0.2.1']}, ['cryptography'], 'cryptography'),
    ('talos_machineconfig', {'secrets': '/nonexistent', 'role': 'worker', 'cluster_name': 'c', 'cluster_endpoint': 'https://c:6443',
                             'talos_version': 'v1.9.6', 'kubernetes_version': '1.32.3'}, ['jsonschema'], 'jsonschema'),
    ('talos_machineconfig', {'secrets': '/nonexistent', 'role': 'worker', 'cluster_name': 'c', 'cluster_endpoint': 'https://c:6443',
                             'talos_version': 'v1.9.6', 'kubernetes_version': '1.32.3', 'state': 'applied', 'node': '192.0.2.1'},
     ['grpclib'], 'grpclib'),
    ('talos_secrets', {'path': '/nonexistent/secrets.yaml'}, ['cryptography'], 'cryptography'),
    ('proxmox_csi_access', {'api_host': '192.0.2.1', 'api_token_id': 'root@pam!x', 'api_token_secret': 'canary-secret'}, ['proxmoxer'],
     'proxmoxer'),
    ('talos_talosconfig', {'secrets': '/nonexistent', 'dest': '/nonexistent/tc', 'endpoints': ['a']}, ['cryptography'], 'cryptography'),
]


def run_without(module, args, hidden):
    collections = os.path.join(ROOT, '.venv', 'collections')
    proc = subprocess.run([sys.executable, '-c', RUNNER, collections, module, ','.join(hidden), json.dumps(args)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.stdout.strip(), proc.stderr[-2000:]
    return json.loads(proc.stdout[proc.stdout.index('{'):])


@pytest.mark.parametrize('module, args, hidden, library', CASES, ids=['%s without %s' % (c[0], c[3]) for c in CASES])
def test_a_missing_library_gives_ansibles_message(module, args, hidden, library):
    result = run_without(module, args, hidden)
    assert result['failed'] is True
    assert result['msg'].startswith('Failed to import the required Python library (%s) on ' % library), result['msg']
    assert result['failure']['reason'] == 'missing_library' and result['failure']['library'] == library


def test_a_module_runs_on_with_the_libraries_it_does_not_need():
    # Rendering needs no gRPC: talos_machineconfig without grpclib still gets as far as the missing bundle.
    args = {'secrets': '/nonexistent', 'role': 'worker', 'cluster_name': 'c', 'cluster_endpoint': 'https://c:6443',
            'talos_version': 'v1.9.6', 'kubernetes_version': '1.32.3'}
    result = run_without('talos_machineconfig', args, ['grpclib'])
    assert result['failure']['reason'] == 'missing_file', result['msg']
