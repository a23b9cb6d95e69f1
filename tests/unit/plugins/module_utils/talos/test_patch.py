"""Talos' own config patch cases (oracles/talos/v1.9.6/fixtures/configpatcher), compared as parsed YAML."""
import pytest
import yaml

from ansible_collections.hybridops.talos.plugins.module_utils._talos import patch as tp
from ansible_collections.hybridops.talos.plugins.module_utils._talos.contracts import resolve_contract
from ansible_collections.hybridops.talos.plugins.module_utils._talos.errors import TalosConfigError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.merge_rules import MergeRules
from ansible_collections.hybridops.talos.plugins.module_utils._talos.normalise import normalise_documents
from ansible_collections.hybridops.talos.plugins.module_utils._talos.schema import load_schema
from ansible_collections.hybridops.talos.plugins.module_utils._talos.yamlio import dump_documents, load_documents

from talos_oracles import fixture_path, read_fixture

CASES = {
    'apply': ('apply/config.yaml', ['apply/strategic1.yaml', 'apply/jsonpatch1.yaml', 'apply/jsonpatch2.yaml',
                                    'apply/strategic2.yaml', 'apply/strategic3.yaml'], 'apply/expected.yaml'),
    'apply-manifest-newline': ('apply/config.yaml', ['apply/strategic4.yaml'], 'apply/expected_manifests.yaml'),
    'multidoc': ('multidoc/config.yaml', ['multidoc/strategic1.yaml', 'multidoc/strategic2.yaml'], 'multidoc/expected.yaml'),
    'auditpolicy-replaced': ('auditpolicy/config.yaml', ['auditpolicy/patch1.yaml'], 'auditpolicy/expected.yaml'),
    'patchdelete-multidoc': ('patchdelete/config.yaml', ['patchdelete/strategic1.yaml'], 'patchdelete/expected.yaml'),
    'patchdelete-controlplane': ('patchdelete/controlplane_orig.yaml',
                                 ['patchdelete/strategic2.yaml', 'patchdelete/strategic3.yaml', 'patchdelete/strategic4.yaml'],
                                 'patchdelete/controlplane_expected.yaml'),
}


def normaliser():
    schema = load_schema(resolve_contract('v1.9', None)).schema
    return lambda docs: normalise_documents(docs, schema)


def v1_9_rules():
    return MergeRules((1, 9), load_schema((1, 9)))


def run(config, patches):
    docs = load_documents(read_fixture('configpatcher', config), config)
    loaded = [tp.load_patch('@' + fixture_path('configpatcher', name), name) for name in patches]
    return tp.apply_patches(docs, loaded, v1_9_rules(), normalise=normaliser())


@pytest.mark.parametrize('case', sorted(CASES))
def test_talos_patch_case_gives_talos_result(case):
    config, patches, expected = CASES[case]
    result = run(config, patches)
    assert result == list(yaml.safe_load_all(read_fixture('configpatcher', expected)))


def test_patched_config_survives_our_own_dump_and_load():
    config, patches, expected = CASES['patchdelete-controlplane']
    result = run(config, patches)
    assert load_documents(dump_documents(result), 'dumped') == result


def test_json6902_on_a_multidoc_config_fails_as_in_talos():
    with pytest.raises(TalosConfigError) as caught:
        run('multidoc/config.yaml', ['multidoc/strategic1.yaml', 'multidoc/jsonpatch.yaml'])
    assert 'JSON6902 patches are not supported for multi-document machine configuration' in str(caught.value)


@pytest.mark.parametrize('name, kind', [('patch.yaml', 'json6902'), ('patch.json', 'json6902'), ('strategic.yaml', 'strategic')])
def test_patch_format_is_detected_from_content(name, kind):
    assert tp.load_patch('@' + fixture_path('configpatcher', name), name).kind == kind


def test_json_and_yaml_forms_of_one_patch_load_the_same_operations():
    from_json = tp.load_patch('@' + fixture_path('configpatcher', 'patch.json'), 'json')
    assert from_json.operations == [{'op': 'add', 'path': '/machine/certSANs', 'value': ['foo.com']}]


def test_deleting_a_key_under_a_missing_parent_fails_with_lookup_failed():
    docs = [{'version': 'v1alpha1', 'machine': {'type': 'worker'}}]
    patch = tp.load_patch('machine:\n  network:\n    hostname:\n      $patch: delete\n', 'node patch 1')
    with pytest.raises(TalosConfigError, match=r'machine\.network does not exist \(lookup failed\)'):
        tp.apply_patches(docs, [patch], v1_9_rules())


def test_strategic_merge_zero_values_do_not_override_but_false_does():
    docs = [{'version': 'v1alpha1', 'machine': {'network': {'hostname': 'a'}, 'features': {'rbac': True}}}]
    patch = tp.load_patch({'machine': {'network': {'hostname': ''}, 'features': {'rbac': False}}}, 'p')
    result = tp.apply_patches(docs, [patch], v1_9_rules())
    assert result[0]['machine'] == {'network': {'hostname': 'a'}, 'features': {'rbac': False}}


def test_subnets_are_replaced_and_other_lists_appended():
    docs = [{'version': 'v1alpha1', 'machine': {'certSANs': ['a']},
             'cluster': {'network': {'podSubnets': ['10.244.0.0/16'], 'serviceSubnets': ['10.96.0.0/12']}}}]
    patch = tp.load_patch({'machine': {'certSANs': ['b']}, 'cluster': {'network': {'podSubnets': ['10.42.0.0/16']}}}, 'p')
    result = tp.apply_patches(docs, [patch], v1_9_rules())[0]
    assert result['machine']['certSANs'] == ['a', 'b']
    assert result['cluster']['network'] == {'podSubnets': ['10.42.0.0/16'], 'serviceSubnets': ['10.96.0.0/12']}


def test_interfaces_merge_on_device_selector():
    selector = {'hardwareAddr': 'aa:bb:*'}
    docs = [{'version': 'v1alpha1', 'machine': {'network': {'interfaces': [{'deviceSelector': selector, 'dhcp': True}]}}}]
    patch = tp.load_patch({'machine': {'network': {'interfaces': [{'deviceSelector': dict(selector), 'mtu': 1450}]}}}, 'p')
    result = tp.apply_patches(docs, [patch], v1_9_rules())[0]
    assert result['machine']['network']['interfaces'] == [{'deviceSelector': selector, 'dhcp': True, 'mtu': 1450}]


def test_unmatched_document_is_appended_and_named_documents_match_by_name():
    docs = [{'version': 'v1alpha1'}, {'apiVersion': 'v1alpha1', 'kind': 'ExtensionServiceConfig', 'name': 'a',
                                      'environment': ['X=1']}]
    patch = tp.load_patch('apiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: b\nenvironment: [Y=2]\n', 'p')
    result = tp.apply_patches(docs, [patch], v1_9_rules())
    assert [d.get('name') for d in result] == [None, 'a', 'b']


def test_rfc6902_operations_follow_the_rfc():
    docs = [{'version': 'v1alpha1', 'machine': {'certSANs': ['a', 'c'], 'env': {'A': '1'}}}]
    ops = [
        {'op': 'add', 'path': '/machine/certSANs/1', 'value': 'b'},
        {'op': 'add', 'path': '/machine/certSANs/-', 'value': 'd'},
        {'op': 'test', 'path': '/machine/certSANs/0', 'value': 'a'},
        {'op': 'copy', 'from': '/machine/env/A', 'path': '/machine/env/B'},
        {'op': 'move', 'from': '/machine/env/A', 'path': '/machine/env/a~1b'},
        {'op': 'remove', 'path': '/machine/certSANs/3'},
        {'op': 'replace', 'path': '/machine/env/B', 'value': '2'},
    ]
    result = tp.apply_patches(docs, [tp.load_patch(ops, 'p')], v1_9_rules())[0]
    assert result['machine'] == {'certSANs': ['a', 'b', 'c'], 'env': {'B': '2', 'a/b': '1'}}


def test_rfc6902_test_failure_and_missing_paths_are_errors():
    docs = [{'version': 'v1alpha1', 'machine': {'certSANs': ['a']}}]
    with pytest.raises(TalosConfigError, match='the test failed'):
        tp.apply_patches(docs, [tp.load_patch([{'op': 'test', 'path': '/machine/certSANs/0', 'value': 'z'}], 'p')], v1_9_rules())
    with pytest.raises(TalosConfigError, match='path /machine/nothing does not exist'):
        tp.apply_patches(docs, [tp.load_patch([{'op': 'remove', 'path': '/machine/nothing'}], 'p')], v1_9_rules())
    with pytest.raises(TalosConfigError, match='list index 5 is out of range'):
        tp.apply_patches(docs, [tp.load_patch([{'op': 'add', 'path': '/machine/certSANs/5', 'value': 'x'}], 'p')], v1_9_rules())


def test_yaml_is_read_as_talos_reads_it():
    doc = load_documents('a: yes\nb: 0o644\nc: 2024-01-01\nd: "0o644"\ne: on\nf: true\n', 't')[0]
    assert doc == {'a': 'yes', 'b': 420, 'c': '2024-01-01', 'd': '0o644', 'e': 'on', 'f': True}
    assert load_documents(dump_documents([doc]), 't')[0] == doc


def test_delete_markers_leave_the_patch_talos_decodes():
    """decoder/delete: what remains of a patch once its $patch: delete markers are taken out."""
    docs = load_documents(read_fixture('decoder', 'delete', 'delete.yaml'), 'delete.yaml')
    remaining = []
    for doc in docs:
        found = []
        if not tp._extract_deletes(doc, [], 'doc', found, 'delete.yaml'):  # pylint: disable=protected-access
            remaining.append(doc)
    assert remaining == list(yaml.safe_load_all(read_fixture('decoder', 'delete', 'delete_expected.yaml')))


def test_a_config_with_the_same_document_twice_is_refused():
    docs = load_documents(read_fixture('decoder', 'double', 'v1alpha1.yaml'), 'double')
    with pytest.raises(TalosConfigError, match='document 2 repeats the v1alpha1 machine config of document 1'):
        load_schema(resolve_contract('v1.9', None)).validate(docs, (1, 9))
