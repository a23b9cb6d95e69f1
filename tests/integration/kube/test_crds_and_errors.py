"""CRDs register their kind only once Established; custom resources are validated against the CRD's
openAPIV3Schema (422 with field paths); built-in objects against kubernetes-validate's schemas; Status
bodies with the real reasons (namespace must exist, AlreadyExists, NotFound) — with the three clients."""
import json
import time

import pytest
import yaml
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from kube_lab import wait_for

pytestmark = pytest.mark.lab
GROUP = 'lab.hybridops.io'


def crd(kind, plural):
    return {'apiVersion': 'apiextensions.k8s.io/v1', 'kind': 'CustomResourceDefinition',
            'metadata': {'name': '%s.%s' % (plural, GROUP)},
            'spec': {'group': GROUP, 'scope': 'Namespaced',
                     'names': {'kind': kind, 'listKind': kind + 'List', 'plural': plural, 'singular': kind.lower()},
                     'versions': [{'name': 'v1', 'served': True, 'storage': True, 'subresources': {'status': {}},
                                   'additionalPrinterColumns': [{'name': 'Ready', 'type': 'string',
                                                                 'jsonPath': '.status.conditions[?(@.type=="Ready")].status'}],
                                   'schema': {'openAPIV3Schema': {
                                       'type': 'object',
                                       'properties': {'spec': {'type': 'object', 'required': ['interval'], 'properties': {
                                           'interval': {'type': 'string', 'pattern': '^[0-9]+(s|m|h)$'},
                                           'replicas': {'type': 'integer', 'minimum': 1},
                                           'mode': {'type': 'string', 'enum': ['fast', 'safe'], 'default': 'safe'}}},
                                           'status': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}}}}}]}}


def cr(kind, name, **spec):
    return {'apiVersion': '%s/v1' % GROUP, 'kind': kind, 'metadata': {'name': name, 'namespace': 'default'}, 'spec': spec}


def _established(api, name):
    found = api.read_custom_resource_definition(name)
    return any(c.type == 'Established' and c.status == 'True' for c in found.status.conditions or ())


# ------------------------------------------------------------------ the kubernetes Python client

def test_python_custom_resources_exist_only_after_their_crd(k8s):
    custom = client.CustomObjectsApi(k8s)
    with pytest.raises(ApiException) as before:
        custom.create_namespaced_custom_object(GROUP, 'v1', 'default', 'gadgets', cr('Gadget', 'g1', interval='1m'))
    assert before.value.status == 404
    extensions = client.ApiextensionsV1Api(k8s)
    extensions.create_custom_resource_definition(crd('Gadget', 'gadgets'))
    wait_for(lambda: _established(extensions, 'gadgets.' + GROUP), 15, what='CRD Established')
    made = wait_for(lambda: custom.create_namespaced_custom_object(GROUP, 'v1', 'default', 'gadgets', cr('Gadget', 'g1', interval='1m')),
                    10, what='the Gadget kind served')
    assert made['spec'] == {'interval': '1m', 'mode': 'safe'}, 'schema defaults are set'
    dyn = dynamic.DynamicClient(k8s)
    assert dyn.resources.get(api_version=GROUP + '/v1', kind='Gadget').namespaced


def test_python_custom_resource_validation_is_422_with_field_paths(k8s):
    custom = client.CustomObjectsApi(k8s)
    wait_for(lambda: custom.list_namespaced_custom_object(GROUP, 'v1', 'default', 'gadgets') is not None, 20, what='Gadget CRD')
    with pytest.raises(ApiException) as invalid:
        custom.create_namespaced_custom_object(GROUP, 'v1', 'default', 'gadgets', cr('Gadget', 'bad', interval='soon', replicas=0))
    status = json.loads(invalid.value.body)
    assert (invalid.value.status, status['reason']) == (422, 'Invalid')
    causes = {c['field']: c for c in status['details']['causes']}
    assert causes['spec.interval']['message'] == "Invalid value: \"soon\": spec.interval in body should match '^[0-9]+(s|m|h)$'"
    assert causes['spec.replicas']['message'] == 'Invalid value: 0: spec.replicas in body should be greater than or equal to 1'
    assert status['message'].startswith('Gadget.%s "bad" is invalid: [' % GROUP)
    assert status['details']['kind'] == 'Gadget' and status['details']['group'] == GROUP


def test_python_status_subresource_of_custom_resources(k8s):
    custom = client.CustomObjectsApi(k8s)
    wait_for(lambda: custom.create_namespaced_custom_object(GROUP, 'v1', 'default', 'gadgets', cr('Gadget', 'with-status', interval='1m')),
             20, what='Gadget created')
    ignored = custom.patch_namespaced_custom_object(GROUP, 'v1', 'default', 'gadgets', 'with-status', {'status': {'phase': 'x'}})
    assert 'status' not in ignored, 'the main resource ignores status'
    patched = custom.patch_namespaced_custom_object_status(GROUP, 'v1', 'default', 'gadgets', 'with-status',
                                                           {'status': {'conditions': [{'type': 'Ready', 'status': 'True'}]}})
    assert patched['status']['conditions'][0]['type'] == 'Ready'
    assert patched['metadata']['generation'] == 1, 'status writes do not bump the generation'


def test_python_builtin_objects_are_validated_with_kubernetes_validate(k8s):
    # The typed client (pydantic models) refuses such an object itself: the dynamic client sends it as it is.
    deployments = dynamic.DynamicClient(k8s).resources.get(api_version='apps/v1', kind='Deployment')
    body = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'typo'},
            'spec': {'replicas': 'two', 'selector': {'matchLabels': {'a': 'b'}},
                     'template': {'metadata': {'labels': {'a': 'b'}}, 'spec': {'containers': [{'name': 'c', 'image': 'i', 'imagePullPolcy': 'Always'}]}}}}
    with pytest.raises(ApiException) as invalid:
        deployments.create(body=body, namespace='default')
    status = json.loads(invalid.value.body)
    assert (invalid.value.status, status['reason']) == (422, 'Invalid')
    fields = {c['field'] for c in status['details']['causes']}
    assert fields == {'spec.replicas', 'spec.template.spec.containers[0].imagePullPolcy'}
    assert 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"' in status['message']


def test_python_status_bodies(k8s):
    core = client.CoreV1Api(k8s)
    with pytest.raises(ApiException) as missing_ns:
        core.create_namespaced_config_map('no-such-namespace', {'metadata': {'name': 'x'}})
    assert json.loads(missing_ns.value.body) == {
        'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': 'namespaces "no-such-namespace" not found',
        'reason': 'NotFound', 'details': {'name': 'no-such-namespace', 'kind': 'namespaces'}, 'code': 404}
    core.create_namespaced_config_map('default', {'metadata': {'name': 'twice'}})
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map('default', {'metadata': {'name': 'twice'}})
    body = json.loads(exists.value.body)
    assert (exists.value.status, body['reason'], body['message']) == (409, 'AlreadyExists', 'configmaps "twice" already exists')
    with pytest.raises(ApiException) as gone:
        client.AppsV1Api(k8s).read_namespaced_deployment('nothing', 'default')
    body = json.loads(gone.value.body)
    assert (gone.value.status, body['message'], body['details']) == (404, 'deployments.apps "nothing" not found',
                                                                     {'name': 'nothing', 'group': 'apps', 'kind': 'deployments'})
    with pytest.raises(ApiException) as bad_name:
        core.create_namespace({'metadata': {'name': 'Not_A_Label'}})
    body = json.loads(bad_name.value.body)
    assert body['reason'] == 'Invalid' and body['details']['causes'][0]['field'] == 'metadata.name'
    assert body['message'].startswith('Namespace "Not_A_Label" is invalid: metadata.name: Invalid value: "Not_A_Label": '
                                      'a lowercase RFC 1123 label must consist of')


# ------------------------------------------------------------------ kubernetes.core

def test_kubernetes_core_crd_then_custom_resource(play):
    widget = cr('Widget', 'w1', interval='5m')
    run = play([
        {'name': 'too early', 'kubernetes.core.k8s': {'state': 'present', 'definition': widget}, 'ignore_errors': True},
        {'name': 'crd', 'kubernetes.core.k8s': {'state': 'present', 'apply': True, 'definition': crd('Widget', 'widgets'),
                                                'wait': True, 'wait_condition': {'type': 'Established', 'status': 'True'}}},
        {'name': 'cr', 'kubernetes.core.k8s': {'state': 'present', 'apply': True,
                                               'server_side_apply': {'field_manager': 'ansible'}, 'definition': widget},
         'register': 'made', 'until': 'made is succeeded', 'retries': 10, 'delay': 1},
        {'name': 'again', 'kubernetes.core.k8s': {'state': 'present', 'apply': True,
                                                  'server_side_apply': {'field_manager': 'ansible'}, 'definition': widget}},
        {'name': 'invalid', 'kubernetes.core.k8s': {'state': 'present', 'apply': True,
                                                    'server_side_apply': {'field_manager': 'ansible'},
                                                    'definition': cr('Widget', 'w2', interval=5)}, 'ignore_errors': True},
    ])
    early = run.result('too early')
    # Depending on the module's discovery cache: no such kind, or the 404 of a resource path the server does not serve.
    assert early['failed'] and ('Failed to find exact match for %s/v1.Widget' % GROUP in early['msg'] or
                                '"message":"the server could not find the requested resource","reason":"NotFound"' in early['msg'])
    assert run.result('cr')['changed'] is True and run.result('again')['changed'] is False
    invalid = run.result('invalid')
    assert invalid['failed'] and '"reason":"Invalid","details"' in invalid['msg'] and '"code":422' in invalid['msg']
    assert 'spec.interval: Invalid value: \\"integer\\": spec.interval in body must be of type string: \\"integer\\"' in invalid['msg']


def test_kubernetes_core_missing_namespace(play):
    run = play([{'name': 'create', 'kubernetes.core.k8s': {'state': 'present', 'definition': {
        'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'x', 'namespace': 'absent'}}}, 'ignore_errors': True}])
    result = run.result('create')
    assert result['failed'] and '"code":404' in result['msg'] and 'namespaces \\"absent\\" not found' in result['msg']


# ------------------------------------------------------------------ kubectl

def test_kubectl_custom_resource_before_and_after_its_crd(kubectl):
    thing = yaml.safe_dump(cr('Thing', 't1', interval='1h'))
    early = kubectl('apply', '-f', '-', stdin=thing, check=False)
    assert early.returncode == 1
    assert 'no matches for kind "Thing" in version "%s/v1"' % GROUP in early.stderr
    assert 'ensure CRDs are installed first' in early.stderr
    kubectl('apply', '-f', '-', stdin=yaml.safe_dump(crd('Thing', 'things')))
    kubectl('wait', '--for=condition=Established', '--timeout=20s', 'crd/things.' + GROUP)
    deadline = time.monotonic() + 10
    while True:
        made = kubectl('apply', '-f', '-', stdin=thing, check=False)
        if made.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert 'thing.%s/t1 created' % GROUP in made.stdout, made.stderr
    table = kubectl('get', 'things').stdout.splitlines()
    assert table[0].split() == ['NAME', 'READY', 'AGE'] and table[1].split()[0] == 't1'


def test_kubectl_custom_resource_validation(kubectl):
    kubectl('wait', '--for=condition=Established', '--timeout=20s', 'crd/things.' + GROUP)
    bad = kubectl('create', '-f', '-', stdin=yaml.safe_dump(cr('Thing', 't2', interval='1h', mode='reckless')), check=False)
    assert bad.returncode == 1
    assert ('The Thing "t2" is invalid: spec.mode: Unsupported value: "reckless": supported values: "fast", "safe"') in bad.stderr
    unknown = kubectl('create', '-f', '-', stdin=yaml.safe_dump(cr('Thing', 't3', interval='1h', colour='red')), check=False)
    assert 'strict decoding error: unknown field "spec.colour"' in unknown.stderr


def test_kubectl_builtin_validation_names_the_field(kubectl):
    job = {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': {'name': 'typo'},
           'spec': {'template': {'spec': {'restartPolicy': 'Never', 'containers': [{'name': 'c', 'image': 'busybox', 'comand': ['true']}]}}}}
    refused = kubectl('apply', '-f', '-', stdin=yaml.safe_dump(job), check=False)
    assert refused.returncode == 1
    assert 'strict decoding error: unknown field "spec.template.spec.containers[0].comand"' in refused.stderr


def test_kubectl_missing_namespace(kubectl):
    manifest = yaml.safe_dump({'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'x', 'namespace': 'absent'}})
    refused = kubectl('create', '-f', '-', stdin=manifest, check=False)
    assert refused.returncode == 1
    assert 'Error from server (NotFound): error when creating "STDIN": namespaces "absent" not found' in refused.stderr
    generator = kubectl('-n', 'absent', 'create', 'configmap', 'x', check=False)
    assert 'error: failed to create configmap: namespaces "absent" not found' in generator.stderr


def test_crd_deletion_removes_its_objects(k8s):
    extensions = client.ApiextensionsV1Api(k8s)
    extensions.create_custom_resource_definition(crd('Doomed', 'dooms'))
    wait_for(lambda: _established(extensions, 'dooms.' + GROUP), 15, what='CRD Established')
    custom = client.CustomObjectsApi(k8s)
    wait_for(lambda: custom.create_namespaced_custom_object(GROUP, 'v1', 'default', 'dooms', cr('Doomed', 'd1', interval='1s')),
             10, what='Doomed created')
    extensions.delete_custom_resource_definition('dooms.' + GROUP)

    def gone():
        try:
            extensions.read_custom_resource_definition('dooms.' + GROUP)
            return False
        except ApiException as exc:
            return exc.status == 404
    wait_for(gone, 20, what='CRD gone')
    with pytest.raises((ApiException, ResourceNotFoundError)):
        custom.list_namespaced_custom_object(GROUP, 'v1', 'default', 'dooms')
