"""Patching and adoption follow Talos where they used to differ (issue 12).

One table per rule. Every table names the Talos source it follows, as ``file@tag`` under
siderolabs/talos ``pkg/machinery/``; where a rule changed between Talos 1.9 and 1.13 the rows say
which contract they are for, otherwise each row runs for both contracts.
"""
import copy

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos import render as tr
from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets
from ansible_collections.hybridops.talos.plugins.module_utils._talos.contracts import resolve_contract
from ansible_collections.hybridops.talos.plugins.module_utils._talos.errors import TalosConfigError

V19, V113 = (1, 9), (1, 13)
BOTH = [V19, V113]
TALOS = {V19: 'v1.9.6', V113: 'v1.13.9'}


@pytest.fixture(scope='module')
def bundle():
    return secrets.generate_bundle(V19)  # ECDSA service-account key: quick to make


def render(bundle, contract, role='controlplane', **changes):
    spec = dict(role=role, cluster_name='hybrid', endpoint='https://k8s.example.net:6443',
                talos_version=TALOS[contract], kubernetes_version='1.32.3', hostname='vps-0', site='vps')
    spec.update(changes)
    return tr.render(spec, bundle).documents


def document(docs, kind):
    return next(doc for doc in docs if doc.get('kind', 'v1alpha1') == kind)


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
    text = tr.render(dict(role='controlplane', cluster_name='hybrid', endpoint='https://k8s.example.net:6443',
                          talos_version=TALOS[contract], kubernetes_version='1.32.3'), adopted).text
    assert secrets.bundle_from_machineconfig(text, 'rendered') == adopted


def test_a_bundle_without_an_encryption_secret_is_refused_with_talos_reason(bundle):
    with pytest.raises(TalosConfigError, match=r'one of \[secrets.secretboxencryptionsecret, '
                                               r'secrets.aescbcencryptionsecret\] is required'):
        secrets.check_bundle(with_encryption(bundle, ()), 'adopted')


def test_a_control_plane_config_without_an_encryption_secret_is_not_adopted(bundle):
    text = tr.render(dict(role='controlplane', cluster_name='hybrid', endpoint='https://k8s.example.net:6443',
                          talos_version='v1.9.6', kubernetes_version='1.32.3'), bundle).text
    text = '\n'.join(line for line in text.splitlines() if 'secretboxEncryptionSecret' not in line)
    with pytest.raises(TalosConfigError, match='has neither cluster.secretboxEncryptionSecret nor '
                                               'cluster.aescbcEncryptionSecret'):
        secrets.bundle_from_machineconfig(text, 'old.yaml')


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
