"""The scheduler's predicates for the fields the lab honours, and its messages (pure functions).

Filters run in kube-scheduler's order and a node is counted under the first one it fails:
NodeUnschedulable ("node(s) were unschedulable"), TaintToleration (NoSchedule/NoExecute taints the
pod does not tolerate: "node(s) had untolerated taint {key: value}"), NodeAffinity (``nodeSelector``
and required node affinity, operators In/NotIn/Exists/DoesNotExist/Gt/Lt, ``matchFields`` on
``metadata.name``: "node(s) didn't match Pod's node affinity/selector"). Resources are not modelled;
the lab's "pending" fault makes every node answer "Insufficient cpu".
"""

UNSCHEDULABLE = 'node(s) were unschedulable'
AFFINITY = "node(s) didn't match Pod's node affinity/selector"
INSUFFICIENT_CPU = 'Insufficient cpu'
# Tolerations the DaemonSet controller adds to its pods (pkg/controller/daemon/util).
DAEMONSET_TOLERATIONS = [
    {'key': 'node.kubernetes.io/not-ready', 'operator': 'Exists', 'effect': 'NoExecute'},
    {'key': 'node.kubernetes.io/unreachable', 'operator': 'Exists', 'effect': 'NoExecute'},
    {'key': 'node.kubernetes.io/disk-pressure', 'operator': 'Exists', 'effect': 'NoSchedule'},
    {'key': 'node.kubernetes.io/memory-pressure', 'operator': 'Exists', 'effect': 'NoSchedule'},
    {'key': 'node.kubernetes.io/pid-pressure', 'operator': 'Exists', 'effect': 'NoSchedule'},
    {'key': 'node.kubernetes.io/unschedulable', 'operator': 'Exists', 'effect': 'NoSchedule'},
]
NETWORK_UNAVAILABLE = {'key': 'node.kubernetes.io/network-unavailable', 'operator': 'Exists', 'effect': 'NoSchedule'}


def tolerates(toleration, taint):
    """v1.Toleration.ToleratesTaint."""
    if toleration.get('effect') and toleration['effect'] != taint.get('effect'):
        return False
    if toleration.get('key') and toleration['key'] != taint.get('key'):
        return False
    operator = toleration.get('operator') or 'Equal'
    if operator == 'Exists':
        return True
    if operator == 'Equal':
        return (toleration.get('value') or '') == (taint.get('value') or '')
    return False


def untolerated_taint(taints, tolerations, effects=('NoSchedule', 'NoExecute')):
    """The first taint with one of ``effects`` that no toleration tolerates, or None."""
    for taint in taints or ():
        if taint.get('effect') not in effects:
            continue
        if not any(tolerates(t, taint) for t in tolerations or ()):
            return taint
    return None


def _requirement(expression, labels):
    key, operator = expression.get('key'), expression.get('operator')
    values = expression.get('values') or []
    present = key in labels
    if operator == 'In':
        return present and labels[key] in values
    if operator == 'NotIn':
        return not present or labels[key] not in values
    if operator == 'Exists':
        return present
    if operator == 'DoesNotExist':
        return not present
    if operator in ('Gt', 'Lt'):
        try:
            have, limit = int(labels[key]), int(values[0])
        except (KeyError, IndexError, ValueError):
            return False
        return have > limit if operator == 'Gt' else have < limit
    return False


def term_matches(term, node):
    labels = (node.get('metadata') or {}).get('labels') or {}
    expressions = term.get('matchExpressions') or []
    fields = term.get('matchFields') or []
    if not expressions and not fields:
        return False
    if not all(_requirement(e, labels) for e in expressions):
        return False
    return all(_requirement(f, {'metadata.name': node['metadata']['name']}) for f in fields)


def affinity_matches(pod_spec, node):
    labels = (node.get('metadata') or {}).get('labels') or {}
    for key, value in (pod_spec.get('nodeSelector') or {}).items():
        if labels.get(key) != value:
            return False
    required = (((pod_spec.get('affinity') or {}).get('nodeAffinity') or {})
                .get('requiredDuringSchedulingIgnoredDuringExecution'))
    if required is None:
        return True
    return any(term_matches(term, node) for term in required.get('nodeSelectorTerms') or ())


def _unschedulable(node, tolerations):
    if not (node.get('spec') or {}).get('unschedulable'):
        return False
    taint = {'key': 'node.kubernetes.io/unschedulable', 'effect': 'NoSchedule'}
    return not any(tolerates(t, taint) for t in tolerations)


def why_not(pod_spec, node, starved=False, volumes=None):
    """None when the pod fits the node, else the scheduler's reason text (``volumes``: volumes.Needs, checked last as
    kube-scheduler's VolumeBinding filter runs after the node and resource filters)."""
    tolerations = pod_spec.get('tolerations') or []
    if _unschedulable(node, tolerations):
        return UNSCHEDULABLE
    taint = untolerated_taint((node.get('spec') or {}).get('taints'), tolerations)
    if taint is not None:
        return 'node(s) had untolerated taint {%s: %s}' % (taint.get('key'), taint.get('value') or '')
    if not affinity_matches(pod_spec, node):
        return AFFINITY
    if starved:
        return INSUFFICIENT_CPU
    if volumes is not None:
        return volumes.reason(node)
    return None


def fit_error(reasons, total):
    """kube-scheduler's FitError message, with the preemption summary the default preemption plugin adds."""
    counts = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    texts = sorted('%d %s' % (count, reason) for reason, count in counts.items())
    message = '0/%d nodes are available: %s.' % (total, ', '.join(texts))
    helpless = sum(count for reason, count in counts.items() if reason != INSUFFICIENT_CPU)
    preemption = []
    if counts.get(INSUFFICIENT_CPU):
        preemption.append('%d No preemption victims found for incoming pod' % counts[INSUFFICIENT_CPU])
    if helpless:
        preemption.append('%d Preemption is not helpful for scheduling' % helpless)
    return '%s preemption: 0/%d nodes are available: %s.' % (message, total, ', '.join(sorted(preemption)))


def prefilter_error(reason, total):
    """The FitError of a pod that no node can take whatever the node (a PreFilter plugin said no)."""
    return '0/%d nodes are available: %s. preemption: 0/%d nodes are available: %d Preemption is not helpful for scheduling.' % (
        total, reason, total, total)


def choose(pod_spec, nodes, pods_per_node, starved=False, volumes=None):
    """(node name, None) or (None, FitError message)."""
    feasible, reasons = [], []
    if volumes is not None and volumes.error:
        return None, prefilter_error(volumes.error, len(nodes))
    for node in nodes:
        reason = why_not(pod_spec, node, starved, volumes)
        if reason is None:
            feasible.append(node['metadata']['name'])
        else:
            reasons.append(reason)
    if not nodes:
        return None, 'no nodes available to schedule pods'
    if not feasible:
        return None, fit_error(reasons, len(nodes))
    return min(feasible, key=lambda name: (pods_per_node.get(name, 0), name)), None


def daemon_pod_fits(pod_spec, node):
    """Whether a DaemonSet wants a pod on ``node`` (its own tolerations plus the controller's defaults)."""
    tolerations = list(pod_spec.get('tolerations') or []) + DAEMONSET_TOLERATIONS
    if pod_spec.get('hostNetwork'):
        tolerations.append(NETWORK_UNAVAILABLE)
    spec = dict(pod_spec, tolerations=tolerations)
    return why_not(spec, node) is None
