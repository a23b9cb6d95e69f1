"""The lab's Eviction API: which PodDisruptionBudget an eviction would break (pure)."""
from lab.kube import eviction


def _pod(name, ready=True, **labels):
    return {'metadata': {'name': name, 'labels': labels or {'app': 'web'}},
            'status': {'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}]}}


def _budget(**spec):
    return {'metadata': {'name': 'web'}, 'spec': dict(spec, selector={'matchLabels': {'app': 'web'}})}


PODS = [_pod('a'), _pod('b'), _pod('c')]


def test_min_available_blocks_the_eviction_that_goes_below_it():
    assert eviction.blocking_budget(PODS[0], PODS, [_budget(minAvailable=2)]) is None  # 3 healthy, 2 needed
    assert eviction.blocking_budget(PODS[0], PODS, [_budget(minAvailable=3)]) == ('web', 3, 3)
    assert eviction.blocking_budget(PODS[0], PODS, [_budget(minAvailable='100%')]) == ('web', 3, 3)


def test_max_unavailable_counts_the_pods_already_down():
    pods = [_pod('a'), _pod('b'), _pod('c', ready=False)]
    assert eviction.blocking_budget(pods[0], pods, [_budget(maxUnavailable=1)]) == ('web', 2, 2)
    assert eviction.blocking_budget(pods[0], pods, [_budget(maxUnavailable=2)]) is None


def test_an_unhealthy_or_unselected_pod_may_always_go():
    assert eviction.blocking_budget(_pod('x', ready=False), PODS, [_budget(minAvailable=3)]) is None
    assert eviction.blocking_budget(_pod('y', app='db'), PODS, [_budget(minAvailable=3)]) is None
