"""``POST /api/v1/namespaces/{ns}/pods/{name}/eviction``: the Eviction API that ``kubectl drain`` and
``kubernetes.core.k8s_drain`` use, small.

A pod is deleted (with the Eviction's ``deleteOptions``) unless a PodDisruptionBudget of its namespace selects it,
the pod counts as healthy (Ready, not being deleted), and taking it away would leave fewer healthy pods than the
budget needs (``minAvailable``, or ``maxUnavailable`` of the pods it selects; integers or percentages, rounded up
as the disruption controller does). Then the answer is kube-apiserver's 429 ``TooManyRequests`` "Cannot evict pod
as it would violate the pod's disruption budget." with the ``DisruptionBudget`` cause. Budgets' ``status`` is not
kept: the check counts the pods itself, as the disruption controller would have.
"""
import math

from . import errors, selectors

TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."


def _healthy(pod):
    return (not pod['metadata'].get('deletionTimestamp')
            and any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in (pod.get('status') or {}).get('conditions') or ()))


def _count(value, total):
    if isinstance(value, str) and value.endswith('%'):
        return int(math.ceil(total * float(value[:-1]) / 100.0))
    return int(value)


def blocking_budget(pod, pods, budgets):
    """(budget name, needed, healthy) of the first budget the eviction would break, else None (pure)."""
    if not _healthy(pod):
        return None  # an unhealthy pod may always go
    for budget in budgets:
        requirements = selectors.label_selector((budget.get('spec') or {}).get('selector'))
        if requirements is None or not selectors.match_requirements(pod['metadata'].get('labels'), requirements):
            continue
        selected = [p for p in pods if selectors.match_requirements(p['metadata'].get('labels'), requirements)]
        healthy = sum(1 for p in selected if _healthy(p))
        spec = budget['spec']
        if spec.get('minAvailable') is not None:
            needed = _count(spec['minAvailable'], len(selected))
        elif spec.get('maxUnavailable') is not None:
            needed = len(selected) - _count(spec['maxUnavailable'], len(selected))
        else:
            continue
        if healthy - 1 < needed:
            return budget['metadata']['name'], needed, healthy
    return None


async def evict(registry, pods_resource, namespace, name, body, dry_run):
    pod = await registry.get(pods_resource, namespace, name)
    budgets_resource = registry.resource('policy', 'v1', 'poddisruptionbudgets')
    budgets = (await registry.list(budgets_resource, namespace))['items']
    if budgets:
        blocked = blocking_budget(pod, (await registry.list(pods_resource, namespace))['items'], budgets)
        if blocked:
            budget, needed, healthy = blocked
            raise errors.ApiError(429, 'TooManyRequests', TOO_MANY, {'causes': [
                {'reason': 'DisruptionBudget', 'message': 'The disruption budget %s needs %d healthy pods and has %d currently'
                 % (budget, needed, healthy)}]})
    options = dict((body or {}).get('deleteOptions') or {})
    await registry.delete(pods_resource, namespace, name, options, dry_run)
    return {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Success', 'code': 201}
