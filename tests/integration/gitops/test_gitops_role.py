"""The gitops role end to end against a local bare Git repository: layout, commit and push, no churn, check mode, secrets.

One repository is built up over the tests of this module, in order: the first run writes and pushes, the rerun is
changed=0 with no new commit and the sealed file byte for byte the same, a changed value reseals only that file,
check mode tells the truth and writes nothing, a broken placement rule is refused before anything is written.
Each written object validates: custom resources against the CRD schemas of ../shared/oracles/crds (skipped without it),
built-ins with kubernetes-validate.
"""
import datetime
import os
import subprocess
import sys

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from shared_oracles import ROOT, oracle_path

sys.path.insert(0, ROOT)
from lab.kube import sealed as lab_sealed  # noqa: E402  pylint: disable=wrong-import-position

CANARY = 'tsig-canary-Zq81'
OTHER = 'tsig-canary-Wm47'
PLAY = [{'name': 'gitops', 'hosts': 'localhost', 'gather_facts': False, 'roles': [{'role': 'hybridops.talos.gitops'}]}]
TASK = 'hybridops.talos.gitops : Write and commit the GitOps repository'


def git(repo, *args):
    return subprocess.run(['git', '-C', repo] + list(args), capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope='module')
def controller_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope='module')
def setup(tmp_path_factory, controller_key):
    base = tmp_path_factory.mktemp('gitops')
    bare = str(base / 'remote.git')
    subprocess.run(['git', 'init', '--quiet', '--bare', bare], check=True)
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'sealed-secret')])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(controller_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=30))
            .sign(controller_key, hashes.SHA256())).public_bytes(serialization.Encoding.PEM).decode('ascii')
    variables = {'gitops_repo_path': str(base / 'work'), 'gitops_repo_url': bare, 'gitops_push': True,
                 'gitops_state_dir': str(base / 'state'), 'gitops_cluster_name': 'hybrid', 'gitops_critical_site': 'fsn1',
                 'gitops_home_site': 'home', 'gitops_acme_email': 'ops@example.com', 'gitops_gateway_hostname': '*.example.com',
                 'gitops_dns01_nameserver': '10.96.0.53:53', 'gitops_dns01_tsig_key_name': 'acme',
                 'gitops_dns01_tsig_secret': CANARY, 'gitops_sealing_certificate': cert}
    path = base / 'vars.yml'
    path.write_text(yaml.safe_dump(variables))
    return {'work': str(base / 'work'), 'bare': bare, 'vars': str(path), 'state': str(base / 'state'), 'base': base}


def files_of(work):
    found = {}
    for root, dirs, names in os.walk(work):
        dirs[:] = [d for d in dirs if d != '.git']
        for name in names:
            full = os.path.join(root, name)
            found[os.path.relpath(full, work)] = full
    return found


def test_first_run_writes_commits_and_pushes_the_layout(run_playbook_module, setup):
    run = run_playbook_module(PLAY, '-e', '@' + setup['vars'], '-vvvv')
    assert run.rc == 0, run.failures()
    assert CANARY not in run.stdout and CANARY not in run.stderr
    result = run.result(TASK)
    assert result['changed'] and result['pushed'] and result['commit']
    assert git(setup['bare'], 'rev-parse', 'refs/heads/main').strip() == result['commit']
    files = files_of(setup['work'])
    for rel in ('clusters/hybrid/gateway-api.yaml', 'clusters/hybrid/infrastructure.yaml', 'clusters/hybrid/apps.yaml',
                'infrastructure/controllers/cert-manager-release.yaml', 'infrastructure/configs/cluster-issuers.yaml',
                'infrastructure/configs/powerdns-tsig.sealed.yaml', 'apps/vault/release.yaml', 'apps/kustomization.yaml'):
        assert rel in files, rel
    for rel, full in files.items():
        assert os.stat(full).st_mode & 0o777 == 0o644, rel
        with open(full, encoding='utf-8') as handle:
            assert CANARY not in handle.read(), rel
    assert CANARY not in git(setup['work'], 'log', '-p', '--all')
    assert os.stat(setup['state']).st_mode & 0o777 == 0o700
    for name in os.listdir(setup['state']):
        assert os.stat(os.path.join(setup['state'], name)).st_mode & 0o777 == 0o600, name
        with open(os.path.join(setup['state'], name), 'rb') as handle:
            assert CANARY.encode() not in handle.read(), name


def test_the_sealed_credential_unseals_with_the_controller_key(setup, controller_key):
    with open(os.path.join(setup['work'], 'infrastructure/configs/powerdns-tsig.sealed.yaml'), encoding='utf-8') as handle:
        (sealed,) = [d for d in yaml.safe_load_all(handle) if d]
    data, error = lab_sealed.unseal(sealed, [controller_key])
    assert error is None and data == {'secret': CANARY.encode()}
    assert sealed['metadata'] == {'name': 'powerdns-tsig', 'namespace': 'cert-manager'}


def test_the_dependency_order_is_in_the_objects(setup):
    def docs(rel):
        with open(os.path.join(setup['work'], rel), encoding='utf-8') as handle:
            return [d for d in yaml.safe_load_all(handle) if d]
    controllers, configs = docs('clusters/hybrid/infrastructure.yaml')
    assert controllers['spec']['dependsOn'] == [{'name': 'gateway-api'}]
    assert configs['spec']['dependsOn'] == [{'name': 'infra-controllers'}]
    (apps,) = docs('clusters/hybrid/apps.yaml')
    assert apps['spec']['dependsOn'] == [{'name': 'infra-configs'}]
    (vault,) = docs('apps/vault/release.yaml')
    assert vault['spec']['dependsOn'] == [{'name': 'cert-manager', 'namespace': 'cert-manager'}]
    assert vault['spec']['chart']['spec']['version'] == '0.30.1'
    assert vault['spec']['install']['remediation'] == {'retries': 3}
    (authentik,) = docs('apps/authentik/release.yaml')
    assert authentik['spec']['dependsOn'] == [{'name': 'vault', 'namespace': 'vault'}]
    http01, dns01 = docs('infrastructure/configs/cluster-issuers.yaml')
    assert http01['spec']['acme']['solvers'][0]['http01']['gatewayHTTPRoute']['parentRefs'][0]['name'] == 'main'
    assert dns01['spec']['acme']['solvers'][0]['dns01']['rfc2136']['tsigSecretSecretRef'] == {'name': 'powerdns-tsig', 'key': 'secret'}


def test_every_written_object_validates(setup):
    import jsonschema  # pylint: disable=import-outside-toplevel
    import kubernetes_validate  # pylint: disable=import-outside-toplevel
    crds = oracle_path('oracles', 'crds')
    seen = set()
    for rel, full in sorted(files_of(setup['work']).items()):
        with open(full, encoding='utf-8') as handle:
            for doc in yaml.safe_load_all(handle):
                if not doc:
                    continue
                group, _slash, version = doc['apiVersion'].rpartition('/')
                seen.add(doc['kind'])
                if doc['apiVersion'] == 'kustomize.config.k8s.io/v1beta1':
                    assert set(doc) == {'apiVersion', 'kind', 'resources'}, rel
                    for resource in doc['resources']:
                        assert os.path.exists(os.path.join(os.path.dirname(full), resource)), (rel, resource)
                elif not group or group.endswith('k8s.io') and '.' not in group.replace('.k8s.io', ''):
                    kubernetes_validate.validate(doc, '1.32', strict=True)
                else:
                    with open(os.path.join(crds, group, '%s_%s.json' % (doc['kind'].lower(), version)), encoding='utf-8') as schema:
                        jsonschema.validate(doc, yaml.safe_load(schema))
    assert {'HelmRelease', 'HelmRepository', 'GitRepository', 'Kustomization', 'ClusterIssuer', 'Gateway', 'SealedSecret',
            'Namespace'} <= seen


def test_a_rerun_changes_nothing_and_makes_no_commit(run_playbook_module, setup):
    sealed = os.path.join(setup['work'], 'infrastructure/configs/powerdns-tsig.sealed.yaml')
    with open(sealed, encoding='utf-8') as handle:
        before = handle.read()
    commits = git(setup['bare'], 'rev-list', '--count', 'main')
    run = run_playbook_module(PLAY, '-e', '@' + setup['vars'])
    assert run.rc == 0, run.failures()
    assert run.stats['localhost']['changed'] == 0
    assert git(setup['bare'], 'rev-list', '--count', 'main') == commits
    with open(sealed, encoding='utf-8') as handle:
        assert handle.read() == before


def test_check_mode_tells_the_truth_and_writes_nothing(run_playbook_module, setup):
    head = git(setup['work'], 'rev-parse', 'HEAD')
    run = run_playbook_module(PLAY, '-e', '@' + setup['vars'], '-e', 'gitops_dns01_tsig_secret=' + OTHER, '-e',
                              '{"gitops_services": ["cert-manager", "vault", "authentik"]}', '--check', '--diff')
    assert run.rc == 0, run.failures()
    result = run.result(TASK)
    assert result['changed'] and 'infrastructure/configs/powerdns-tsig.sealed.yaml' in result['changed_files']
    assert 'apps/harbor/release.yaml' in result['changed_files']
    assert OTHER not in run.stdout and OTHER not in run.stderr
    assert git(setup['work'], 'rev-parse', 'HEAD') == head and git(setup['work'], 'status', '--porcelain') == ''
    assert os.path.exists(os.path.join(setup['work'], 'apps/harbor/release.yaml'))


def test_check_mode_on_a_new_repository_creates_nothing(run_playbook_module, setup, tmp_path):
    fresh, state = str(tmp_path / 'new-work'), str(tmp_path / 'new-state')
    run = run_playbook_module(PLAY, '-e', '@' + setup['vars'], '-e', 'gitops_repo_path=' + fresh, '-e', 'gitops_state_dir=' + state,
                              '--check')
    assert run.rc == 0, run.failures()
    assert run.result(TASK)['changed'] and 'apps/vault/release.yaml' in run.result(TASK)['changed_files']
    assert not os.path.exists(fresh) and not os.path.exists(state)


def test_a_new_value_reseals_only_its_file(run_playbook_module, setup, controller_key):
    run = run_playbook_module(PLAY, '-e', '@' + setup['vars'], '-e', 'gitops_dns01_tsig_secret=' + OTHER)
    assert run.rc == 0, run.failures()
    assert run.result(TASK)['changed_files'] == ['infrastructure/configs/powerdns-tsig.sealed.yaml']
    changed = git(setup['bare'], 'diff', '--name-only', 'main~1', 'main').split()
    assert changed == ['infrastructure/configs/powerdns-tsig.sealed.yaml']
    with open(os.path.join(setup['work'], changed[0]), encoding='utf-8') as handle:
        (sealed,) = [d for d in yaml.safe_load_all(handle) if d]
    assert lab_sealed.unseal(sealed, [controller_key])[0] == {'secret': OTHER.encode()}


def test_a_service_taken_out_and_ingress_nginx_chosen(run_playbook_module, setup):
    run = run_playbook_module(PLAY, '-e', '@' + setup['vars'], '-e', 'gitops_dns01_tsig_secret=' + OTHER, '-e', 'gitops_ingress=ingress-nginx',
                              '-e', '{"gitops_services": ["cert-manager", "vault", "authentik", "powerdns", "gitea"]}')
    assert run.rc == 0, run.failures()
    assert any('ingress-nginx is unmaintained since March 2026' in w for w in run.result(TASK).get('warnings', [])), run.result(TASK)
    files = files_of(setup['work'])
    assert 'apps/harbor/release.yaml' not in files and 'clusters/hybrid/gateway-api.yaml' not in files
    assert 'infrastructure/controllers/ingress-nginx-release.yaml' in files
    with open(files['apps/kustomization.yaml'], encoding='utf-8') as handle:
        assert 'harbor' not in handle.read()
    with open(files['infrastructure/configs/cluster-issuers.yaml'], encoding='utf-8') as handle:
        http01 = [d for d in yaml.safe_load_all(handle) if d][0]
    assert http01['spec']['acme']['solvers'][0]['http01'] == {'ingress': {'ingressClassName': 'nginx'}}
    assert git(setup['work'], 'status', '--porcelain') == ''
    again = run_playbook_module(PLAY, '-e', '@' + setup['vars'], '-e', 'gitops_dns01_tsig_secret=' + OTHER, '-e', 'gitops_ingress=ingress-nginx',
                                '-e', '{"gitops_services": ["cert-manager", "vault", "authentik", "powerdns", "gitea"]}')
    assert again.rc == 0 and again.stats['localhost']['changed'] == 0, again.failures()


def test_a_broken_rule_is_refused_before_anything_is_written(run_playbook_module, setup, tmp_path):
    fresh = str(tmp_path / 'never')
    run = run_playbook_module(PLAY, '-e', '@' + setup['vars'], '-e', 'gitops_repo_path=' + fresh, '-e',
                              '{"gitops_catalogue_overrides": {"vault": {"storage": {"class": "proxmox-zfs"}}}}')
    assert run.rc != 0
    (failure,) = run.failures()
    assert 'Service vault is critical and must keep its data on site fsn1, but storage class proxmox-zfs is on site home.' in failure
    assert not os.path.exists(fresh)
