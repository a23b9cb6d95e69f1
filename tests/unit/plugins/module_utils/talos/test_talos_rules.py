"""Patching and adoption follow Talos where they used to differ (issue 12).

One table per rule. Every table names the Talos source it follows, as ``file@tag`` under
siderolabs/talos ``pkg/machinery/``; where a rule changed between Talos 1.9 and 1.13 the rows say
which contract they are for, otherwise each row runs for both contracts.
"""
import copy

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos import patch as tp
from ansible_collections.hybridops.talos.plugins.module_utils._talos import render as tr
from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets
from ansible_collections.hybridops.talos.plugins.module_utils._talos.contracts import resolve_contract
from ansible_collections.hybridops.talos.plugins.module_utils._talos.errors import TalosConfigError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.merge_rules import MergeRules
from ansible_collections.hybridops.talos.plugins.module_utils._talos.schema import load_schema
from ansible_collections.hybridops.talos.plugins.module_utils._talos.validation import port_ranges_reason

V19, V113 = (1, 9), (1, 13)
BOTH = [V19, V113]
TALOS = {V19: 'v1.9.6', V113: 'v1.13.9'}


def patched(docs, *patches, contract=V19):
    loaded = [tp.load_patch(value, 'node patch %d' % (index + 1)) for index, value in enumerate(patches)]
    return tp.apply_patches(docs, loaded, MergeRules(contract, load_schema(contract)))


@pytest.fixture(scope='module')
def bundle():
    return secrets.generate_bundle(V19)  # ECDSA service-account key: quick to make


def render(bundle, contract, role='controlplane', **changes):
    spec = dict(role=role, cluster_name='hybrid', cluster_endpoint='https://k8s.example.net:6443',
                talos_version=TALOS[contract], kubernetes_version='1.32.3', hostname='vps-0', site='vps')
    spec.update(changes)
    return tr.render(spec, bundle).documents


def document(docs, kind):
    return next(doc for doc in docs if doc.get('kind', 'v1alpha1') == kind)


# --- NetworkRuleConfig: ingress and portSelector.ports are replaced, overlapping ranges refused -----
# network/rule_config.go@v1.9.6 and @v1.13.9: `Ingress ... merge:"replace"`, `Ports ... merge:"replace"`.

OPEN_APID = {'apiVersion': 'v1alpha1', 'kind': 'NetworkRuleConfig', 'name': 'apid-ingress',
             'portSelector': {'ports': [50000, '50001-50002'], 'protocol': 'tcp'},
             'ingress': [{'subnet': '0.0.0.0/0'}]}
RULE_PATCHES = [
    ('ingress narrowed', {'ingress': [{'subnet': '10.0.0.0/16'}]},
     {'ports': [50000, '50001-50002'], 'protocol': 'tcp'}, [{'subnet': '10.0.0.0/16'}]),
    ('ports narrowed', {'portSelector': {'ports': [50000]}},
     {'ports': [50000], 'protocol': 'tcp'}, [{'subnet': '0.0.0.0/0'}]),
    ('protocol alone keeps the ports', {'portSelector': {'protocol': 'udp'}},
     {'ports': [50000, '50001-50002'], 'protocol': 'udp'}, [{'subnet': '0.0.0.0/0'}]),
    ('same port again stays once', {'portSelector': {'ports': [50000, '50001-50002']}},
     {'ports': [50000, '50001-50002'], 'protocol': 'tcp'}, [{'subnet': '0.0.0.0/0'}]),
]


@pytest.mark.parametrize('contract', BOTH)
@pytest.mark.parametrize('what, change, ports, ingress', RULE_PATCHES, ids=[row[0] for row in RULE_PATCHES])
def test_firewall_rule_lists_are_replaced_not_widened(contract, what, change, ports, ingress):
    patch = dict({key: OPEN_APID[key] for key in ('apiVersion', 'kind', 'name')}, **change)
    result = patched([{'version': 'v1alpha1'}, copy.deepcopy(OPEN_APID)], patch, contract=contract)[1]
    assert (result['portSelector'], result['ingress']) == (ports, ingress), what


@pytest.mark.parametrize('contract', BOTH)
def test_a_node_patch_narrows_the_cluster_firewall_rule_in_the_rendered_config(bundle, contract):
    narrow = dict({key: OPEN_APID[key] for key in ('apiVersion', 'kind', 'name')}, ingress=[{'subnet': '10.0.0.0/16'}])
    docs = render(bundle, contract, cluster_patches=[OPEN_APID], node_patches=[narrow])
    assert document(docs, 'NetworkRuleConfig')['ingress'] == [{'subnet': '10.0.0.0/16'}]


# network/port_range.go@v1.9.6 and @v1.13.9, PortRanges.Validate (and PortRange.UnmarshalYAML);
# the first error row is network/rule_config_test.go's "invalid port range" case.
PORT_RANGES = [
    ([80, 443], None),
    ([443, 80, '6443-6444'], None),
    ([80, '80-79'], 'invalid port range: 80-79'),
    (['80-443', 443], 'invalid port range: 443-443, overlaps with 80-443'),
    ([8080, 8080], 'invalid port range: 8080-8080, overlaps with 8080-8080'),
    (['6443-6450', '6440-6443'], 'invalid port range: 6443-6450, overlaps with 6440-6443'),
    (['http'], 'invalid port range: "http"'),
    (['70000-70001'], 'invalid port range: "70000-70001"'),
]


@pytest.mark.parametrize('ports, reason', PORT_RANGES)
def test_port_ranges_are_judged_as_talos_judges_them(ports, reason):
    assert port_ranges_reason(ports) == reason


@pytest.mark.parametrize('contract', BOTH)
def test_overlapping_ports_are_refused_at_render_time_with_talos_reason(bundle, contract):
    rule = dict(copy.deepcopy(OPEN_APID), portSelector={'ports': ['80-443', 443], 'protocol': 'tcp'})
    with pytest.raises(TalosConfigError, match=r'\(NetworkRuleConfig v1alpha1/apid-ingress\) is refused by Talos: '
                                               r'invalid port range: 443-443, overlaps with 80-443\.$'):
        render(bundle, contract, node_patches=[rule])


# --- apiServer.admissionControl merges on the plugin name ------------------------------------------
# types/v1alpha1/v1alpha1_types.go@v1.9.6 and @v1.13.9, AdmissionPluginConfigList.Merge.

ADMISSION_PATCHES = [
    ('PodSecurity stricter', [{'name': 'PodSecurity', 'configuration': {'defaults': {'enforce': 'restricted'}}}],
     ['PodSecurity'], 'restricted'),
    ('another plugin appended', [{'name': 'EventRateLimit', 'configuration': {'kind': 'Configuration'}}],
     ['PodSecurity', 'EventRateLimit'], 'baseline'),
    ('PodSecurity twice in one patch', [{'name': 'PodSecurity', 'configuration': {'defaults': {'warn': 'baseline'}}},
                                        {'name': 'PodSecurity', 'configuration': {'defaults': {'enforce': 'restricted'}}}],
     ['PodSecurity'], 'restricted'),
]


@pytest.mark.parametrize('contract', BOTH)
@pytest.mark.parametrize('what, entries, names, enforce', ADMISSION_PATCHES, ids=[row[0] for row in ADMISSION_PATCHES])
def test_admission_plugins_merge_by_name(bundle, contract, what, entries, names, enforce):
    docs = render(bundle, contract, node_patches=[{'cluster': {'apiServer': {'admissionControl': entries}}}])
    plugins = document(docs, 'v1alpha1')['cluster']['apiServer']['admissionControl']
    assert [plugin['name'] for plugin in plugins] == names, what
    defaults = plugins[0]['configuration']['defaults']
    assert defaults['enforce'] == enforce and defaults['audit'] == 'restricted'
    assert plugins[0]['configuration']['exemptions']['namespaces'] == ['kube-system']


# --- secrets bundles with both encryption secrets, or neither --------------------------------------
# generate/secrets/bundle.go@v1.13.9: NewBundleFromConfig (talosctl gen secrets
# --from-controlplane-config) copies both secrets of a config; the API server encrypts with secretbox
# and still decrypts with aescbc (internal/app/machined/pkg/controllers/k8s/internal/k8stemplates/
# apiserver.go@v1.13.9). Bundle.Validate@v1.13.9 refuses a bundle with neither.

ENCRYPTION = [
    (('secretbox',), {'secretboxEncryptionSecret'}),
    (('aescbc',), {'aescbcEncryptionSecret'}),
    (('aescbc', 'secretbox'), {'aescbcEncryptionSecret', 'secretboxEncryptionSecret'}),
]


def with_encryption(bundle, kinds):
    adjusted = copy.deepcopy(bundle)
    adjusted['secrets'] = {'bootstraptoken': bundle['secrets']['bootstraptoken']}
    for kind, value in (('aescbc', 'QUVTQ0JDLWtleS0wMTIzNDU2Nzg5MDEyMzQ1Njc4OTAx'),
                        ('secretbox', bundle['secrets']['secretboxencryptionsecret'])):
        if kind in kinds:
            adjusted['secrets']['%sencryptionsecret' % kind] = value
    return adjusted


@pytest.mark.parametrize('contract', BOTH)
@pytest.mark.parametrize('kinds, fields', ENCRYPTION, ids=['+'.join(row[0]) for row in ENCRYPTION])
def test_every_encryption_secret_of_the_bundle_is_kept_and_rendered(bundle, contract, kinds, fields):
    adopted = secrets.check_bundle(with_encryption(bundle, kinds), 'adopted')
    config = document(render(adopted, contract), 'v1alpha1')
    assert {key for key in config['cluster'] if key.endswith('EncryptionSecret')} == fields
    worker = document(render(adopted, contract, role='worker'), 'v1alpha1')
    assert not [key for key in worker['cluster'] if key.endswith('EncryptionSecret')]
    text = tr.render(dict(role='controlplane', cluster_name='hybrid', cluster_endpoint='https://k8s.example.net:6443',
                          talos_version=TALOS[contract], kubernetes_version='1.32.3'), adopted).text
    assert secrets.bundle_from_machineconfig(text, 'rendered') == adopted


def test_a_bundle_without_an_encryption_secret_is_refused_with_talos_reason(bundle):
    with pytest.raises(TalosConfigError, match=r'one of \[secrets.secretboxencryptionsecret, '
                                               r'secrets.aescbcencryptionsecret\] is required'):
        secrets.check_bundle(with_encryption(bundle, ()), 'adopted')


def test_a_control_plane_config_without_an_encryption_secret_is_not_adopted(bundle):
    text = tr.render(dict(role='controlplane', cluster_name='hybrid', cluster_endpoint='https://k8s.example.net:6443',
                          talos_version='v1.9.6', kubernetes_version='1.32.3'), bundle).text
    text = '\n'.join(line for line in text.splitlines() if 'secretboxEncryptionSecret' not in line)
    with pytest.raises(TalosConfigError, match='has neither cluster.secretboxEncryptionSecret nor '
                                               'cluster.aescbcEncryptionSecret'):
        secrets.bundle_from_machineconfig(text, 'old.yaml')


# --- extraArgs: merged like any map up to contract v1.9, replaced key by key from v1.13 ---------------
# v1.9: types/v1alpha1/v1alpha1_types.go@v1.9.6 map[string]string and config/merge/merge.go@v1.9.6
# (an empty string is a zero value and changes nothing). v1.13: v1alpha1_types.go@v1.13.9 Args.Merge
# (maps.Copy: the patch's value of a key replaces, a list included, "" and null included).

EXTRA_ARGS = [
    (V19, {'a': 'x'}, {'a': 'y'}, {'a': 'y'}),
    (V19, {'a': 'x'}, {'a': ''}, {'a': 'x'}),
    (V19, {'a': 'x'}, {'b': 'z'}, {'a': 'x', 'b': 'z'}),
    (V113, {'a': 'x'}, {'a': 'y'}, {'a': 'y'}),
    (V113, {'a': 'x'}, {'a': ''}, {'a': ''}),
    (V113, {'a': 'x'}, {'a': None}, {'a': ''}),
    (V113, {'a': ['x']}, {'a': ['y', 'z']}, {'a': ['y', 'z']}),
    (V113, {'a': 'x'}, {'a': ['y']}, {'a': ['y']}),
    (V113, {'a': 'x'}, {'b': 'z'}, {'a': 'x', 'b': 'z'}),
    (V113, None, {'a': None, 'b': ['y']}, {'a': '', 'b': ['y']}),
]


@pytest.mark.parametrize('section', [('machine', 'kubelet'), ('cluster', 'apiServer'), ('cluster', 'etcd')])
@pytest.mark.parametrize('contract, current, change, expected', EXTRA_ARGS)
def test_extra_args_merge_per_contract(section, contract, current, change, expected):
    top, component = section
    config = {'version': 'v1alpha1', top: {component: {'image': 'x'}}}
    if current is not None:
        config[top][component]['extraArgs'] = current
    result = patched([config], {top: {component: {'extraArgs': change}}}, contract=contract)[0]
    assert result[top][component]['extraArgs'] == expected


def test_a_list_extra_arg_replaces_the_rendered_one_from_v1_13_and_is_refused_before(bundle):
    base = {'machine': {'kubelet': {'extraArgs': {'feature-gates': ['A=true'], 'max-pods': '250'}}}}
    change = {'machine': {'kubelet': {'extraArgs': {'feature-gates': ['B=true', 'C=false'], 'max-pods': ''}}}}
    docs = render(bundle, V113, cluster_patches=[base], node_patches=[change])
    kubelet = document(docs, 'v1alpha1')['machine']['kubelet']
    assert kubelet['extraArgs'] == {'feature-gates': ['B=true', 'C=false'], 'max-pods': ''}
    with pytest.raises(TalosConfigError, match=r'machine\.kubelet\.extraArgs\.feature-gates'):
        render(bundle, V19, node_patches=[base])


# --- $patch: delete: a missing map key fails with "lookup failed", an unset struct field does not ---
# configloader/internal/decoder/selector.go@v1.9.6 and @v1.13.9, deleteForPath: a struct field is
# zeroed whether set or not; a map key that is not there, or a field the struct does not have, is
# ErrLookupFailed. configpatcher/testdata/patchdeletemissing@v1.13.9 is the "parent missing" row,
# configpatcher/testdata/apply/strategic3.yaml@v1.13.9 the extraArgs row.

DELETE_BASE = {'version': 'v1alpha1',
               'machine': {'nodeLabels': {'a': '1'}, 'kubelet': {'image': 'k'}},
               'cluster': {'proxy': {'extraArgs': {'metrics-bind-address': '$(POD_IP):10249', 'foo': 'bar'}}}}
DELETES = [
    ('map key present', 'machine:\n  nodeLabels:\n    a:\n      $patch: delete\n', ('machine', 'nodeLabels'), {}),
    ('map key missing', 'machine:\n  nodeLabels:\n    b:\n      $patch: delete\n', None,
     'machine.nodeLabels has no key b (lookup failed)'),
    ('unset struct field', 'machine:\n  kubelet:\n    extraArgs:\n      $patch: delete\n', ('machine', 'kubelet'),
     {'image': 'k'}),
    ('unknown struct field', 'machine:\n  kubelet:\n    bogus:\n      $patch: delete\n', None,
     'machine.kubelet has no field bogus (lookup failed)'),
    ('parent missing', 'machine:\n  network:\n    hostname:\n      $patch: delete\n', None,
     'machine.network does not exist (lookup failed)'),
    ('extraArgs key with a merge beside it',
     'cluster:\n  proxy:\n    extraArgs:\n      metrics-bind-address: $(POD_IP):10249\n      foo:\n        $patch: delete\n',
     ('cluster', 'proxy', 'extraArgs'), {'metrics-bind-address': '$(POD_IP):10249'}),
    ('extraArgs key missing', 'cluster:\n  proxy:\n    extraArgs:\n      nope:\n        $patch: delete\n', None,
     'cluster.proxy.extraArgs has no key nope (lookup failed)'),
]


@pytest.mark.parametrize('contract', BOTH)
@pytest.mark.parametrize('what, patch, where, expected', DELETES, ids=[row[0] for row in DELETES])
def test_patch_delete_follows_talos(contract, what, patch, where, expected):
    if where is None:
        with pytest.raises(TalosConfigError, match='node patch 1: cannot delete .*' + expected.replace('(', r'\(')
                           .replace(')', r'\)').replace('.', r'\.')):
            patched([copy.deepcopy(DELETE_BASE)], patch, contract=contract)
        return
    node = patched([copy.deepcopy(DELETE_BASE)], patch, contract=contract)[0]
    for key in where:
        node = node[key]
    assert node == expected, what


def test_deleting_and_adding_a_link_address_in_one_patch():
    """configpatcher/testdata/patchlink@v1.13.9 (LinkConfig is a v1.13 document)."""
    base = {'apiVersion': 'v1alpha1', 'kind': 'LinkConfig', 'name': 'eth0',
            'addresses': [{'address': '10.0.42.136/24'}], 'routes': [{'gateway': '10.0.42.1'}]}
    patch = ('apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\naddresses:\n  - address: 10.0.42.136/24\n'
             '    $patch: delete\n  - address: 10.0.42.137/24\n')
    result = patched([{'version': 'v1alpha1'}, base], patch, contract=V113)[1]
    assert result == dict(base, addresses=[{'address': '10.0.42.137/24'}])


# --- the same list item twice in one patch ----------------------------------------------------------
# types/v1alpha1/v1alpha1_types.go@v1.9.6 (NetworkDeviceList.Merge, VlanList.Merge) and
# config/merge/merge.go@v1.9.6: a list type's Merge runs on the config's list even when it is empty,
# matching each item against the list as it grows; a struct the config does not have at all (a nil
# pointer) is taken from the patch whole, duplicates included. Contract v1.9 only: the v1.13 schema
# has no machine.network (its documents replace it).

TWICE = [
    ('interface twice, network without interfaces', {'hostname': 'a'},
     [{'interface': 'eth0', 'dhcp': True}, {'interface': 'eth0', 'mtu': 1450}],
     [{'interface': 'eth0', 'dhcp': True, 'mtu': 1450}]),
    ('interface twice, into the existing one', {'interfaces': [{'interface': 'eth0', 'dhcp': False}]},
     [{'interface': 'eth0', 'dhcp': True}, {'interface': 'eth0', 'mtu': 1450}],
     [{'interface': 'eth0', 'dhcp': True, 'mtu': 1450}]),
    ('device selector twice', {},
     [{'deviceSelector': {'busPath': '0*'}, 'dhcp': True}, {'deviceSelector': {'busPath': '0*'}, 'mtu': 1450}],
     [{'deviceSelector': {'busPath': '0*'}, 'dhcp': True, 'mtu': 1450}]),
    ('vlan twice', {'interfaces': [{'interface': 'eth0'}]},
     [{'interface': 'eth0', 'vlans': [{'vlanId': 5, 'mtu': 1400}, {'vlanId': 5, 'dhcp': True}]}],
     [{'interface': 'eth0', 'vlans': [{'vlanId': 5, 'mtu': 1400, 'dhcp': True}]}]),
    ('no network at all: taken whole, as Talos does', None,
     [{'interface': 'eth0', 'dhcp': True}, {'interface': 'eth0', 'mtu': 1450}],
     [{'interface': 'eth0', 'dhcp': True}, {'interface': 'eth0', 'mtu': 1450}]),
]


@pytest.mark.parametrize('what, network, interfaces, expected', TWICE, ids=[row[0] for row in TWICE])
def test_the_same_item_twice_in_one_patch_is_merged_as_talos_merges_it(what, network, interfaces, expected):
    config = {'version': 'v1alpha1', 'machine': {}}
    if network is not None:
        config['machine']['network'] = copy.deepcopy(network)
    result = patched([config], {'machine': {'network': {'interfaces': interfaces}}})[0]
    assert result['machine']['network']['interfaces'] == expected, what


# --- which contract a node accepts ------------------------------------------------------------------
# A node rejects keys it does not know (configloader/internal/decoder/decoder_test.go@v1.9.6,
# "unknown keys found during decoding") and keeps reading the documents of older releases.

ACCEPTS = 'Talos keeps reading older config documents'
CONTRACT_CHOICES = [
    (None, 'v1.9.6', (1, 9)),
    (None, 'v1.12.3', (1, 9)),
    (None, 'v1.13.0', (1, 13)),
    (None, 'v1.14.2', (1, 13)),
    ('v1.13', 'v1.12.3', 'config contract v1.13 is newer than Talos v1.12.3 on the node, which would reject the config '
                         'with "unknown keys found during decoding"; the node accepts v1.9 (%s): use contract v1.9.' % ACCEPTS),
    ('v1.12', 'v1.12.3', 'config contract v1.12 is unknown: this collection renders v1.9, v1.13; Talos v1.12.3 on the '
                         'node accepts v1.9 (%s): use contract v1.9.' % ACCEPTS),
    ('v1.14', 'v1.14.2', 'config contract v1.14 is unknown: this collection renders v1.9, v1.13; Talos v1.14.2 on the '
                         'node accepts v1.9, v1.13 (%s): use contract v1.13.' % ACCEPTS),
    ('v1.9', 'v1.8.4', 'config contract v1.9 is newer than Talos v1.8.4 on the node, which would reject the config '
                       'with "unknown keys found during decoding"; the node accepts none of v1.9, v1.13.'),
]


@pytest.mark.parametrize('contract, talos_version, expected', CONTRACT_CHOICES)
def test_the_contract_named_is_one_we_render_and_the_node_accepts(contract, talos_version, expected):
    if isinstance(expected, tuple):
        assert resolve_contract(contract, talos_version) == expected
        return
    with pytest.raises(TalosConfigError) as caught:
        resolve_contract(contract, talos_version)
    assert str(caught.value) == expected
