"""JSON patch, merge patch and strategic merge patch (lab/kube/patch.py) against the built-in schemas."""
import pytest

from lab.kube import catalog, patch, schema

DEFS = catalog.definitions('1.32.4')
DEPLOYMENT = schema.builtin(DEFS, catalog.kinds('1.32.4')[('apps', 'v1', 'Deployment')])


def deployment(containers, **spec):
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'd', 'finalizers': ['a']},
            'spec': dict({'template': {'spec': {'containers': containers}}}, **spec)}


def test_json_patch_operations():
    doc = {'a': {'b': [1, 2]}, 'c': 1}
    result = patch.json_patch(doc, [{'op': 'add', 'path': '/a/b/-', 'value': 3}, {'op': 'replace', 'path': '/c', 'value': 2},
                                    {'op': 'remove', 'path': '/a/b/0'}, {'op': 'copy', 'from': '/c', 'path': '/d'},
                                    {'op': 'move', 'from': '/d', 'path': '/e~1f'}, {'op': 'test', 'path': '/c', 'value': 2}])
    assert result == {'a': {'b': [2, 3]}, 'c': 2, 'e/f': 2}
    assert doc == {'a': {'b': [1, 2]}, 'c': 1}, 'the input is not changed'
    with pytest.raises(patch.PatchError, match='testing value /c failed'):
        patch.json_patch(doc, [{'op': 'test', 'path': '/c', 'value': 5}])
    with pytest.raises(patch.PatchError, match='missing'):
        patch.json_patch(doc, [{'op': 'replace', 'path': '/nope', 'value': 1}])


def test_merge_patch_replaces_lists_and_deletes_nulls():
    assert patch.merge_patch({'a': {'b': 1, 'c': 2}, 'l': [1, 2]}, {'a': {'b': None, 'd': 3}, 'l': [3]}) == {'a': {'c': 2, 'd': 3}, 'l': [3]}


def test_strategic_merge_merges_containers_by_name_and_env_by_name():
    doc = deployment([{'name': 'app', 'image': 'a:1', 'env': [{'name': 'A', 'value': '1'}, {'name': 'B', 'value': '2'}]},
                      {'name': 'side', 'image': 's:1'}])
    result = patch.strategic_merge(doc, {'spec': {'template': {'spec': {'containers': [
        {'name': 'app', 'image': 'a:2', 'env': [{'name': 'B', 'value': '3'}, {'name': 'C', 'value': '4'}]}]}}}}, DEPLOYMENT)
    app, side = result['spec']['template']['spec']['containers']
    assert app['image'] == 'a:2' and side == {'name': 'side', 'image': 's:1'}
    assert app['env'] == [{'name': 'A', 'value': '1'}, {'name': 'B', 'value': '3'}, {'name': 'C', 'value': '4'}]


def test_strategic_merge_directives():
    doc = deployment([{'name': 'app', 'image': 'a:1'}, {'name': 'side', 'image': 's:1'}], replicas=3)
    deleted = patch.strategic_merge(doc, {'spec': {'template': {'spec': {'containers': [{'name': 'side', '$patch': 'delete'}]}}}}, DEPLOYMENT)
    assert [c['name'] for c in deleted['spec']['template']['spec']['containers']] == ['app']
    replaced = patch.strategic_merge(doc, {'spec': {'template': {'spec': {'containers': [
        {'$patch': 'replace'}, {'name': 'only', 'image': 'o:1'}]}}}}, DEPLOYMENT)
    assert replaced['spec']['template']['spec']['containers'] == [{'name': 'only', 'image': 'o:1'}]
    ordered = patch.strategic_merge(doc, {'spec': {'template': {'spec': {
        '$setElementOrder/containers': [{'name': 'side'}, {'name': 'app'}], 'containers': [{'name': 'app', 'image': 'a:2'}]}}}}, DEPLOYMENT)
    assert [c['name'] for c in ordered['spec']['template']['spec']['containers']] == ['side', 'app']
    finalizers = patch.strategic_merge(doc, {'metadata': {'$deleteFromPrimitiveList/finalizers': ['a'], 'finalizers': ['b']}}, DEPLOYMENT)
    assert finalizers['metadata']['finalizers'] == ['b']
    retained = patch.strategic_merge({'spec': {'strategy': {'type': 'RollingUpdate', 'rollingUpdate': {'maxSurge': 1}}}},
                                     {'spec': {'strategy': {'$retainKeys': ['type'], 'type': 'Recreate'}}}, DEPLOYMENT)
    assert retained['spec']['strategy'] == {'type': 'Recreate'}
    assert patch.strategic_merge(doc, {'spec': {'replicas': None}}, DEPLOYMENT)['spec'].get('replicas') is None


def test_strategic_merge_of_a_list_without_a_merge_strategy_replaces_it():
    doc = deployment([{'name': 'app', 'image': 'a', 'args': ['x', 'y']}])
    result = patch.strategic_merge(doc, {'spec': {'template': {'spec': {'containers': [{'name': 'app', 'args': ['z']}]}}}}, DEPLOYMENT)
    assert result['spec']['template']['spec']['containers'][0]['args'] == ['z']
    tolerations = patch.strategic_merge({'spec': {'template': {'spec': {'tolerations': [{'key': 'a'}]}}}},
                                        {'spec': {'template': {'spec': {'tolerations': [{'key': 'b'}]}}}}, DEPLOYMENT)
    assert tolerations['spec']['template']['spec']['tolerations'] == [{'key': 'b'}], 'tolerations have no merge key'
