"""Field ownership (lab/kube/fields.py): member sets, FieldsV1, update and server-side apply semantics."""
import pytest

from lab.kube import catalog, fields, schema

KINDS = catalog.kinds('1.32.4')
DEFS = catalog.definitions('1.32.4')
CONFIGMAP = schema.builtin(DEFS, KINDS[('', 'v1', 'ConfigMap')])
DEPLOYMENT = schema.builtin(DEFS, KINDS[('apps', 'v1', 'Deployment')])


def configmap(**data):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'c', 'namespace': 'default'}, 'data': data}


def sets(managed):
    return {(e['manager'], e['operation']): fields.from_fields_v1(e['fieldsV1']) for e in managed}


def test_members_of_a_deployment_follow_the_list_types():
    obj = {'metadata': {'name': 'd', 'labels': {'app': 'x'}},
           'spec': {'replicas': 1, 'selector': {'matchLabels': {'app': 'x'}},
                    'template': {'spec': {'containers': [{'name': 'c', 'image': 'i', 'ports': [{'containerPort': 80}], 'args': ['a']}]}}}}
    paths = set(fields.members(obj, DEPLOYMENT))
    container = ('f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"c"}')
    assert container in paths and container + ('f:image',) in paths
    assert container + ('f:args',) in paths, 'args is atomic: one member'
    assert container + ('f:ports', 'k:{"containerPort":80,"protocol":"TCP"}') in paths, 'a missing key takes its default'
    assert ('f:spec', 'f:selector') in paths, 'LabelSelector is an atomic map'
    assert ('f:metadata', 'f:labels', 'f:app') in paths
    assert ('f:metadata', 'f:name') not in paths, 'name is never owned'


def test_fields_v1_round_trip_marks_members_with_children():
    paths = {('f:data', 'f:a'), ('f:spec', 'f:containers', 'k:{"name":"c"}'), ('f:spec', 'f:containers', 'k:{"name":"c"}', 'f:image')}
    encoded = fields.to_fields_v1(paths)
    assert encoded == {'f:data': {'f:a': {}}, 'f:spec': {'f:containers': {'k:{"name":"c"}': {'.': {}, 'f:image': {}}}}}
    assert fields.from_fields_v1(encoded) == paths


def test_apply_conflicts_with_another_manager_unless_forced():
    obj, managed = fields.apply(None, configmap(a='1', b='2'), CONFIGMAP, None, 'one', 'v1', False)
    with pytest.raises(fields.ApplyConflict) as conflict:
        fields.apply(obj, configmap(a='9'), CONFIGMAP, managed, 'two', 'v1', False)
    message, causes = fields.conflict_message(conflict.value.conflicts)
    assert message == 'Apply failed with 1 conflict: conflict with "one": .data.a'
    assert causes == [{'type': 'FieldManagerConflict', 'message': 'conflict with "one"', 'field': '.data.a'}]
    forced, managed = fields.apply(obj, configmap(a='9'), CONFIGMAP, managed, 'two', 'v1', True)
    assert forced['data'] == {'a': '9', 'b': '2'}
    assert sets(managed) == {('one', 'Apply'): {('f:data', 'f:b')}, ('two', 'Apply'): {('f:data', 'f:a')}}


def test_apply_of_the_same_value_shares_ownership_and_prunes_only_unowned_fields():
    obj, managed = fields.apply(None, configmap(a='1', b='2'), CONFIGMAP, None, 'one', 'v1', False)
    obj, managed = fields.apply(obj, configmap(b='2'), CONFIGMAP, managed, 'two', 'v1', False)
    obj, managed = fields.apply(obj, configmap(), CONFIGMAP, managed, 'one', 'v1', False)
    assert obj['data'] == {'b': '2'}, 'a went (only one owned it), b stays (two owns it too)'


def test_update_takes_changed_fields_from_other_managers():
    obj, managed = fields.apply(None, configmap(a='1', b='2'), CONFIGMAP, None, 'applier', 'v1', False)
    changed = dict(obj, data={'a': '1', 'b': '3', 'c': '4'})
    managed = fields.update(obj, changed, CONFIGMAP, managed, 'editor', 'v1')
    assert sets(managed) == {('applier', 'Apply'): {('f:data', 'f:a')}, ('editor', 'Update'): {('f:data', 'f:b'), ('f:data', 'f:c')}}
    assert [e.get('apiVersion') for e in managed if e['operation'] == 'Update'] == ['v1']


def test_conflicts_with_several_managers_are_listed_by_manager():
    conflicts = [({'manager': 'b', 'operation': 'Update', 'apiVersion': 'apps/v1'}, ('f:spec', 'f:replicas')),
                 ({'manager': 'a', 'operation': 'Apply'}, ('f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"c"}', 'f:image'))]
    message, _causes = fields.conflict_message(conflicts)
    assert message == ('Apply failed with 2 conflicts: conflicts with "a":\n- .spec.template.spec.containers[name="c"].image\n'
                       'conflicts with "b" using apps/v1:\n- .spec.replicas')
