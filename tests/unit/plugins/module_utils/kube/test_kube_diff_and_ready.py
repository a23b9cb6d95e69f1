"""The Kubernetes layer's pure rules: what makes a change and a diff, what Secrets show, when an object is ready and why not."""
from ansible_collections.hybridops.talos.plugins.module_utils._kube import diff, ready


def configmap(**meta):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': dict({'name': 'c', 'namespace': 'n'}, **meta), 'data': {'a': '1'}}


def test_server_bookkeeping_never_makes_a_change():
    before = configmap(resourceVersion='1', generation=1, uid='u', creationTimestamp='t', managedFields=[{'manager': 'x'}])
    before['status'] = {'x': 1}
    after = configmap(resourceVersion='2', generation=2, managedFields=[{'manager': 'y'}], labels={})
    assert not diff.differs(before, after)
    after['data'] = {'a': '2'}
    assert diff.differs(before, after)


def test_secret_values_never_show_but_a_changed_one_says_so():
    before = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 's', 'annotations': {diff.LAST_APPLIED: '{"data":{"k":"c2VjcmV0"}}'}},
              'data': {'k': 'c2VjcmV0', 'same': 'eA=='}}
    after = dict(before, data={'k': 'b3RoZXI=', 'same': 'eA=='})
    shown = diff.redact(after, before)
    assert shown['data'] == {'k': diff.REDACTED_CHANGED, 'same': diff.REDACTED}
    assert shown['metadata']['annotations'][diff.LAST_APPLIED] == diff.REDACTED
    assert 'c2VjcmV0' not in repr(diff.redact(before)) and 'b3RoZXI=' not in repr(shown)


def deployment(replicas=2, generation=3, **status):
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'd', 'generation': generation},
            'spec': {'replicas': replicas}, 'status': dict({'observedGeneration': generation}, **status)}


def test_a_deployment_is_rolled_out_as_kubectl_rollout_status_says():
    assert ready.judge(deployment(updatedReplicas=2, availableReplicas=2)).ready
    assert ready.judge(deployment(updatedReplicas=1)).state == '1 of 2 replicas updated'
    surge = deployment(updatedReplicas=2)
    surge['status']['replicas'] = 3
    assert ready.judge(surge).state == '1 old replicas pending termination'
    stale = deployment(updatedReplicas=2, availableReplicas=2)
    stale['status']['observedGeneration'] = 2
    assert not ready.judge(stale).ready
    stuck = deployment()
    stuck['status']['conditions'] = [{'type': 'Progressing', 'reason': 'ProgressDeadlineExceeded', 'message': 'too slow'}]
    assert ready.judge(stuck).failed


def test_a_failed_job_fails_at_once_and_a_node_says_why_it_is_not_ready():
    job = {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': {'name': 'j'},
           'status': {'conditions': [{'type': 'Failed', 'status': 'True', 'reason': 'BackoffLimitExceeded', 'message': 'Job has reached'}]}}
    verdict = ready.judge(job)
    assert verdict.failed and 'BackoffLimitExceeded' in verdict.state
    node = {'apiVersion': 'v1', 'kind': 'Node', 'metadata': {'name': 'n'}, 'status': {'conditions': [
        {'type': 'Ready', 'status': 'False', 'reason': 'KubeletNotReady', 'message': 'cni plugin not initialized'}]}}
    assert ready.judge(node) == ready.Verdict(False, False, 'Ready=False (KubeletNotReady): cni plugin not initialized')


def test_flux_objects_are_ready_for_their_generation_and_stalled_fails():
    repo = {'apiVersion': 'source.toolkit.fluxcd.io/v1', 'kind': 'GitRepository', 'metadata': {'name': 'r', 'generation': 2},
            'status': {'observedGeneration': 2, 'conditions': [{'type': 'Ready', 'status': 'True', 'message': 'stored artifact'}]}}
    assert ready.judge(repo).ready
    repo['status']['conditions'].append({'type': 'Stalled', 'status': 'True', 'reason': 'URLInvalid', 'message': 'bad'})
    assert ready.judge(repo).failed
    assert ready.judge({'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'x'}}).state == 'exists'


def test_why_pods_do_not_run():
    pending = {'metadata': {'name': 'p1'}, 'status': {'phase': 'Pending', 'conditions': [
        {'type': 'PodScheduled', 'status': 'False', 'reason': 'Unschedulable', 'message': '0/5 nodes are available'}]}}
    crashing = {'metadata': {'name': 'p2'}, 'spec': {'nodeName': 'w1'}, 'status': {'phase': 'Running', 'containerStatuses': [
        {'name': 'agent', 'state': {'waiting': {'reason': 'CrashLoopBackOff'}},
         'lastState': {'terminated': {'exitCode': 1, 'message': 'level=fatal\n msg="bad"'}}}]}}
    fine = {'metadata': {'name': 'p3'}, 'status': {'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True'}]}}
    assert ready.explain_pods([fine, crashing, pending]) == [
        'pod p1: Pending, not scheduled (Unschedulable): 0/5 nodes are available',
        'pod p2 on w1: container agent CrashLoopBackOff, last exit 1: level=fatal msg="bad"']


def test_node_roles_as_kubectl_shows_them():
    node = {'metadata': {'labels': {'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/': '', 'x': 'y'}}}
    assert ready.node_roles(node) == ['control-plane']
