"""The modules' documentation and argument specs agree, and the Talos API options are one set everywhere.

Docs are read as ansible-doc reads them (fragments merged); argument specs are taken from each
module's real ``main()``, stopped at ``AnsibleModule``.
"""
import os
from unittest import mock

import pytest
import yaml
from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import get_docstring

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.diagnose import REASONS
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, NODE_ARGS, WAIT_ARGS

from module_runner import MODULES, load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
# The modules that reach the Talos API: the action group talos (meta/runtime.yml).
TALOS_API_MODULES = ('backup_set', 'kubespan_verify', 'talos_bootstrap', 'talos_certificates_info', 'talos_etcd_info', 'talos_etcd_recover', 'talos_kubeconfig',
                     'talos_kubernetes_upgrade', 'talos_machineconfig', 'talos_reset', 'talos_secrets', 'talos_upgrade')
KUBE_API_MODULES = ('cilium_handover', 'cilium_install_plan', 'flux_install', 'flux_sync', 'hcloud_csi', 'kube_apply',
                    'kube_wait', 'proxmox_csi_access', 'sealed_secrets_cert', 'sealed_secrets_install', 'storage_placement')
# The modules that reach the backup remote: the action group backup.
BACKUP_REMOTE_MODULES = ('backup_retention', 'backup_sealed_secrets_restore', 'backup_set', 'backup_set_info', 'talos_etcd_recover')


def docs(module):
    path = os.path.join(ROOT, 'plugins', 'modules', module + '.py')
    doc, examples, returns, _metadata = get_docstring(path, fragment_loader, collection_name='hybridops.talos')
    return doc, yaml.safe_load(examples), returns


class _Stop(Exception):
    pass


def argument_spec(module):
    """The keyword arguments the module's main() gives AnsibleModule."""
    seen = {}

    def capture(**kwargs):
        seen.update(kwargs)
        raise _Stop()
    with mock.patch.object(load(module), 'AnsibleModule', capture), pytest.raises(_Stop):
        load(module).main()
    return seen


@pytest.mark.parametrize('module', MODULES)
def test_examples_use_only_documented_options(module):
    doc, examples, _returns = docs(module)
    for task in examples:
        args = task.get('hybridops.talos.' + module)
        if args is not None:
            assert set(args) <= set(doc['options']), (task['name'], set(args) - set(doc['options']))


@pytest.mark.parametrize('module', MODULES)
def test_documented_options_are_the_argument_spec(module):
    doc, _examples, _returns = docs(module)
    spec = argument_spec(module)['argument_spec']
    assert set(doc['options']) == set(spec)
    for name, option in spec.items():
        assert doc['options'][name].get('type', 'str') == option.get('type', 'str'), name
        assert doc['options'][name].get('default') == option.get('default'), name


@pytest.mark.parametrize('module', TALOS_API_MODULES)
def test_the_talos_api_options_are_the_shared_ones(module):
    spec = argument_spec(module)['argument_spec']
    doc, _examples, _returns = docs(module)
    for name, option in CONNECTION_ARGS.items():
        assert spec[name] == option, name
    fragment = yaml.safe_load(fragment_loader.get('hybridops.talos.talos_api').DOCUMENTATION)['options']
    for name in CONNECTION_ARGS:
        # talos_machineconfig says when the talosconfig matters, talos_etcd_recover for which calls the endpoints serve.
        if (module, name) not in (('talos_machineconfig', 'talosconfig'), ('talos_etcd_recover', 'endpoints')):
            assert doc['options'][name] == fragment[name], name
    assert 'hybridops.talos.talos' in doc['attributes']['action_group']['membership']


@pytest.mark.parametrize('module', ('talos_bootstrap', 'talos_etcd_info', 'kubespan_verify', 'talos_machineconfig'))
def test_every_wait_is_the_shared_one(module):
    spec = argument_spec(module)['argument_spec']
    assert {name: spec[name] for name in WAIT_ARGS} == WAIT_ARGS


@pytest.mark.parametrize('module', ('talos_bootstrap', 'talos_kubeconfig'))
def test_modules_acting_on_one_node_share_the_node_option(module):
    assert argument_spec(module)['argument_spec']['node'] == NODE_ARGS['node']


def test_the_action_group_holds_exactly_the_talos_api_modules():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml'), encoding='utf-8') as handle:
        runtime = yaml.safe_load(handle)
    assert runtime['action_groups'] == {'talos': sorted(TALOS_API_MODULES), 'kubernetes': sorted(KUBE_API_MODULES),
                                        'backup': sorted(BACKUP_REMOTE_MODULES)}
    for module in KUBE_API_MODULES:
        assert docs(module)[0]['attributes']['action_group']['membership'] == ['hybridops.talos.kubernetes'], module
    for module in set(MODULES) - set(TALOS_API_MODULES) - set(KUBE_API_MODULES) - set(BACKUP_REMOTE_MODULES):
        assert docs(module)[0]['attributes']['action_group']['support'] == 'none', module
    for module in BACKUP_REMOTE_MODULES:
        assert 'hybridops.talos.backup' in docs(module)[0]['attributes']['action_group']['membership'], module


@pytest.mark.parametrize('module', MODULES)
def test_every_module_lists_its_requirements_or_needs_none(module):
    doc, _examples, _returns = docs(module)
    if module == 'cluster_topology':
        assert 'requirements' not in doc
    elif module in KUBE_API_MODULES:
        assert 'PyYAML' in doc['requirements'] and any(r.startswith('kubernetes') for r in doc['requirements'])
    elif module == 'backup_retention':  # it only lists and deletes on the remote
        assert len(doc['requirements']) == 1 and 'C(rclone)' in doc['requirements'][0]
    else:
        assert 'PyYAML' in doc['requirements'] and 'cryptography' in doc['requirements']


def test_every_kubespan_reason_code_is_documented():
    _doc, _examples, returns = docs('kubespan_verify')
    text = ' '.join(returns['links']['contains']['reason']['description'])
    assert all('C(%s)' % reason in text for reason in REASONS)
