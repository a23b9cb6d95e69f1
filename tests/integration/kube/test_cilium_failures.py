"""Our Kubernetes modules' failures against the lab's API server: a cilium install Job that fails with cilium's own
message, a pod that fits nowhere, a custom resource without its CRD. Each gives one clear sentence.

The install Jobs here fail before they create anything, so the nodes stay NotReady for test_workloads.py.
"""
# pylint: disable=redefined-outer-name  # pytest fixtures as arguments
import yaml

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils import _cilium

pytestmark = pytest.mark.lab


def one_task(run_playbook, module, args):
    plays = [{'name': 'one task', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [{'name': 'task', module: args}]}]
    return run_playbook(plays)


def install_objects(name, values):
    """Our install manifest's objects, renamed so that they do not clash with another test's."""
    docs = yaml.safe_load_all(_cilium.manifest(mtu=1420)['contents'])
    objects = []
    for doc in docs:
        doc['metadata']['name'] = name
        if doc['kind'] == 'ClusterRoleBinding':
            doc['subjects'][0]['name'] = name
        if doc['kind'] == 'Job':
            spec = doc['spec']
            spec['backoffLimit'] = 0
            spec['template']['spec']['restartPolicy'] = 'Never'
            spec['template']['spec']['serviceAccountName'] = name
            spec['template']['spec']['containers'][0]['command'] += values
        objects.append(doc)
    return objects


def test_a_cilium_install_job_that_fails_is_reported_with_cilium_s_message(run_playbook, kube_lab):
    objects = install_objects('cilium-install-bad', ['--set', 'hubble.enabled=3'])
    applied = one_task(run_playbook, 'hybridops.talos.kube_apply', {'kubeconfig': kube_lab.kubeconfig, 'definitions': objects})
    assert applied.rc == 0, applied.failures()
    run = one_task(run_playbook, 'hybridops.talos.kube_wait', {
        'kubeconfig': kube_lab.kubeconfig, 'check_nodes': False, 'wait_timeout': 120,
        'objects': [{'api_version': 'batch/v1', 'kind': 'Job', 'namespace': 'kube-system', 'name': 'cilium-install-bad'}]})
    assert run.rc != 0
    result = run.result('task')
    assert 'waiting cannot help' in result['msg'], result['msg']
    assert 'kube-system/cilium-install-bad' in result['msg'], result['msg']
    assert 'hubble.enabled: Invalid type. Expected: boolean, given: integer' in result['msg'], result['msg']
    assert result['failure']['reason'] == 'not_ready'


def test_a_pod_that_fits_nowhere_is_named_with_the_schedulers_message(run_playbook, kube_lab):
    deployment = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'nowhere', 'namespace': 'default'},
                  'spec': {'replicas': 1, 'selector': {'matchLabels': {'app': 'nowhere'}},
                           'template': {'metadata': {'labels': {'app': 'nowhere'}},
                                        'spec': {'nodeSelector': {'hybridops.io/site': 'moon'},
                                                 'containers': [{'name': 'main', 'image': 'registry.k8s.io/pause:3.10'}]}}}}
    applied = one_task(run_playbook, 'hybridops.talos.kube_apply', {'kubeconfig': kube_lab.kubeconfig, 'definitions': [deployment]})
    assert applied.rc == 0, applied.failures()
    run = one_task(run_playbook, 'hybridops.talos.kube_wait', {
        'kubeconfig': kube_lab.kubeconfig, 'check_nodes': False, 'wait_timeout': 5,
        'objects': [{'api_version': 'apps/v1', 'kind': 'Deployment', 'namespace': 'default', 'name': 'nowhere'}]})
    assert run.rc != 0
    msg = run.result('task')['msg']
    assert 'default/nowhere' in msg and 'not ready after 5 s' in msg, msg
    assert 'Pending, not scheduled (Unschedulable): 0/5 nodes are available' in msg, msg
    one_task(run_playbook, 'kubernetes.core.k8s', {'kubeconfig': kube_lab.kubeconfig, 'state': 'absent', 'definition': deployment})


def test_a_custom_resource_without_its_crd_fails_before_anything_is_applied(run_playbook, kube_lab):
    objects = [{'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'before-the-cr', 'namespace': 'default'}},
               {'apiVersion': 'source.toolkit.fluxcd.io/v1', 'kind': 'GitRepository',
                'metadata': {'name': 'flux-system', 'namespace': 'default'},
                'spec': {'interval': '1m', 'url': 'https://example.org/repo.git'}}]
    run = one_task(run_playbook, 'hybridops.talos.kube_apply', {'kubeconfig': kube_lab.kubeconfig, 'definitions': objects})
    assert run.rc != 0
    result = run.result('task')
    assert result['failure']['reason'] == 'kind_not_served', result['failure']
    assert 'GitRepository' in result['msg'] and 'CustomResourceDefinition' in result['msg'], result['msg']
    args = {'kubeconfig': kube_lab.kubeconfig, 'kind': 'ConfigMap', 'namespace': 'default', 'name': 'before-the-cr'}
    check = one_task(run_playbook, 'kubernetes.core.k8s_info', args)
    assert check.result('task')['resources'] == []
