"""Patching and adoption follow Talos where they used to differ (issue 12).

One table per rule. Every table names the Talos source it follows, as ``file@tag`` under
siderolabs/talos ``pkg/machinery/``; where a rule changed between Talos 1.9 and 1.13 the rows say
which contract they are for, otherwise each row runs for both contracts.
"""
import copy

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos import render as tr
from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets
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
