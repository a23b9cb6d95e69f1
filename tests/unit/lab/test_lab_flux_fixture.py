"""The lab's fixture of Flux's install manifest, and the objects flux_sync writes, against Flux's published schemas.

The fixture (lab/files/flux-v2.7.5-install.yaml.fixture) is far smaller than the real release asset, but every CRD field
it declares must be the real one: the same type, pattern and enum values (a subset), no field required that the
real CRD does not require. Our GitRepository and Kustomization must validate against the real schemas. The schemas
are the oracle in ../shared/oracles/crds (datreeio/CRDs-catalog); without it these tests skip and say so.
"""
import json
import os

import jsonschema
import pytest
import yaml

from ansible_collections.hybridops.talos.plugins.module_utils import _flux
from shared_oracles import oracle_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURE = os.path.join(ROOT, 'lab', 'files', 'flux-v2.7.5-install.yaml.fixture')


def fixture_objects():
    with open(FIXTURE, encoding='utf-8') as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def fixture_crds():
    return [doc for doc in fixture_objects() if doc['kind'] == 'CustomResourceDefinition']


def oracle(group, kind, version):
    with open(os.path.join(oracle_path('oracles', 'crds'), group, '%s_%s.json' % (kind.lower(), version)), encoding='utf-8') as handle:
        return json.load(handle)


def compare(ours, theirs, where, problems):
    """Every constraint of ``ours`` holds in ``theirs`` (recursively through properties and items)."""
    if theirs is None:
        problems.append('%s: not in the published schema' % where)
        return
    if ours.get('x-kubernetes-preserve-unknown-fields') and where.endswith('.status'):
        return
    for key in ('type', 'pattern'):
        if key in ours and ours[key] != theirs.get(key):
            problems.append('%s: %s %r, published %r' % (where, key, ours[key], theirs.get(key)))
    if 'enum' in ours and not set(ours['enum']) <= set(theirs.get('enum') or ()):
        problems.append('%s: enum %s not within the published %s' % (where, ours['enum'], theirs.get('enum')))
    extra = set(ours.get('required') or ()) - set(theirs.get('required') or ())
    if extra:
        problems.append('%s: requires %s, the published schema does not' % (where, sorted(extra)))
    for name, sub in (ours.get('properties') or {}).items():
        if where == '' and name in ('apiVersion', 'kind', 'metadata'):
            continue
        compare(sub, (theirs.get('properties') or {}).get(name), '%s.%s' % (where, name), problems)
    if 'items' in ours:
        compare(ours['items'], theirs.get('items'), where + '[]', problems)


@pytest.mark.parametrize('crd', fixture_crds(), ids=lambda crd: crd['metadata']['name'])
def test_every_fixture_crd_field_is_the_published_one(crd):
    spec = crd['spec']
    for version in spec['versions']:
        problems = []
        compare(version['schema']['openAPIV3Schema'], oracle(spec['group'], spec['names']['kind'], version['name']), '', problems)
        assert not problems, problems


def test_the_fixture_is_flux_2_7_5_with_its_controller_pins():
    with open(FIXTURE, encoding='utf-8') as handle:
        text = handle.read()
    assert _flux.manifest_version(text) == '2.7.5'
    crds, deployments = _flux.flux_objects(fixture_objects(), 'flux-system')
    images = {d['metadata']['name']: _flux.images(d)[0] for d in deployments}
    # platform.md §5: Flux 2.7.5 pins source-controller v1.7.4 and helm-controller v1.4.5.
    assert images['source-controller'] == 'ghcr.io/fluxcd/source-controller:v1.7.4'
    assert images['helm-controller'] == 'ghcr.io/fluxcd/helm-controller:v1.4.5'
    assert 'gitrepositories.source.toolkit.fluxcd.io' in crds and 'kustomizations.kustomize.toolkit.fluxcd.io' in crds


def _deploy_key():
    """A deploy key made now: no private key, not even a placeholder, is kept in the repository."""
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ed25519  # pylint: disable=import-outside-toplevel
    return ed25519.Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                                              serialization.NoEncryption()).decode()


@pytest.mark.parametrize('url, key', [('ssh://git@git.example.net/ops/gitops.git', True), ('https://git.example.net/ops/gitops.git', False)])
def test_our_sync_objects_validate_against_the_published_schemas(url, key):
    params = dict(name='flux-system', namespace='flux-system', url=url, branch='main', path='./clusters/prod', interval='1m0s',
                  kustomization_interval='10m0s', prune=True, secret_name=None, known_hosts='git.example.net ssh-ed25519 AAAA',
                  ssh_private_key=_deploy_key() if key else None)
    for obj in _flux.sync_objects(params):
        if obj['kind'] == 'Secret':
            continue
        group, version = obj['apiVersion'].split('/')
        jsonschema.validate({k: v for k, v in obj.items() if k != 'metadata'}, oracle(group, obj['kind'], version))
