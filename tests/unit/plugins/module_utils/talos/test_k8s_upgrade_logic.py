"""Kubernetes upgrade decisions (k8s_upgrade.py): the refusals, the support table, and that re-tagging a rendered
config gives exactly the config the role renders with the new version (what keeps site.yml at changed=0)."""
import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError
from ansible_collections.hybridops.talos.plugins.module_utils._talos import k8s_upgrade as k8s
from ansible_collections.hybridops.talos.plugins.module_utils._talos import render as tr
from ansible_collections.hybridops.talos.plugins.module_utils._talos import secrets

BASE = dict(cluster_name='hybrid', cluster_endpoint='https://k8s.example.net:6443', talos_version='v1.9.6',
            hostname='vps-0', site='vps', cert_sans=['203.0.113.10'], underlay_mtu=1450)


@pytest.fixture(scope='module')
def bundle():
    return secrets.generate_bundle((1, 9))


def _render(bundle, role, version, talos_version='v1.9.6'):
    spec = dict(BASE, role=role, kubernetes_version=version, talos_version=talos_version,
                etcd_advertised_subnets=['10.0.0.0/16'] if role == 'controlplane' else [])
    return tr.render(spec, bundle).documents


@pytest.mark.parametrize('role', ['controlplane', 'worker'])
@pytest.mark.parametrize('talos_version', ['v1.9.6', 'v1.13.2'])
def test_retagging_equals_the_render_with_the_new_version(bundle, role, talos_version):
    docs = _render(bundle, role, '1.31.7', talos_version)
    changes = k8s.retag(k8s.v1alpha1_of(docs), (1, 32, 4))
    assert docs == _render(bundle, role, '1.32.4', talos_version)
    expected = {'machine.kubelet.image', 'cluster.proxy.image'}
    if role == 'controlplane':
        expected |= {'cluster.apiServer.image', 'cluster.controllerManager.image', 'cluster.scheduler.image'}
    assert set(changes) == expected
    assert k8s.retag(k8s.v1alpha1_of(docs), (1, 32, 4)) == {}  # a node at the target changes nothing


def test_retag_keeps_a_mirror_repository_and_drops_a_stale_digest():
    doc = {'machine': {'kubelet': {'image': 'mirror.example:5000/siderolabs/kubelet:v1.31.7@sha256:' + 'a' * 64}}}
    k8s.retag(doc, (1, 32, 4))
    assert doc['machine']['kubelet']['image'] == 'mirror.example:5000/siderolabs/kubelet:v1.32.4'
    assert k8s.running_version({'machine': {'kubelet': {'image': 'ghcr.io/siderolabs/kubelet:v1.31.7'}}}) == (1, 31, 7)


@pytest.mark.parametrize('current, target, talos, expected', [
    ('1.31.7', '1.32.4', 'v1.9.6', None),
    ('1.32.3', '1.32.4', 'v1.9.6', None),
    ('1.32.4', '1.32.4', 'v1.9.6', None),
    ('1.32.4', '1.31.7', 'v1.9.6', 'Kubernetes 1.31.7 is older than the 1.32.4 the node runs: downgrades are not supported.'),
    ('1.30.2', '1.32.4', 'v1.9.6', 'Kubernetes 1.32.4 is more than one minor version ahead of the 1.30.2 the node runs: '
                                   'upgrade to 1.31 first.'),
    ('1.32.4', '1.33.1', 'v1.9.6', 'Talos v1.9.6 supports Kubernetes 1.27 to 1.32, not 1.33.1.'),
    ('1.32.4', '1.33.1', 'v1.10.3', None),
    ('1.32.4', '1.33.1', 'v2.0.0', 'Talos v2.0.0 is not in the support table of this collection, so Kubernetes 1.33.1 '
                                   'cannot be checked against it.'),
])
def test_refusals(current, target, talos, expected):
    assert k8s.refusal(k8s.parse_version(current), k8s.parse_version(target), talos) == expected


@pytest.mark.parametrize('value', ['latest', '1.32', 'v1.32.4-rc.0', None])
def test_a_version_that_is_no_release_is_bad_input(value):
    with pytest.raises(ModuleError) as caught:
        k8s.parse_version(value)
    assert caught.value.reason == 'bad_input'
    assert k8s.parse_version('v1.32.4') == (1, 32, 4)
