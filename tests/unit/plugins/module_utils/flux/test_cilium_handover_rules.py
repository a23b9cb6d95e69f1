"""The pure rules of the Cilium hand-over: reading Helm's release records and the objects that adopt the release."""
import base64
import gzip
import json

import pytest
import yaml

from ansible_collections.hybridops.talos.plugins.module_utils import _cilium_handover as handover
from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import KubeError

VALUES = {'MTU': 1370, 'routingMode': 'tunnel', 'tunnelProtocol': 'vxlan', 'ipam': {'mode': 'kubernetes'}}


def helm_secret(revision, status='deployed', chart='cilium', version='1.18.3', config=None, name='cilium', compress=True):
    """A release Secret as the API returns it: Helm stores base64(gzip(JSON)); the API base64-encodes Secret data again."""
    record = {'name': name, 'namespace': 'kube-system', 'version': revision, 'info': {'status': status},
              'chart': {'metadata': {'name': chart, 'version': version}}, 'config': VALUES if config is None else config}
    raw = json.dumps(record).encode()
    helm = base64.b64encode(gzip.compress(raw) if compress else raw)
    return {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'helm.sh/release.v1',
            'metadata': {'name': 'sh.helm.release.v1.%s.v%d' % (name, revision),
                         'labels': {'owner': 'helm', 'name': name, 'status': status, 'version': str(revision)}},
            'data': {'release': base64.b64encode(helm).decode()}}


def test_the_newest_deployed_revision_is_read():
    secrets = [helm_secret(1, 'superseded', version='1.17.0'), helm_secret(2, config={'MTU': 1400}), helm_secret(3, 'failed')]
    release = handover.running_release(secrets, 'cilium', 'kube-system')
    assert release == {'revision': 2, 'chart': 'cilium', 'version': '1.18.3', 'status': 'deployed', 'values': {'MTU': 1400}}


def test_an_uncompressed_record_is_read_too():
    assert handover.running_release([helm_secret(1, compress=False)], 'cilium', 'kube-system')['values'] == VALUES


def test_other_releases_and_other_secrets_are_ignored():
    other = helm_secret(1, name='hubble')
    plain = {'type': 'Opaque', 'metadata': {'name': 'x', 'labels': {'name': 'cilium', 'owner': 'helm'}}, 'data': {}}
    with pytest.raises(KubeError) as refused:
        handover.running_release([other, plain], 'cilium', 'kube-system')
    assert refused.value.reason == 'no_release'


def test_no_deployed_release_is_refused_naming_what_there_is():
    with pytest.raises(KubeError) as refused:
        handover.running_release([helm_secret(1, 'failed')], 'cilium', 'kube-system')
    assert refused.value.reason == 'no_release'
    assert str(refused.value.message).startswith('No deployed Helm release cilium runs in kube-system (its revisions are failed)')


def test_an_unreadable_record_is_refused_with_its_name():
    broken = helm_secret(1)
    broken['data']['release'] = base64.b64encode(b'not base64 at all!').decode()
    with pytest.raises(KubeError) as refused:
        handover.running_release([broken], 'cilium', 'kube-system')
    assert refused.value.reason == 'bad_release' and 'kube-system/sh.helm.release.v1.cilium.v1' in refused.value.message


def test_another_chart_or_version_is_refused():
    release = handover.running_release([helm_secret(1, chart='calico')], 'cilium', 'kube-system')
    with pytest.raises(KubeError) as refused:
        handover.check_release(release, 'cilium', 'kube-system')
    assert refused.value.reason == 'not_cilium'
    release = handover.running_release([helm_secret(1, version='1.17.4')], 'cilium', 'kube-system')
    with pytest.raises(KubeError) as refused:
        handover.check_release(release, 'cilium', 'kube-system', '1.18.3')
    assert refused.value.reason == 'version_mismatch'
    assert 'Cilium 1.17.4 runs in kube-system, not 1.18.3' in refused.value.message
    handover.check_release(release, 'cilium', 'kube-system', 'v1.17.4')  # a leading v is the same version
    handover.check_release(release, 'cilium', 'kube-system', None)  # no expectation: whatever runs


def test_the_objects_pin_the_running_version_and_values():
    release = handover.running_release([helm_secret(4)], 'cilium', 'kube-system')
    repository, helm_release = handover.objects(release, 'cilium', 'kube-system', 'flux-system')
    assert repository['kind'] == 'HelmRepository' and repository['metadata'] == {'name': 'cilium', 'namespace': 'flux-system'}
    assert repository['spec']['url'] == 'https://helm.cilium.io/'
    spec = helm_release['spec']
    assert helm_release['metadata'] == {'name': 'cilium', 'namespace': 'kube-system'}
    assert (spec['releaseName'], spec['storageNamespace']) == ('cilium', 'kube-system'), 'the release Flux adopts'
    assert spec['chart']['spec'] == {'chart': 'cilium', 'version': '1.18.3',
                                     'sourceRef': {'kind': 'HelmRepository', 'name': 'cilium', 'namespace': 'flux-system'}}
    assert spec['values'] == VALUES


def test_the_git_file_says_what_it_is_and_loads_as_the_objects():
    release = handover.running_release([helm_secret(1)], 'cilium', 'kube-system')
    docs = handover.objects(release, 'cilium', 'kube-system', 'flux-system')
    text = handover.git_file(docs, yaml.safe_dump)
    assert text.startswith('# Cilium, handed over to Flux')
    assert [d for d in yaml.safe_load_all(text) if d] == docs
