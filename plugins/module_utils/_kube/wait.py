# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded waits for nodes and objects, ending in what was seen last.

One observation reads the nodes and each target object (with the pods of workloads that are not
ready), judges them by ready.py's rules and says, per node and per object, what is wrong. The wait
polls observations with capped backoff until everything is ready, fails at once when waiting cannot
help (a failed Job, a Stalled Flux object, a kind the cluster does not serve), and otherwise fails at
the deadline with the last observation.
"""

from __future__ import annotations

import collections
import time

from . import ready
from .client import Resource
from .errors import KubeError

NODES = Resource('v1', 'Node', 'nodes', False)
PODS = Resource('v1', 'Pod', 'pods', True)
WORKLOADS = (('apps', 'Deployment'), ('apps', 'DaemonSet'), ('batch', 'Job'))

# Answers that say "not now" rather than "no": the wait goes on.
TRANSIENT = ('api_unreachable', 'api_timeout', 'api_unavailable', 'api_internal_error', 'too_many_requests')

Target = collections.namedtuple('Target', 'api_version kind name namespace')


def target(entry):
    """A Target from a module's dict entry (api_version, kind, name, namespace)."""
    return Target(entry.get('api_version') or entry.get('apiVersion'), entry['kind'], entry['name'], entry.get('namespace'))


def label(item):
    where = '%s/%s' % (item.namespace, item.name) if item.namespace else item.name
    return '%s %s' % (item.kind, where)


class Observation:
    """One look at the cluster: ``nodes`` and ``objects`` (lists of dicts), ``failed`` and ``problems``."""

    def __init__(self):
        self.nodes, self.objects, self.problems, self.failed = [], [], [], []

    @property
    def done(self):
        return not self.problems

    def summary(self):
        return '; '.join(self.problems) or 'everything ready'


def observe_nodes(client, expected, found, observation, site_label=None):
    present = {}
    for node in client.list(NODES):
        present[node['metadata']['name']] = node
    names = sorted(present) if expected is None else list(expected)
    for name in names:
        node = present.get(name)
        if node is None:
            observation.nodes.append(dict(name=name, ready=False, roles=[], state='not registered'))
            observation.problems.append('node %s has not registered' % name)
            continue
        verdict = ready.node(node)
        labels = node['metadata'].get('labels') or {}
        entry = dict(name=name, ready=verdict.ready, roles=ready.node_roles(node), state=verdict.state)
        if site_label:
            entry['site'] = labels.get(site_label)
        observation.nodes.append(entry)
        found[name] = node
        if not verdict.ready:
            observation.problems.append('node %s %s' % (name, verdict.state))
    if not names:
        observation.problems.append('no node has registered')


def observe_object(client, item, expected_nodes, observation):
    resource = client.resource(item.api_version, item.kind)
    if resource is None:
        raise KubeError('kind_not_served', 'the cluster does not serve %s %s: is its CustomResourceDefinition installed?'
                        % (item.kind, item.api_version), call='Waiting for %s' % label(item), kind=item.kind)
    obj = client.get(resource, item.name, item.namespace)
    entry = dict(api_version=item.api_version, kind=item.kind, name=item.name, ready=False)
    if item.namespace:
        entry['namespace'] = item.namespace
    observation.objects.append(entry)
    if obj is None:
        entry['state'] = 'not found'
        observation.problems.append('%s not found' % label(item))
        return
    verdict = ready.judge(obj)
    details = []
    group = ready.group_of(item.api_version)
    if (group, item.kind) in WORKLOADS:
        pods = _pods_of(client, obj)
        missing_on = []
        if item.kind == 'DaemonSet' and expected_nodes:
            running = {(p.get('spec') or {}).get('nodeName') for p in pods if ready.pod_problem(p) is None}
            missing_on = [n for n in expected_nodes if n not in running]
        if not verdict.ready or missing_on:
            details = ready.explain_pods(pods)
            placed = {(p.get('spec') or {}).get('nodeName') for p in pods}
            unplaced = [n for n in missing_on if n not in placed]
            if unplaced:
                details.append('no pod on %s' % ', '.join(unplaced))
        if verdict.ready and missing_on:
            verdict = ready.Verdict(False, False, 'not running on every node (%s)' % ', '.join(missing_on))
    entry.update(ready=verdict.ready, state=verdict.state)
    if details:
        entry['pods'] = details
    if not verdict.ready:
        text = '%s %s' % (label(item), verdict.state)
        if details:
            text += ' (%s)' % '; '.join(details)
        observation.problems.append(text)
        if verdict.failed:
            observation.failed.append(text)


def _pods_of(client, obj):
    namespace = obj['metadata'].get('namespace')
    selector = ready.selector_string((obj.get('spec') or {}).get('selector'))
    if not selector:
        return []
    pods = client.list(PODS, namespace, label_selector=selector)
    uid = obj['metadata'].get('uid')
    # A Deployment's pods belong to its ReplicaSets: keep the selector's pods; the others by owner.
    if obj.get('kind') == 'Deployment':
        return [p for p in pods if not p['metadata'].get('deletionTimestamp')]
    return [p for p in pods if any(ref.get('uid') == uid for ref in p['metadata'].get('ownerReferences') or ())]


def observe(client, targets, expected_nodes=None, check_nodes=True, site_label=None):
    observation = Observation()
    found = {}
    if check_nodes:
        observe_nodes(client, expected_nodes, found, observation, site_label)
    node_names = list(expected_nodes) if expected_nodes else sorted(found)
    for item in targets:
        observe_object(client, item, node_names, observation)
    return observation


def wait(client, targets, expected_nodes=None, check_nodes=True, timeout=300.0, site_label=None, what='the cluster',
         first=0.5, cap=5.0, clock=time.monotonic, sleep=time.sleep):
    """Poll until every target (and node) is ready; (observation, seconds). Raises KubeError with the last state."""
    start = clock()
    delay = first
    while True:
        try:
            observation = observe(client, targets, expected_nodes, check_nodes, site_label)
        except KubeError as exc:
            if exc.reason not in TRANSIENT:
                raise
            observation = Observation()  # the API went away for a moment (a control plane rebooting): look again
            observation.problems.append(exc.message)
        now = clock()
        if observation.failed:
            raise KubeError('not_ready', 'waiting cannot help: %s' % '; '.join(observation.failed), call='Waiting for %s' % what,
                            result=dict(nodes=observation.nodes, objects=observation.objects, duration=round(now - start, 1)),
                            problems=observation.problems)
        if observation.done:
            return observation, now - start
        if now - start >= timeout:
            raise KubeError('not_ready', 'not ready after %d s: %s' % (timeout, observation.summary()), call='Waiting for %s' % what,
                            result=dict(nodes=observation.nodes, objects=observation.objects, duration=round(now - start, 1)),
                            problems=observation.problems)
        sleep(min(delay, max(0.0, timeout - (now - start))))
        delay = min(cap, delay * 2)
