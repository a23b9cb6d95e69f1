# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When an object counts as ready, and why one is not, in words an operator can act on.

Pure functions over objects as the API returns them. ``judge`` gives a :class:`Verdict`: ``ready``,
``failed`` (waiting longer will not help: a Job that failed, a Deployment past its progress
deadline, a Flux object that is Stalled) and ``state``, one line saying what was seen. The rules
are kubectl's (``rollout status``, ``wait --for=condition``) and Flux's (``Ready`` with an
``observedGeneration`` that caught up); ``explain_pods`` says why the pods of a workload do not run.
"""

from __future__ import annotations

import collections

Verdict = collections.namedtuple('Verdict', 'ready failed state')


def condition(obj, kind):
    for entry in ((obj or {}).get('status') or {}).get('conditions') or ():
        if entry.get('type') == kind:
            return entry
    return None


def _is(obj, kind, value='True'):
    found = condition(obj, kind)
    return found is not None and found.get('status') == value


def _generation_seen(obj):
    meta, status = obj.get('metadata') or {}, obj.get('status') or {}
    return status.get('observedGeneration', 0) >= meta.get('generation', 0)


def deployment(obj):
    spec, status = obj.get('spec') or {}, obj.get('status') or {}
    wanted = spec.get('replicas', 1)
    progressing = condition(obj, 'Progressing') or {}
    if progressing.get('reason') == 'ProgressDeadlineExceeded':
        return Verdict(False, True, 'progress deadline exceeded: %s' % progressing.get('message', ''))
    if not _generation_seen(obj):
        return Verdict(False, False, 'waiting for the controller to see generation %s' % obj['metadata'].get('generation'))
    updated, available = status.get('updatedReplicas', 0), status.get('availableReplicas', 0)
    total = status.get('replicas', 0)
    if updated < wanted:
        return Verdict(False, False, '%d of %d replicas updated' % (updated, wanted))
    if total > updated:
        return Verdict(False, False, '%d old replicas pending termination' % (total - updated))
    if available < wanted:
        return Verdict(False, False, '%d of %d updated replicas available' % (available, wanted))
    return Verdict(True, False, '%d of %d replicas available' % (available, wanted))


def daemonset(obj):
    status = obj.get('status') or {}
    if not _generation_seen(obj):
        return Verdict(False, False, 'waiting for the controller to see generation %s' % obj['metadata'].get('generation'))
    desired = status.get('desiredNumberScheduled', 0)
    updated, available = status.get('updatedNumberScheduled', 0), status.get('numberAvailable', 0)
    if updated < desired:
        return Verdict(False, False, '%d of %d pods updated' % (updated, desired))
    if available < desired:
        return Verdict(False, False, '%d of %d pods available' % (available, desired))
    return Verdict(True, False, '%d of %d pods available' % (available, desired))


def job(obj):
    failed = condition(obj, 'Failed')
    if failed is not None and failed.get('status') == 'True':
        return Verdict(False, True, 'failed (%s): %s' % (failed.get('reason'), failed.get('message')))
    if _is(obj, 'Complete'):
        return Verdict(True, False, 'complete')
    status = obj.get('status') or {}
    return Verdict(False, False, 'running: %d active, %d failed attempts' % (status.get('active', 0), status.get('failed', 0)))


def crd(obj):
    if _is(obj, 'Established'):
        return Verdict(True, False, 'established')
    names = condition(obj, 'NamesAccepted') or {}
    if names.get('status') == 'False':
        return Verdict(False, True, 'names not accepted: %s' % names.get('message'))
    return Verdict(False, False, 'not established yet')


def node(obj):
    ready = condition(obj, 'Ready')
    if ready is None:
        return Verdict(False, False, 'no Ready condition posted yet')
    if ready.get('status') == 'True':
        return Verdict(True, False, 'Ready')
    return Verdict(False, False, 'Ready=%s (%s): %s' % (ready.get('status'), ready.get('reason'), ready.get('message')))


def flux(obj):
    """A Flux object (or any kstatus-style object): Ready=True for the generation it was given."""
    ready = condition(obj, 'Ready')
    stalled = condition(obj, 'Stalled')
    if stalled is not None and stalled.get('status') == 'True':
        return Verdict(False, True, 'stalled (%s): %s' % (stalled.get('reason'), stalled.get('message')))
    if ready is None:
        return Verdict(False, False, 'no Ready condition yet')
    if not _generation_seen(obj):
        return Verdict(False, False, 'waiting for the controller to see generation %s' % obj['metadata'].get('generation'))
    if ready.get('status') == 'True':
        return Verdict(True, False, 'Ready: %s' % ready.get('message', ''))
    return Verdict(False, False, 'Ready=%s (%s): %s' % (ready.get('status'), ready.get('reason'), ready.get('message')))


RULES = {
    ('apps', 'Deployment'): deployment,
    ('apps', 'DaemonSet'): daemonset,
    ('batch', 'Job'): job,
    ('apiextensions.k8s.io', 'CustomResourceDefinition'): crd,
    ('', 'Node'): node,
}


def group_of(api_version):
    return api_version.split('/', 1)[0] if '/' in api_version else ''


def judge(obj):
    """The verdict for any object: its kind's rule, Flux's rule for toolkit.fluxcd.io kinds, else 'it exists'."""
    group = group_of(obj.get('apiVersion', ''))
    rule = RULES.get((group, obj.get('kind')))
    if rule is None and (group.endswith('.toolkit.fluxcd.io') or condition(obj, 'Ready') is not None):
        rule = flux
    if rule is None:
        return Verdict(True, False, 'exists')
    return rule(obj)


# ---------------------------------------------------------------------- pods


def pod_problem(pod):
    """Why a pod does not run and serve, in one line; None when it is Running and Ready."""
    status = pod.get('status') or {}
    phase = status.get('phase')
    if pod['metadata'].get('deletionTimestamp'):
        return 'terminating'
    scheduled = condition(pod, 'PodScheduled')
    if scheduled is not None and scheduled.get('status') == 'False':
        return 'Pending, not scheduled (%s): %s' % (scheduled.get('reason'), scheduled.get('message'))
    for container in status.get('containerStatuses') or ():
        state = container.get('state') or {}
        if 'waiting' in state:
            waiting = state['waiting']
            text = 'container %s %s' % (container.get('name'), waiting.get('reason'))
            last = (container.get('lastState') or {}).get('terminated')
            if last:
                text += ', last exit %s%s' % (last.get('exitCode'), ': %s' % _one_line(last['message']) if last.get('message') else '')
            elif waiting.get('message'):
                text += ': %s' % _one_line(waiting['message'])
            return text
        if 'terminated' in state and state['terminated'].get('exitCode'):
            terminated = state['terminated']
            return 'container %s exited %s%s' % (container.get('name'), terminated.get('exitCode'),
                                                 ': %s' % _one_line(terminated['message']) if terminated.get('message') else '')
    if phase == 'Succeeded':
        return None
    if phase != 'Running':
        return phase or 'Pending'
    if not _is(pod, 'Ready'):
        return 'Running but not Ready'
    return None


def explain_pods(pods, limit=4):
    """Lines for the pods that do not run, most telling first (at most ``limit``)."""
    lines = []
    for pod in sorted(pods, key=lambda p: p['metadata'].get('name', '')):
        problem = pod_problem(pod)
        if problem:
            where = (pod.get('spec') or {}).get('nodeName')
            lines.append('pod %s%s: %s' % (pod['metadata']['name'], ' on %s' % where if where else '', problem))
    if len(lines) > limit:
        lines = lines[:limit] + ['and %d more pods' % (len(lines) - limit)]
    return lines


def selector_string(selector):
    """A label selector's matchLabels as the API's query string (matchExpressions left out: the pods are filtered after)."""
    labels = (selector or {}).get('matchLabels') or {}
    return ','.join('%s=%s' % (k, v) for k, v in sorted(labels.items()))


def node_roles(node_obj):
    labels = (node_obj.get('metadata') or {}).get('labels') or {}
    prefix = 'node-role.kubernetes.io/'
    return sorted(key[len(prefix):] for key in labels if key.startswith(prefix) and key[len(prefix):])


def _one_line(text, limit=300):
    text = ' '.join(str(text).split())
    return text if len(text) <= limit else text[:limit] + ' ...'
