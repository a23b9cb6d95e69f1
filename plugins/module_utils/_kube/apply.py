# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side apply of many objects: checked first, in the API's order, in parallel, with honest results.

* Every kind is looked up before anything is written: a kind the cluster does not serve (a custom
  resource whose CRD is missing) fails the whole call up front, unless its CRD is in the same batch.
* Namespaces, then CRDs, then the rest; a custom resource whose CRD comes in the same batch waits
  until that CRD is Established.
* The state before is read in bulk (one list per kind and namespace), the applies run on a few threads.
* ``changed`` compares the object before and after without noise (diff.py); check mode is the API
  server's own dry run (``dryRun=All``), so defaulting, validation and conflicts are the real ones; what
  goes into a namespace or a kind the same batch creates is reported as created without a dry run (the
  server would refuse one: the namespace or the CRD was only dry-run).
"""

from __future__ import annotations

import collections
import time
from concurrent.futures import ThreadPoolExecutor

from . import diff, manifests
from .client import Resource
from .errors import ApiError, KubeError

CRD = Resource('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'customresourcedefinitions', False)
WORKERS = 8
BULK_READ = 3  # more objects than this of one kind in one namespace are read with one list instead of gets
CRD_WAIT = 60.0

Outcome = collections.namedtuple('Outcome', 'obj action before after')


def crd_kinds(objects):
    """``{(apiVersion, kind): crd name}`` of the custom resources the CRDs among ``objects`` define."""
    kinds = {}
    for obj in objects:
        if (obj.get('apiVersion'), obj.get('kind')) != (CRD.api_version, CRD.kind):
            continue
        spec = obj.get('spec') or {}
        for version in spec.get('versions') or ():
            if version.get('served', True):
                kinds[('%s/%s' % (spec.get('group'), version.get('name')), (spec.get('names') or {}).get('kind'))] = obj['metadata']['name']
    return kinds


class Applier:
    def __init__(self, client, manager, force=False, check_mode=False, workers=WORKERS, crd_wait=CRD_WAIT):
        self.client = client
        self.manager = manager
        self.force = force
        self.check_mode = check_mode
        self.workers = workers
        self.crd_wait = crd_wait

    def apply(self, objects):
        """Apply ``objects`` (checked by manifests.check); Outcomes in the order given."""
        pending = crd_kinds(objects)
        resources = {}
        for obj in objects:
            kind = (obj['apiVersion'], obj['kind'])
            if kind in resources:
                continue
            found = self.client.resource(*kind)
            if found is None and kind not in pending:
                self.client.require(*kind)  # raises kind_not_served, before anything is written
            resources[kind] = found
        outcomes = {}
        new_namespaces = set()
        for phase in _phases(objects):
            waiting = [o for o in phase if resources[(o['apiVersion'], o['kind'])] is None]
            if waiting:
                if self.check_mode:
                    for obj in waiting:  # the CRD was only dry-run: nothing serves the kind yet
                        outcomes[id(obj)] = Outcome(obj, 'created', None, None)
                    phase = [o for o in phase if o not in waiting]
                else:
                    self._await_crds(waiting, pending, resources)
            if self.check_mode and new_namespaces:
                # The namespace was only dry-run: the API server would refuse a dry run inside it (NotFound), but the
                # real run creates it first, so what goes into it is new.
                inside = [o for o in phase if resources[(o['apiVersion'], o['kind'])].namespaced
                          and o['metadata'].get('namespace') in new_namespaces]
                for obj in inside:
                    outcomes[id(obj)] = Outcome(obj, 'created', None, None)
                phase = [o for o in phase if o not in inside]
            for outcome in self._apply_phase(phase, resources):
                outcomes[id(outcome.obj)] = outcome
                if self.check_mode and outcome.action == 'created' and (outcome.obj['apiVersion'], outcome.obj['kind']) == ('v1', 'Namespace'):
                    new_namespaces.add(outcome.obj['metadata']['name'])
        return [outcomes[id(obj)] for obj in objects]

    # ------------------------------------------------------------------ phases

    def _apply_phase(self, phase, resources):
        befores = self._read_before(phase, resources)

        def one(obj):
            resource = resources[(obj['apiVersion'], obj['kind'])]
            body = obj
            if not resource.namespaced and (obj.get('metadata') or {}).get('namespace'):
                body = dict(obj, metadata={k: v for k, v in obj['metadata'].items() if k != 'namespace'})
            before = befores.get(id(obj))
            try:
                after = self.client.apply(resource, body, self.manager, force=self.force, dry_run=self.check_mode)
            except ApiError as exc:
                if exc.api_reason == 'Conflict' and exc.status == 409:
                    raise KubeError('conflict', '%s; another field manager owns these fields: set force_conflicts=true to '
                                    'take them over' % exc.why, call=exc.call, status=409, causes=exc.details.get('causes')) from None
                raise
            if before is None:
                action = 'created'
            elif diff.differs(before, after):
                action = 'updated'
            else:
                action = 'unchanged'
            return Outcome(obj, action, before, after)

        if len(phase) <= 1 or self.workers <= 1:
            return [one(obj) for obj in phase]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(one, phase))

    def _read_before(self, phase, resources):
        """``{id(obj): the object as it is now or None}``: one list per kind and namespace where that is fewer requests."""
        groups = collections.OrderedDict()
        for obj in phase:
            resource = resources[(obj['apiVersion'], obj['kind'])]
            namespace = obj['metadata'].get('namespace') if resource.namespaced else None
            groups.setdefault((resource, namespace), []).append(obj)
        found = {}
        singles = []
        for (resource, namespace), members in groups.items():
            if len(members) > BULK_READ:
                current = {item['metadata']['name']: item for item in self.client.list(resource, namespace)}
                for obj in members:
                    found[id(obj)] = current.get(obj['metadata']['name'])
            else:
                singles.extend((resource, namespace, obj) for obj in members)

        def get(entry):
            resource, namespace, obj = entry
            return id(obj), self.client.get(resource, obj['metadata']['name'], namespace)

        if singles:
            if len(singles) == 1 or self.workers <= 1:
                found.update(get(entry) for entry in singles)
            else:
                with ThreadPoolExecutor(max_workers=self.workers) as pool:
                    found.update(pool.map(get, singles))
        return found

    def _await_crds(self, waiting, pending, resources):
        """Wait until the CRDs of ``waiting`` are Established and their kinds are served."""
        deadline = time.monotonic() + self.crd_wait
        delay = 0.2
        while True:
            missing = []
            for obj in waiting:
                kind = (obj['apiVersion'], obj['kind'])
                if resources[kind] is None:
                    resources[kind] = self.client.resource(*kind)
                if resources[kind] is None:
                    missing.append(kind)
            if not missing:
                return
            if time.monotonic() >= deadline:
                names = sorted({pending[kind] for kind in missing})
                raise KubeError('crd_not_established', 'the CustomResourceDefinition %s was applied but is not Established after '
                                '%d s, so its kinds cannot be created yet' % (', '.join(names), self.crd_wait),
                                call='Waiting for CRDs', crds=names)
            time.sleep(delay)
            delay = min(2.0, delay * 2)


def _phases(objects):
    ranked = collections.OrderedDict()
    for obj in manifests.ordered(objects):
        ranked.setdefault(manifests.FIRST.get((obj['apiVersion'], obj['kind']), 2), []).append(obj)
    return list(ranked.values())


def summary(outcomes):
    counts = collections.Counter(outcome.action for outcome in outcomes)
    return {action: counts.get(action, 0) for action in ('created', 'updated', 'unchanged')}


def results(outcomes):
    """What a module returns per object: identity and action, nothing of its content."""
    found = []
    for outcome in outcomes:
        api_version, kind, namespace, name = diff.identity(outcome.obj)
        entry = dict(api_version=api_version, kind=kind, name=name, action=outcome.action)
        if namespace:
            entry['namespace'] = namespace
        found.append(entry)
    return found


def diffs(outcomes):
    """Ansible's diff entries for the objects that change, Secret values redacted."""
    found = []
    for outcome in outcomes:
        if outcome.action == 'unchanged':
            continue
        api_version, kind, namespace, name = diff.identity(outcome.obj)
        label = '%s %s' % (kind, '%s/%s' % (namespace, name) if namespace else name)
        after = outcome.after if outcome.after is not None else outcome.obj
        found.append(dict(before_header=label, after_header=label,
                          before=_yaml(diff.redact(outcome.before, after)) if outcome.before is not None else '',
                          after=_yaml(diff.redact(after, outcome.before))))
    return found


def _yaml(obj):
    return manifests.yaml.safe_dump(obj, sort_keys=True, default_flow_style=False) if manifests.HAS_YAML else str(obj)
