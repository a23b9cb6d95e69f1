"""What a pod's PersistentVolumeClaims ask of its node: kube-scheduler's VolumeBinding filter, small.

* a claim that does not exist: the pod is unschedulable (``persistentvolumeclaim "<name>" not found``);
* a bound claim: the node must match its PersistentVolume's ``nodeAffinity`` (else "node(s) had volume node affinity
  conflict");
* an unbound claim of a ``WaitForFirstConsumer`` class: the node must match the class's ``allowedTopologies`` (else
  "node(s) didn't find available persistent volumes to bind"); once a node is chosen the claim is annotated
  ``volume.kubernetes.io/selected-node`` for the provisioner, and the pod waits for the claim to be bound;
* an unbound claim of an ``Immediate`` class: the pod waits (``pod has unbound immediate PersistentVolumeClaims``).

Pure functions over listed objects; controllers.py does the reading and writing.
"""
from . import scheduling

NOT_FOUND = 'persistentvolumeclaim "%s" not found'
CLASS_NOT_FOUND = 'storageclass.storage.k8s.io "%s" not found'
UNBOUND_IMMEDIATE = 'pod has unbound immediate PersistentVolumeClaims'
NODE_CONFLICT = "node(s) had volume node affinity conflict"
BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
SELECTED_NODE = 'volume.kubernetes.io/selected-node'
DEFAULT_CLASS = 'storageclass.kubernetes.io/is-default-class'


def claim_names(pod_spec):
    return [v['persistentVolumeClaim']['claimName'] for v in pod_spec.get('volumes') or () if v.get('persistentVolumeClaim')]


def _default_class(classes):
    return next((c for c in classes.values() if (c['metadata'].get('annotations') or {}).get(DEFAULT_CLASS) == 'true'), None)


def _topology_matches(terms, node):
    """allowedTopologies: any term whose every expression's key has one of its values on the node."""
    labels = node['metadata'].get('labels') or {}
    return not terms or any(all(labels.get(e.get('key')) in (e.get('values') or ()) for e in t.get('matchLabelExpressions') or ())
                            for t in terms)


class Needs:
    """The volume requirements of one pod: ``error`` (unschedulable anywhere), per-node checks, claims to annotate."""

    def __init__(self):
        self.error = None
        self.checks = []      # (reason, predicate(node))
        self.waiting = []     # unbound WaitForFirstConsumer claims: annotate with the chosen node, then wait

    def reason(self, node):
        for reason, fits in self.checks:
            if not fits(node):
                return reason
        return None


def needs(pod, claims, volumes, classes):
    """``claims``: {(namespace, name): pvc}; ``volumes``: {name: pv}; ``classes``: {name: storage class}."""
    found = Needs()
    namespace = pod['metadata'].get('namespace')
    for name in claim_names(pod.get('spec') or {}):
        claim = claims.get((namespace, name))
        if claim is None:
            found.error = NOT_FOUND % name
            return found
        bound = (claim.get('spec') or {}).get('volumeName')
        if bound:
            volume = volumes.get(bound) or {}
            required = ((volume.get('spec') or {}).get('nodeAffinity') or {}).get('required') or {}
            terms = required.get('nodeSelectorTerms') or []
            if terms:
                found.checks.append((NODE_CONFLICT, lambda node, terms=terms: any(scheduling.term_matches(t, node) for t in terms)))
            continue
        class_name = (claim.get('spec') or {}).get('storageClassName')
        storage_class = classes.get(class_name) if class_name else _default_class(classes)
        if storage_class is None:
            found.error = CLASS_NOT_FOUND % class_name if class_name else UNBOUND_IMMEDIATE
            return found
        if storage_class.get('volumeBindingMode') != 'WaitForFirstConsumer':
            found.error = UNBOUND_IMMEDIATE
            return found
        terms = storage_class.get('allowedTopologies') or []
        found.checks.append((BIND_CONFLICT, lambda node, terms=terms: _topology_matches(terms, node)))
        found.waiting.append(claim)
    return found
