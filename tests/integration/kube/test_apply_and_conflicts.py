"""Server-side apply (field managers, managedFields, conflicts, force), client-side apply, and 409 on a
stale resourceVersion — each driven by the three clients: the kubernetes Python client, kubernetes.core
modules and kubectl."""
import json

import pytest
import yaml
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.lab


def _configmap(name, **data):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': name, 'namespace': 'default'}, 'data': data}


def _managers(obj):
    return {(m['manager'], m['operation']): m['fieldsV1'] for m in obj['metadata'].get('managedFields') or ()}


# ------------------------------------------------------------------ the kubernetes Python client

def test_python_server_side_apply_owns_fields_and_conflicts(k8s):
    configmaps = dynamic.DynamicClient(k8s).resources.get(api_version='v1', kind='ConfigMap')
    created = configmaps.server_side_apply(body=_configmap('py-ssa', a='1', b='2'), field_manager='alpha').to_dict()
    assert _managers(created)[('alpha', 'Apply')] == {'f:data': {'f:a': {}, 'f:b': {}}}
    again = configmaps.server_side_apply(body=_configmap('py-ssa', a='1', b='2'), field_manager='alpha').to_dict()
    assert again['metadata']['resourceVersion'] == created['metadata']['resourceVersion'], 'an unchanged apply is no write'
    with pytest.raises(ApiException) as conflict:
        configmaps.server_side_apply(body=_configmap('py-ssa', a='9'), field_manager='beta')
    status = json.loads(conflict.value.body)
    assert (conflict.value.status, status['reason']) == (409, 'Conflict')
    assert status['message'] == 'Apply failed with 1 conflict: conflict with "alpha": .data.a'
    assert status['details']['causes'] == [{'type': 'FieldManagerConflict', 'message': 'conflict with "alpha"', 'field': '.data.a'}]
    # The same value is shared ownership, not a conflict.
    shared = configmaps.server_side_apply(body=_configmap('py-ssa', b='2'), field_manager='beta').to_dict()
    assert _managers(shared)[('beta', 'Apply')] == {'f:data': {'f:b': {}}}
    forced = configmaps.server_side_apply(body=_configmap('py-ssa', a='9', b='2'), field_manager='beta', force_conflicts=True).to_dict()
    assert forced['data'] == {'a': '9', 'b': '2'}
    assert _managers(forced)[('alpha', 'Apply')] == {'f:data': {'f:b': {}}}, 'force takes .data.a from alpha'
    # alpha stops applying b: beta still owns it, so it stays; a field only alpha owned would go.
    after = configmaps.server_side_apply(body=_configmap('py-ssa'), field_manager='alpha').to_dict()
    assert after['data'] == {'a': '9', 'b': '2'}


def test_python_apply_removes_fields_the_manager_dropped(k8s):
    configmaps = dynamic.DynamicClient(k8s).resources.get(api_version='v1', kind='ConfigMap')
    configmaps.server_side_apply(body=_configmap('py-prune', keep='1', drop='2'), field_manager='owner')
    pruned = configmaps.server_side_apply(body=_configmap('py-prune', keep='1'), field_manager='owner').to_dict()
    assert pruned['data'] == {'keep': '1'}


def test_python_stale_resource_version_is_409(k8s):
    core = client.CoreV1Api(k8s)
    made = core.create_namespaced_config_map('default', {'metadata': {'name': 'py-stale'}, 'data': {'a': '1'}})
    core.patch_namespaced_config_map('py-stale', 'default', {'data': {'a': '2'}})
    made.data['a'] = '3'
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map('py-stale', 'default', made)
    status = json.loads(stale.value.body)
    assert (stale.value.status, status['reason']) == (409, 'Conflict')
    assert status['message'] == ('Operation cannot be fulfilled on configmaps "py-stale": the object has been modified; '
                                 'please apply your changes to the latest version and try again')
    assert status['details'] == {'name': 'py-stale', 'kind': 'configmaps'}


def test_python_apply_of_a_deployment_merges_containers_by_name(k8s):
    deployments = dynamic.DynamicClient(k8s).resources.get(api_version='apps/v1', kind='Deployment')
    body = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'py-merge', 'namespace': 'default'},
            'spec': {'replicas': 0, 'selector': {'matchLabels': {'app': 'py-merge'}},
                     'template': {'metadata': {'labels': {'app': 'py-merge'}},
                                  'spec': {'containers': [{'name': 'main', 'image': 'registry.k8s.io/pause:3.10',
                                                           'ports': [{'containerPort': 80}]}]}}}}
    deployments.server_side_apply(body=body, field_manager='app')
    sidecar = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'py-merge', 'namespace': 'default'},
               'spec': {'template': {'spec': {'containers': [{'name': 'side', 'image': 'registry.k8s.io/pause:3.10'}]}}}}
    merged = deployments.server_side_apply(body=sidecar, field_manager='injector').to_dict()
    assert [c['name'] for c in merged['spec']['template']['spec']['containers']] == ['main', 'side']
    owned = _managers(merged)[('injector', 'Apply')]['f:spec']['f:template']['f:spec']['f:containers']
    assert list(owned) == ['k:{"name":"side"}']
    assert merged['spec']['template']['spec']['containers'][0]['ports'][0]['protocol'] == 'TCP', 'defaulted'


# ------------------------------------------------------------------ kubernetes.core

def test_kubernetes_core_server_side_apply_and_conflict(play):
    cm = _configmap('core-ssa', a='1')
    run = play([
        {'name': 'first', 'kubernetes.core.k8s': {'state': 'present', 'apply': True,
                                                  'server_side_apply': {'field_manager': 'ansible-one'}, 'definition': cm},
         'register': 'first'},
        {'name': 'again', 'kubernetes.core.k8s': {'state': 'present', 'apply': True,
                                                  'server_side_apply': {'field_manager': 'ansible-one'}, 'definition': cm}},
        {'name': 'conflict', 'kubernetes.core.k8s': {'state': 'present', 'apply': True,
                                                     'server_side_apply': {'field_manager': 'ansible-two'},
                                                     'definition': _configmap('core-ssa', a='2')}, 'ignore_errors': True},
        {'name': 'force', 'kubernetes.core.k8s': {'state': 'present', 'apply': True,
                                                  'server_side_apply': {'field_manager': 'ansible-two', 'force_conflicts': True},
                                                  'definition': _configmap('core-ssa', a='2')}},
        {'name': 'read', 'kubernetes.core.k8s_info': {'kind': 'ConfigMap', 'namespace': 'default', 'name': 'core-ssa'}},
    ])
    assert run.result('first')['changed'] is True
    assert run.result('again')['changed'] is False
    conflict = run.result('conflict')
    assert conflict['failed'] and conflict['reason'] == 'Conflict'
    assert 'Apply failed with 1 conflict: conflict with \\"ansible-one\\": .data.a' in conflict['msg']
    assert run.result('force')['changed'] is True
    found = run.result('read')['resources'][0]
    assert found['data'] == {'a': '2'}
    assert {m['manager'] for m in found['metadata']['managedFields']} == {'ansible-two'}


def test_kubernetes_core_client_side_apply_is_idempotent(play):
    cm = _configmap('core-csa', a='1')
    run = play([
        {'name': 'first', 'kubernetes.core.k8s': {'state': 'present', 'apply': True, 'definition': cm}},
        {'name': 'again', 'kubernetes.core.k8s': {'state': 'present', 'apply': True, 'definition': cm}},
        {'name': 'check', 'kubernetes.core.k8s': {'state': 'present', 'apply': True, 'definition': _configmap('core-csa', a='2')},
         'check_mode': True},
        {'name': 'read', 'kubernetes.core.k8s_info': {'kind': 'ConfigMap', 'namespace': 'default', 'name': 'core-csa'}},
    ])
    assert run.result('first')['changed'] is True and run.result('again')['changed'] is False
    assert run.result('check')['changed'] is True, 'a server-side dry run sees the change'
    assert run.result('read')['resources'][0]['data'] == {'a': '1'}, 'and does not make it'


def test_kubernetes_core_replace_with_a_stale_resource_version_is_409(play, k8s):
    core = client.CoreV1Api(k8s)
    made = core.create_namespaced_config_map('default', {'metadata': {'name': 'core-stale'}, 'data': {'a': '1'}})
    core.patch_namespaced_config_map('core-stale', 'default', {'data': {'a': '2'}})
    stale = _configmap('core-stale', a='3')
    stale['metadata']['resourceVersion'] = made.metadata.resource_version
    run = play([{'name': 'replace', 'kubernetes.core.k8s': {'state': 'present', 'force': True, 'definition': stale},
                 'ignore_errors': True}])
    result = run.result('replace')
    assert result['failed'] and result['reason'] == 'Conflict'
    assert 'the object has been modified' in result['msg']


# ------------------------------------------------------------------ kubectl

def test_kubectl_server_side_apply_conflict_and_force(kubectl):
    first = yaml.safe_dump(_configmap('ctl-ssa', a='1'))
    assert 'serverside-applied' in kubectl('apply', '--server-side', '--field-manager', 'ctl-one', '-f', '-', stdin=first).stdout
    other = yaml.safe_dump(_configmap('ctl-ssa', a='2'))
    refused = kubectl('apply', '--server-side', '--field-manager', 'ctl-two', '-f', '-', stdin=other, check=False)
    assert refused.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "ctl-one": .data.a' in refused.stderr
    kubectl('apply', '--server-side', '--field-manager', 'ctl-two', '--force-conflicts', '-f', '-', stdin=other)
    found = kubectl.json('get', 'configmap', 'ctl-ssa', '--show-managed-fields')
    assert found['data'] == {'a': '2'} and ('ctl-two', 'Apply') in _managers(found)


def test_kubectl_client_side_apply_uses_strategic_merge(kubectl):
    manifest = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'ctl-csa', 'namespace': 'default'},
                'spec': {'replicas': 0, 'selector': {'matchLabels': {'app': 'ctl-csa'}},
                         'template': {'metadata': {'labels': {'app': 'ctl-csa'}},
                                      'spec': {'containers': [{'name': 'main', 'image': 'registry.k8s.io/pause:3.10',
                                                               'env': [{'name': 'A', 'value': '1'}, {'name': 'B', 'value': '2'}]}]}}}}
    assert 'created' in kubectl('apply', '-f', '-', stdin=yaml.safe_dump(manifest)).stdout
    assert 'unchanged' in kubectl('apply', '-f', '-', stdin=yaml.safe_dump(manifest)).stdout
    manifest['spec']['template']['spec']['containers'][0]['env'] = [{'name': 'B', 'value': '3'}]
    assert 'configured' in kubectl('apply', '-f', '-', stdin=yaml.safe_dump(manifest)).stdout
    found = kubectl.json('get', 'deployment', 'ctl-csa')
    assert found['spec']['template']['spec']['containers'][0]['env'] == [{'name': 'B', 'value': '3'}]
    assert found['metadata']['generation'] == 2


def test_kubectl_replace_with_a_stale_resource_version_is_409(kubectl):
    kubectl('create', 'configmap', 'ctl-stale', '--from-literal=a=1')
    old = kubectl.json('get', 'configmap', 'ctl-stale')
    kubectl('patch', 'configmap', 'ctl-stale', '-p', '{"data":{"a":"2"}}')
    old['data']['a'] = '3'
    refused = kubectl('replace', '-f', '-', stdin=json.dumps(old), check=False)
    assert refused.returncode == 1
    assert ('Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on configmaps "ctl-stale": '
            'the object has been modified; please apply your changes to the latest version and try again') in refused.stderr
