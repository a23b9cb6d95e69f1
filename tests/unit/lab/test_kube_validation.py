"""What the stand-in checks before it stores (lab/kube/validation.py), and the protobuf bodies it reads."""
import kubernetes_validate
import pytest

from lab.kube import protobuf, selectors, validation

BUILTIN = validation.Builtin('1.32.4')


def test_builtin_checks_agree_with_kubernetes_validate():
    deployment = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'd'},
                  'spec': {'replicas': 'two', 'selector': {}, 'template': {'spec': {'containers': [{'name': 'c', 'image': 'i'}]}}}}
    unknown, causes = BUILTIN.check(deployment, 'apps', 'v1', 'Deployment')
    assert unknown == [] and [c.text() for c in causes] == [
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"']
    with pytest.raises(kubernetes_validate.ValidationError) as reference:
        kubernetes_validate.validate(deployment, '1.32.4', strict=True)
    assert list(reference.value.path) == ['spec', 'replicas'], 'the same field as kubernetes-validate itself'


def test_unknown_fields_are_named_with_their_path():
    pod = {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'p'},
           'spec': {'containers': [{'name': 'c', 'image': 'i', 'comand': ['x']}], 'nodeSelecter': {}}}
    unknown, causes = BUILTIN.check(pod, '', 'v1', 'Pod')
    assert unknown == ['spec.containers[0].comand', 'spec.nodeSelecter'] and causes == []


def test_structural_schema_prunes_defaults_and_validates():
    schema = {'type': 'object', 'properties': {'spec': {'type': 'object', 'required': ['size'], 'properties': {
        'size': {'type': 'integer', 'minimum': 1}, 'mode': {'type': 'string', 'enum': ['a', 'b'], 'default': 'a'},
        'free': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True},
        'port': {'x-kubernetes-int-or-string': True}}}}}
    obj = {'apiVersion': 'x/v1', 'kind': 'X', 'metadata': {'name': 'x'}, 'spec': {'size': 0, 'extra': 1, 'free': {'any': 1}, 'port': 'http'}}
    result, unknown, causes = validation.Structural(schema).run(obj)
    assert unknown == ['spec.extra'] and 'extra' not in result['spec'] and result['spec']['free'] == {'any': 1}
    assert result['spec']['mode'] == 'a'
    assert [c.text() for c in causes] == ['spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1']
    _result, _unknown, causes = validation.Structural(schema).run({'spec': {'mode': 'c'}})
    assert {c.text() for c in causes} == {'spec.size: Required value', 'spec.mode: Unsupported value: "c": supported values: "a", "b"'}


def test_metadata_names_and_labels():
    from lab.kube import catalog
    namespaces = next(r for r in catalog.builtins() if r.plural == 'namespaces')
    causes = validation.metadata({'metadata': {'name': 'a.b', 'labels': {'ok': 'fine', 'bad key!': 'x', 'v': '-no'}}}, namespaces)
    assert [c.field for c in causes] == ['metadata.name', 'metadata.labels', 'metadata.labels']
    assert causes[0].body.startswith('Invalid value: "a.b": a lowercase RFC 1123 label must consist of')


def test_label_selector_grammar():
    requirements = selectors.parse_labels('app=web,tier!=db,env in (prod, stage),!legacy,owner')
    labels = {'app': 'web', 'tier': 'front', 'env': 'prod', 'owner': 'me'}
    assert selectors.match_requirements(labels, requirements)
    assert not selectors.match_requirements(dict(labels, legacy='1'), requirements)
    assert not selectors.match_requirements(dict(labels, env='dev'), requirements)


def test_protobuf_configmap_body():
    def field(number, data):
        data = data.encode() if isinstance(data, str) else data
        return bytes([number << 3 | 2, len(data)]) + data
    meta = field(1, 'cfg') + field(3, 'default') + field(11, field(1, 'app') + field(2, 'web'))
    raw = field(1, meta) + field(2, field(1, 'a') + field(2, '1'))
    body = protobuf.MAGIC + field(1, field(1, 'v1') + field(2, 'ConfigMap')) + field(2, raw)
    assert protobuf.decode(body) == {'apiVersion': 'v1', 'kind': 'ConfigMap', 'data': {'a': '1'},
                                     'metadata': {'name': 'cfg', 'namespace': 'default', 'labels': {'app': 'web'}}}
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode(protobuf.MAGIC + field(1, field(1, 'apps/v1') + field(2, 'Deployment')))


def test_rbac_objects_are_named_by_path_segment():
    # The API server takes system:coredns as a ClusterRole name (ValidatePathSegmentName), not as a subdomain.
    from lab.kube import catalog
    clusterroles = next(r for r in catalog.builtins() if r.plural == 'clusterroles')
    assert validation.metadata({'metadata': {'name': 'system:coredns'}}, clusterroles) == []
    causes = validation.metadata({'metadata': {'name': 'a/b'}}, clusterroles)
    assert [c.body for c in causes] == ['Invalid value: "a/b": may not contain \'/\'']
