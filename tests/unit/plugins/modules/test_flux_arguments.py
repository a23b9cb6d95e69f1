"""flux_install and flux_sync refuse bad input before they contact the cluster, in-process (module_runner.py).

The kubeconfig given here does not exist: a case that fails for its own reason, not ``missing_kubeconfig``, proves
the check ran before any connection was tried.
"""
import hashlib
import json

import pytest

from module_runner import run_module

MANIFEST = """---
# Flux Version: v2.7.5
apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: source-controller
  namespace: flux-system
  labels:
    app.kubernetes.io/part-of: flux
spec:
  selector: {matchLabels: {app: source-controller}}
  template:
    metadata: {labels: {app: source-controller}}
    spec: {containers: [{name: manager, image: ghcr.io/fluxcd/source-controller:v1.7.4}]}
"""
KEY_CANARY = 'canary-3f9a1c-deploy-key'


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / 'install.yaml'
    path.write_text(MANIFEST)
    return str(path), hashlib.sha256(MANIFEST.encode()).hexdigest()


@pytest.fixture
def nowhere(tmp_path):
    return str(tmp_path / 'no-kubeconfig')


def install(capsys, **args):
    return run_module(capsys, 'flux_install', args)


def test_a_download_needs_a_pin(capsys, nowhere):
    result = install(capsys, version='2.7.5', kubeconfig=nowhere)
    assert result['failure']['reason'] == 'bad_input' and 'flux_2.7.5_checksums.txt' in result['msg']


def test_a_version_that_is_no_release_is_refused(capsys, nowhere):
    result = install(capsys, version='latest', sha256='0' * 64, kubeconfig=nowhere)
    assert result['failure']['reason'] == 'bad_input' and "'latest' is not a Flux release" in result['msg']


def test_a_malformed_digest_is_refused(capsys, nowhere):
    result = install(capsys, version='2.7.5', sha256='abc', kubeconfig=nowhere)
    assert result['failure']['reason'] == 'bad_input' and 'not a SHA-256 digest' in result['msg']


def test_a_local_copy_that_differs_from_its_pin_is_refused_before_the_cluster_is_contacted(capsys, manifest, nowhere):
    path, digest = manifest
    result = install(capsys, version='2.7.5', src=path, sha256='f' * 64, kubeconfig=nowhere)
    assert result['failure']['reason'] == 'checksum_mismatch', result['failure']
    assert result['failure']['actual'] == digest and 'nothing was applied' in result['msg']


def test_a_manifest_of_another_release_is_refused(capsys, manifest, nowhere):
    path, digest = manifest
    result = install(capsys, version='2.7.4', src=path, sha256=digest, kubeconfig=nowhere)
    assert result['failure']['reason'] == 'version_mismatch' and 'is Flux 2.7.5, not 2.7.4' in result['msg']


def test_a_manifest_without_flux_controllers_is_refused(capsys, manifest, nowhere):
    path, digest = manifest
    result = install(capsys, version='2.7.5', src=path, sha256=digest, namespace='elsewhere', kubeconfig=nowhere)
    assert result['failure']['reason'] == 'bad_manifest' and 'namespace elsewhere' in result['msg']


def test_a_matching_local_copy_goes_on_to_the_cluster(capsys, manifest, nowhere):
    path, digest = manifest
    result = install(capsys, version='2.7.5', src=path, sha256='sha256:' + digest.upper(), kubeconfig=nowhere)
    assert result['failure']['reason'] == 'missing_kubeconfig'


def test_a_download_that_fails_says_from_where(capsys, nowhere):
    result = install(capsys, version='2.7.5', sha256='0' * 64, releases_url='http://127.0.0.1:9/releases', kubeconfig=nowhere,
                     request_timeout=2)
    assert result['failure']['reason'] == 'download_failed'
    assert 'http://127.0.0.1:9/releases/v2.7.5/install.yaml' in result['msg']


@pytest.mark.parametrize('args, reason, text', [
    ({'url': 'ssh://git@git.example.net/ops/gitops.git'}, 'bad_input', 'needs a deploy key'),
    ({'url': 'ssh://git@git.example.net/ops/gitops.git', 'ssh_private_key': KEY_CANARY}, 'bad_input', 'known_hosts is required'),
    ({'url': 'ssh://git@git.example.net/ops/gitops.git', 'ssh_private_key': KEY_CANARY, 'known_hosts': 'h ssh-ed25519 AAAA'},
     'bad_input', 'is not a private key'),
    ({'url': 'ssh://git@git.example.net/ops/gitops.git', 'ssh_private_key': KEY_CANARY, 'known_hosts': 'nonsense'},
     'bad_input', 'known_hosts must hold host key lines'),
    ({'url': 'https://git.example.net/ops/gitops.git', 'interval': '1 minute'}, 'bad_input', 'is not a duration'),
    ({'url': 'https://git.example.net/ops/gitops.git'}, 'missing_kubeconfig', 'does not exist'),
])
def test_flux_sync_refuses_bad_input_before_the_cluster_and_never_shows_the_key(capsys, nowhere, args, reason, text):
    result = run_module(capsys, 'flux_sync', dict(args, kubeconfig=nowhere))
    assert result['failure']['reason'] == reason and text in result['msg'], result['msg']
    assert KEY_CANARY not in json.dumps(result)
