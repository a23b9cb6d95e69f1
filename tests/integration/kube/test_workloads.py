"""The controller stand-ins: the scheduler's predicates and messages, a CNI DaemonSet making nodes Ready,
Deployments, DaemonSets and Jobs rolling out (kubectl rollout status / wait), workload faults, and a
node that stops posting its status. Runs after the other files: it makes the nodes Ready."""
import json

import pytest
import yaml
from kubernetes import client, watch

from kube_lab import CONTROL_PLANES, WORKERS, wait_for

pytestmark = pytest.mark.lab
PAUSE = 'registry.k8s.io/pause:3.10'


def deployment(name, replicas=1, namespace='default', **pod_spec):
    spec = dict({'containers': [{'name': 'main', 'image': PAUSE}]}, **pod_spec)
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': name, 'namespace': namespace},
            'spec': {'replicas': replicas, 'selector': {'matchLabels': {'app': name}},
                     'template': {'metadata': {'labels': {'app': name}}, 'spec': spec}}}


def _pods(k8s, selector, namespace='default'):
    return client.CoreV1Api(k8s).list_namespaced_pod(namespace, label_selector=selector).items


def _scheduled_message(k8s, selector):
    pods = _pods(k8s, selector)
    conditions = [c for p in pods for c in p.status.conditions or () if c.type == 'PodScheduled' and c.status == 'False']
    return conditions[0].message if conditions and len(conditions) == len(pods) else None


def test_without_a_cni_pods_stay_pending_with_the_schedulers_message(kubectl, k8s):
    kubectl('apply', '-f', '-', stdin=yaml.safe_dump(deployment('early', replicas=2)))
    message = wait_for(lambda: _scheduled_message(k8s, 'app=early'), 20, what='PodScheduled=False on both pods')
    assert message == ('0/5 nodes are available: 2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, '
                       '3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. '
                       'preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.')
    pod = _pods(k8s, 'app=early')[0]
    assert (pod.status.phase, pod.status.conditions[0].reason) == ('Pending', 'Unschedulable')


def test_a_cni_daemonset_makes_the_nodes_ready(kubectl, k8s):
    cni = {'apiVersion': 'apps/v1', 'kind': 'DaemonSet', 'metadata': {'name': 'cilium', 'namespace': 'kube-system', 'labels': {'k8s-app': 'cilium'}},
           'spec': {'selector': {'matchLabels': {'k8s-app': 'cilium'}},
                    'template': {'metadata': {'labels': {'k8s-app': 'cilium'}},
                                 'spec': {'hostNetwork': True, 'priorityClassName': 'system-node-critical', 'tolerations': [{'operator': 'Exists'}],
                                          'containers': [{'name': 'cilium-agent', 'image': 'quay.io/cilium/cilium:v1.16.6'}]}}}}
    kubectl('apply', '-f', '-', stdin=yaml.safe_dump(cni))
    kubectl('-n', 'kube-system', 'rollout', 'status', 'ds/cilium', '--timeout=60s', timeout=90)
    status = kubectl.json('-n', 'kube-system', 'get', 'ds', 'cilium')['status']
    assert status['desiredNumberScheduled'] == status['numberReady'] == status['updatedNumberScheduled'] == 5
    kubectl('wait', '--for=condition=Ready', 'nodes', '--all', '--timeout=60s', timeout=90)
    for node in client.CoreV1Api(k8s).list_node().items:
        ready = next(c for c in node.status.conditions if c.type == 'Ready')
        assert (ready.status, ready.reason, ready.message) == ('True', 'KubeletReady', 'kubelet is posting ready status')
    # The node lifecycle controller lifts the not-ready taint after it sees Ready, a moment later (as on a real cluster).
    wait_for(lambda: not any(t.key == 'node.kubernetes.io/not-ready' for n in client.CoreV1Api(k8s).list_node().items
                             for t in n.spec.taints or ()), 30, what='the not-ready taints lifted')
    pods = _pods(k8s, 'k8s-app=cilium', 'kube-system')
    assert sorted(p.spec.node_name for p in pods) == sorted(CONTROL_PLANES + WORKERS)
    assert all(p.status.pod_ip == p.status.host_ip for p in pods), 'hostNetwork pods have the node address'


def test_pending_pods_schedule_once_nodes_are_ready(kubectl, k8s):
    kubectl('rollout', 'status', 'deployment/early', '--timeout=60s', timeout=90)
    pods = _pods(k8s, 'app=early')
    assert {p.spec.node_name for p in pods} <= set(WORKERS), 'the control planes stay tainted'
    assert all(p.status.pod_ip.startswith('10.244.') for p in pods), 'pod network addresses from the node podCIDR'
    dns = kubectl.json('-n', 'kube-system', 'get', 'deployment', 'coredns')['status']
    kubectl('-n', 'kube-system', 'rollout', 'status', 'deployment/coredns', '--timeout=60s', timeout=90)
    assert dns['observedGeneration'] >= 1


def test_node_selector_affinity_and_tolerations(kubectl, k8s):
    home = deployment('home-only', replicas=2, nodeSelector={'hybridops.io/site': 'home'},
                      tolerations=[{'key': 'node-role.kubernetes.io/control-plane', 'operator': 'Exists', 'effect': 'NoSchedule'}])
    kubectl('apply', '-f', '-', stdin=yaml.safe_dump(home))
    kubectl('rollout', 'status', 'deployment/home-only', '--timeout=60s', timeout=90)
    assert {p.spec.node_name for p in _pods(k8s, 'app=home-only')} <= {'home-cp-0', 'home-w-0', 'home-w-1'}
    required = {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [
        {'matchExpressions': [{'key': 'node-role.kubernetes.io/control-plane', 'operator': 'Exists'},
                              {'key': 'hybridops.io/site', 'operator': 'In', 'values': ['vps']}]}]}}}
    vps_cp = deployment('vps-control-plane', replicas=2, affinity=required, tolerations=[{'operator': 'Exists'}])
    kubectl('apply', '-f', '-', stdin=yaml.safe_dump(vps_cp))
    kubectl('rollout', 'status', 'deployment/vps-control-plane', '--timeout=60s', timeout=90)
    assert {p.spec.node_name for p in _pods(k8s, 'app=vps-control-plane')} <= {'vps-0', 'vps-1'}
    nowhere = deployment('nowhere', affinity={'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [
        {'matchExpressions': [{'key': 'hybridops.io/site', 'operator': 'NotIn', 'values': ['vps', 'home']}]}]}}})
    kubectl('apply', '-f', '-', stdin=yaml.safe_dump(nowhere))
    message = wait_for(lambda: _scheduled_message(k8s, 'app=nowhere'), 20, what='the pod unschedulable')
    assert message == ("0/5 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, "
                       '3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. '
                       'preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.')
    refused = kubectl('rollout', 'status', 'deployment/nowhere', '--timeout=2s', check=False)
    assert refused.returncode == 1 and 'Waiting for deployment "nowhere" rollout to finish: 0 of 1 updated replicas are available' in refused.stdout


def test_a_rollout_replaces_the_replica_set(kubectl, k8s):
    kubectl('apply', '-f', '-', stdin=yaml.safe_dump(deployment('rolling', replicas=2)))
    kubectl('rollout', 'status', 'deployment/rolling', '--timeout=60s', timeout=90)
    kubectl('set', 'image', 'deployment/rolling', 'main=registry.k8s.io/pause:3.9')
    kubectl('rollout', 'status', 'deployment/rolling', '--timeout=60s', timeout=90)
    sets = kubectl.json('get', 'replicasets', '-l', 'app=rolling')['items']
    assert sorted(rs['spec']['replicas'] for rs in sets) == [0, 2]
    images = {p.spec.containers[0].image for p in _pods(k8s, 'app=rolling') if not p.metadata.deletion_timestamp}
    assert images == {'registry.k8s.io/pause:3.9'}
    status = kubectl.json('get', 'deployment', 'rolling')['status']
    assert (status['updatedReplicas'], status['availableReplicas'], status['observedGeneration']) == (2, 2, 2)
    progressing = next(c for c in status['conditions'] if c['type'] == 'Progressing')
    assert progressing['reason'] == 'NewReplicaSetAvailable'


def test_a_job_runs_to_completion(kubectl):
    job = {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': {'name': 'once', 'namespace': 'default'},
           'spec': {'template': {'spec': {'restartPolicy': 'Never', 'containers': [{'name': 'c', 'image': 'busybox:1.37'}]}}}}
    kubectl('apply', '-f', '-', stdin=yaml.safe_dump(job))
    kubectl('wait', '--for=condition=complete', 'job/once', '--timeout=60s', timeout=90)
    status = kubectl.json('get', 'job', 'once')['status']
    assert status['succeeded'] == 1 and status['completionTime']
    assert {c['type'] for c in status['conditions']} == {'Complete', 'SuccessCriteriaMet'}
    pods = kubectl.json('get', 'pods', '-l', 'batch.kubernetes.io/job-name=once')['items']
    assert [p['status']['phase'] for p in pods] == ['Succeeded']


def test_fault_crash_loops_a_workload_until_healed(kubectl, kube_lab, k8s):
    kubectl('apply', '-f', '-', stdin=yaml.safe_dump(deployment('crashy')))
    kubectl('rollout', 'status', 'deployment/crashy', '--timeout=60s', timeout=90)
    fault = kube_lab.lab_command('fault', 'workload', 'default/crashy', '--mode', 'crash')
    assert fault.returncode == 0, fault.stderr

    def crash_looping():
        pod = _pods(k8s, 'app=crashy')[0]
        state = pod.status.container_statuses[0]
        return state.state.waiting and state.state.waiting.reason == 'CrashLoopBackOff' and state.restart_count >= 2
    wait_for(crash_looping, 30, what='CrashLoopBackOff')
    table = kubectl('get', 'pods', '-l', 'app=crashy').stdout
    assert 'CrashLoopBackOff' in table and '0/1' in table
    heal = kube_lab.lab_command('heal')
    assert heal.returncode == 0, heal.stderr
    kubectl('rollout', 'status', 'deployment/crashy', '--timeout=60s', timeout=90)


def test_fault_fails_a_job(kubectl, kube_lab):
    fault = kube_lab.lab_command('fault', 'workload', 'default/doomed', '--mode', 'fail')
    assert fault.returncode == 0, fault.stderr
    job = {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': {'name': 'doomed', 'namespace': 'default'},
           'spec': {'backoffLimit': 2, 'template': {'spec': {'restartPolicy': 'OnFailure', 'containers': [{'name': 'c', 'image': 'busybox:1.37'}]}}}}
    try:
        kubectl('apply', '-f', '-', stdin=yaml.safe_dump(job))
        kubectl('wait', '--for=condition=failed', 'job/doomed', '--timeout=60s', timeout=90)
    finally:
        kube_lab.lab_command('heal')
    failed = next(c for c in kubectl.json('get', 'job', 'doomed')['status']['conditions'] if c['type'] == 'Failed')
    assert (failed['reason'], failed['message']) == ('BackoffLimitExceeded', 'Job has reached the specified backoff limit')


def test_fault_keeps_a_workload_pending(kubectl, kube_lab, k8s):
    fault = kube_lab.lab_command('fault', 'workload', 'default/starved', '--mode', 'pending')
    assert fault.returncode == 0, fault.stderr
    try:
        kubectl('apply', '-f', '-', stdin=yaml.safe_dump(deployment('starved')))
        message = wait_for(lambda: _scheduled_message(k8s, 'app=starved'), 20, what='the pod unschedulable')
    finally:
        kube_lab.lab_command('heal')
    assert message == ('0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. '
                       'preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, '
                       '3 Preemption is not helpful for scheduling.')
    kubectl('rollout', 'status', 'deployment/starved', '--timeout=60s', timeout=90)


def test_watch_streams_changes(k8s):
    core = client.CoreV1Api(k8s)
    made = core.create_namespaced_config_map('default', {'metadata': {'name': 'watched', 'labels': {'w': 'yes'}}})
    core.patch_namespaced_config_map('watched', 'default', {'data': {'a': '1'}})
    core.delete_namespaced_config_map('watched', 'default')
    events = [(e['type'], e['object'].metadata.name) for e in watch.Watch().stream(
        core.list_namespaced_config_map, 'default', label_selector='w=yes', resource_version=made.metadata.resource_version,
        timeout_seconds=2)]
    assert events == [('MODIFIED', 'watched'), ('DELETED', 'watched')]


def test_deleting_a_namespace_deletes_its_content(kubectl, k8s):
    kubectl('create', 'namespace', 'doomed-ns')
    kubectl('-n', 'doomed-ns', 'apply', '-f', '-', stdin=yaml.safe_dump(deployment('inside', namespace='doomed-ns')))
    kubectl('-n', 'doomed-ns', 'rollout', 'status', 'deployment/inside', '--timeout=60s', timeout=90)
    kubectl('delete', 'namespace', 'doomed-ns', '--timeout=60s', timeout=90)
    assert kubectl('get', 'namespace', 'doomed-ns', check=False).returncode == 1
    assert not client.CoreV1Api(k8s).list_namespaced_pod('doomed-ns').items


def test_a_stopped_node_turns_unknown_and_comes_back(kube_lab, kubectl, k8s):
    core = client.CoreV1Api(k8s)
    assert kube_lab.command('stop', 'home-w-1').returncode == 0

    def unknown():
        node = core.read_node('home-w-1')
        ready = next(c for c in node.status.conditions if c.type == 'Ready')
        taints = {(t.key, t.effect) for t in node.spec.taints or ()}
        return ready.status == 'Unknown' and ('node.kubernetes.io/unreachable', 'NoExecute') in taints and ready
    ready = wait_for(unknown, 40, 0.5, 'home-w-1 Unknown and unreachable')
    assert (ready.reason, ready.message) == ('NodeStatusUnknown', 'Kubelet stopped posting node status.')
    assert 'NotReady' in kubectl('get', 'node', 'home-w-1').stdout
    assert kube_lab.lab_command('heal').returncode == 0
    kubectl('wait', '--for=condition=Ready', 'node/home-w-1', '--timeout=60s', timeout=90)
    wait_for(lambda: not any(t.key == 'node.kubernetes.io/unreachable' for t in core.read_node('home-w-1').spec.taints or ()),
             20, what='the unreachable taints removed')


def test_table_output_of_kubectl(kubectl):
    lines = kubectl('get', 'deployments', 'rolling').stdout.splitlines()
    assert lines[0].split() == ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'] and lines[1].split()[:4] == ['rolling', '2/2', '2', '2']
    pods = kubectl('-n', 'kube-system', 'get', 'pods', '-o', 'wide').stdout.splitlines()
    assert pods[0].split()[:7] == ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE']
    assert json.loads(kubectl('get', '--raw', '/apis/apps/v1').stdout)['groupVersion'] == 'apps/v1'
