"""Flux through our modules and role in ansible-playbook, against the lab's API server and file server.

The tests build on each other in file order, as an operator would go: the repository cannot be connected before
Flux is installed; a manifest whose digest differs and a check-mode run leave the cluster as it was; the role
installs Flux and a second run changes nothing; the GitOps repository is connected with a deploy key that never
shows, even at -vvvv; a controller that cannot run is named by the wait.
"""
# pylint: disable=redefined-outer-name,unused-argument  # pytest fixtures as arguments
import base64
import json
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from flux_lab import wait_for

pytestmark = pytest.mark.lab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURE = os.path.join(ROOT, 'lab', 'files', 'flux-v2.7.5-install.yaml.fixture')
CONTROLLERS = ['source-controller', 'kustomize-controller', 'helm-controller', 'notification-controller']
KNOWN_HOSTS = 'git.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n'
REPO = 'ssh://git@git.example.net/ops/gitops.git'


def tasks(run_playbook, lab, task_list, *args, json_output=True):
    plays = [{'name': 'flux', 'hosts': 'localhost', 'gather_facts': False,
              'module_defaults': {'group/hybridops.talos.kubernetes': {'kubeconfig': lab.kubeconfig}}, 'tasks': task_list}]
    return run_playbook(plays, *args, json_output=json_output)


def install_args(lab, **extra):
    env = lab.flux_env
    args = {'version': env['LAB_FLUX_VERSION'], 'releases_url': env['LAB_FLUX_RELEASES_URL'],
            'sha256': env['LAB_FLUX_INSTALL_SHA256'], 'wait_timeout': 120}
    args.update(extra)
    return args


def role_vars(lab):
    env = lab.flux_env
    return {'flux_enabled': True, 'flux_kubeconfig': lab.kubeconfig, 'flux_version': env['LAB_FLUX_VERSION'],
            'flux_releases_url': env['LAB_FLUX_RELEASES_URL'], 'flux_install_sha256': env['LAB_FLUX_INSTALL_SHA256'],
            'flux_wait_timeout': 120}


def role_run(run_playbook, lab, *args, **extra):
    plays = [{'name': 'flux role', 'hosts': 'localhost', 'gather_facts': False, 'vars': dict(role_vars(lab), **extra),
              'roles': [{'role': 'hybridops.talos.flux'}]}]
    return run_playbook(plays, *args)


def core(k8s_api):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    return client.CoreV1Api(k8s_api)


def namespace_exists(k8s_api, name):
    return name in [n.metadata.name for n in core(k8s_api).list_namespace().items]


def flux_crds(k8s_api):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    return sorted(c.metadata.name for c in client.ApiextensionsV1Api(k8s_api).list_custom_resource_definition().items
                  if c.spec.group.endswith('.toolkit.fluxcd.io'))


def custom(k8s_api, group, plural, name):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    return client.CustomObjectsApi(k8s_api).get_namespaced_custom_object(group, 'v1', 'flux-system', plural, name)


def deploy_key():
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption()).decode('ascii')


@pytest.fixture(scope='module')
def key():
    return deploy_key()


def test_connecting_a_repository_before_flux_is_installed_names_the_missing_crd(run_playbook, flux_lab, k8s_api):
    run = tasks(run_playbook, flux_lab, [{'name': 'sync', 'hybridops.talos.flux_sync': {'url': 'https://git.example.net/ops/gitops.git'}}])
    assert run.rc != 0
    result = run.result('sync')
    assert result['failure']['reason'] == 'kind_not_served', result['failure']
    assert 'GitRepository' in result['msg'] and 'Flux is not installed' in result['msg'] and 'flux_install' in result['msg'], result['msg']
    assert result['msg'].endswith('.') and '\n' not in result['msg']
    assert not namespace_exists(k8s_api, 'flux-system')


def test_a_manifest_whose_sha256_differs_is_refused_and_nothing_is_applied(run_playbook, flux_lab, k8s_api):
    wrong = 'ab' * 32
    run = tasks(run_playbook, flux_lab, [{'name': 'install', 'hybridops.talos.flux_install': install_args(flux_lab, sha256=wrong)}])
    assert run.rc != 0
    result = run.result('install')
    failure = result['failure']
    assert failure['reason'] == 'checksum_mismatch' and failure['expected'] == wrong
    assert failure['actual'] == flux_lab.flux_env['LAB_FLUX_INSTALL_SHA256']
    assert '\n' not in result['msg'] and result['msg'].endswith('.')
    assert 'not the pinned %s, so nothing was applied' % wrong in result['msg'], result['msg']
    assert not namespace_exists(k8s_api, 'flux-system') and flux_crds(k8s_api) == []


def test_check_mode_is_the_server_dry_run_and_stores_nothing(run_playbook, flux_lab, k8s_api):
    run = tasks(run_playbook, flux_lab, [{'name': 'install', 'hybridops.talos.flux_install': install_args(flux_lab)}], '--check', '--diff')
    assert run.rc == 0, run.failures()
    result = run.result('install')
    assert result['changed'] is True and result['counts']['updated'] == 0 and result['counts']['unchanged'] == 0
    assert result['counts']['created'] > 20, result['counts']
    assert [c['name'] for c in result['controllers']] == CONTROLLERS
    assert any(d['after_header'] == 'Deployment flux-system/source-controller' for d in result['diff'])
    assert not namespace_exists(k8s_api, 'flux-system') and flux_crds(k8s_api) == []


def test_the_role_installs_flux_and_a_second_run_changes_nothing(run_playbook, flux_lab, k8s_api):
    first = role_run(run_playbook, flux_lab)
    assert first.rc == 0, first.failures()
    installed = first.result('Install Flux')
    assert installed['changed'] is True and installed['sha256'] == flux_lab.flux_env['LAB_FLUX_INSTALL_SHA256']
    assert installed['source'] == flux_lab.flux_env['LAB_FLUX_RELEASES_URL'] + '/v2.7.5/install.yaml'
    assert [(c['name'], c['ready']) for c in installed['controllers']] == [(name, True) for name in CONTROLLERS]
    assert installed['crds'] == ['gitrepositories.source.toolkit.fluxcd.io', 'helmrepositories.source.toolkit.fluxcd.io',
                                 'kustomizations.kustomize.toolkit.fluxcd.io', 'helmreleases.helm.toolkit.fluxcd.io']
    assert first.result('Connect Flux to the GitOps repository').get('skipped') is True  # no repository given
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    apps = client.AppsV1Api(k8s_api)
    for name in CONTROLLERS:
        status = apps.read_namespaced_deployment(name, 'flux-system').status
        assert status.available_replicas == 1, (name, status)

    second = role_run(run_playbook, flux_lab)
    assert second.rc == 0, second.failures()
    assert second.changed() == 0, second.result('Install Flux')['counts']
    assert second.result('Install Flux')['counts']['created'] == 0

    check = role_run(run_playbook, flux_lab, '--check', '--diff')
    assert check.rc == 0 and check.changed() == 0, check.failures()


def test_a_local_copy_of_the_manifest_is_checked_and_changes_nothing(run_playbook, flux_lab):
    run = tasks(run_playbook, flux_lab, [
        {'name': 'local', 'hybridops.talos.flux_install': {'version': '2.7.5', 'src': FIXTURE,
                                                           'sha256': flux_lab.flux_env['LAB_FLUX_INSTALL_SHA256']}},
        {'name': 'unpinned', 'hybridops.talos.flux_install': {'version': '2.7.5', 'src': FIXTURE}},
    ])
    assert run.rc == 0, run.failures()
    assert run.result('local')['changed'] is False and run.result('local')['source'] == FIXTURE
    assert run.result('unpinned')['changed'] is False
    assert run.result('unpinned')['sha256'] == flux_lab.flux_env['LAB_FLUX_INSTALL_SHA256']


def test_kubectl_shows_the_flux_controllers_available(flux_lab):
    from kube_lab import kubectl_binary  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel
    binary = kubectl_binary()
    if not binary:
        pytest.skip('no kubectl: run `make setup`')
    proc = subprocess.run([binary, '--kubeconfig', flux_lab.kubeconfig, '-n', 'flux-system', 'get', 'deploy'],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:]}
    assert sorted(rows) == sorted(CONTROLLERS)
    assert all(row[1] == '1/1' and row[3] == '1' for row in rows.values()), proc.stdout


def test_the_repository_is_connected_with_a_deploy_key_that_never_shows(run_playbook, flux_lab, k8s_api, key):
    sync = {'url': REPO, 'branch': 'main', 'path': './clusters/lab', 'ssh_private_key': key, 'known_hosts': KNOWN_HOSTS,
            'wait_timeout': 60}
    run = tasks(run_playbook, flux_lab, [{'name': 'sync', 'hybridops.talos.flux_sync': sync}], '-vvvv', '--diff', json_output=False)
    assert run.rc == 0, run.stdout[-3000:]
    body = ''.join(line for line in key.splitlines() if not line.startswith('-----'))
    encoded = base64.b64encode(key.encode()).decode()
    output = run.stdout + run.stderr
    for canary in [body, body[:40], body[-40:], encoded[:40], encoded[40:80]]:
        assert canary not in output, 'the deploy key leaked into the -vvvv output'
    assert '<redacted>' in output  # the Secret's diff shows that values exist, not what they are

    secret = core(k8s_api).read_namespaced_secret('flux-system', 'flux-system')
    assert base64.b64decode(secret.data['identity']).decode() == (key if key.endswith('\n') else key + '\n')
    assert base64.b64decode(secret.data['known_hosts']).decode() == KNOWN_HOSTS
    assert base64.b64decode(secret.data['identity.pub']).decode().startswith('ssh-ed25519 ')
    repository = custom(k8s_api, 'source.toolkit.fluxcd.io', 'gitrepositories', 'flux-system')
    assert repository['spec']['url'] == REPO and repository['spec']['secretRef'] == {'name': 'flux-system'}
    assert repository['status']['artifact']['revision'].startswith('main@sha1:')
    kustomization = custom(k8s_api, 'kustomize.toolkit.fluxcd.io', 'kustomizations', 'flux-system')
    assert kustomization['spec']['path'] == './clusters/lab' and kustomization['spec']['prune'] is True
    assert [c['status'] for c in kustomization['status']['conditions'] if c['type'] == 'Ready'] == ['True']


def test_connecting_the_same_repository_again_changes_nothing(run_playbook, flux_lab, key):
    sync = {'url': REPO, 'branch': 'main', 'path': './clusters/lab', 'ssh_private_key': key, 'known_hosts': KNOWN_HOSTS}
    run = tasks(run_playbook, flux_lab, [{'name': 'sync', 'hybridops.talos.flux_sync': sync}])
    assert run.rc == 0, run.failures()
    result = run.result('sync')
    assert result['changed'] is False and result['counts'] == {'created': 0, 'updated': 0, 'unchanged': 3}
    assert result['revision'].startswith('main@sha1:') and all(o['ready'] for o in result['ready'])
    check = tasks(run_playbook, flux_lab, [{'name': 'sync', 'hybridops.talos.flux_sync': sync}], '--check', '--diff')
    assert check.rc == 0 and check.result('sync')['changed'] is False


def test_a_repository_whose_secret_lacks_the_key_is_not_ready_and_says_why(run_playbook, flux_lab):
    run = tasks(run_playbook, flux_lab, [{'name': 'sync', 'hybridops.talos.flux_sync': {
        'name': 'other', 'url': 'ssh://git@git.example.net/ops/other.git', 'secret_name': 'missing', 'wait_timeout': 5}}])
    assert run.rc != 0
    result = run.result('sync')
    assert result['failure']['reason'] == 'missing_secret' and 'flux-system/missing' in result['msg'], result['msg']


def test_the_synced_objects_match_flux_s_published_schemas(flux_lab, k8s_api):
    import jsonschema  # pylint: disable=import-outside-toplevel
    from shared_oracles import oracle_path  # pylint: disable=import-outside-toplevel
    crds = oracle_path('oracles', 'crds')
    for group, plural, schema in (('source.toolkit.fluxcd.io', 'gitrepositories', 'gitrepository_v1.json'),
                                  ('kustomize.toolkit.fluxcd.io', 'kustomizations', 'kustomization_v1.json')):
        obj = custom(k8s_api, group, plural, 'flux-system')
        with open(os.path.join(crds, group, schema), encoding='utf-8') as handle:
            jsonschema.validate({k: v for k, v in obj.items() if k != 'metadata'}, json.load(handle))


# ------------------------------------------------------------------ Cilium to Flux

CILIUM_VALUES = {'MTU': 1370, 'routingMode': 'tunnel', 'tunnelProtocol': 'vxlan', 'k8sServiceHost': 'localhost', 'k8sServicePort': 7445}


def helm_revisions(k8s_api):
    """``{revision: (status, chart version, values)}`` of the Helm release cilium in kube-system, from Helm's Secrets."""
    from lab.kube import helm  # pylint: disable=import-outside-toplevel
    found = {}
    for item in core(k8s_api).list_namespaced_secret('kube-system', label_selector='owner=helm,name=cilium').items:
        record = helm.read({'data': item.data})
        found[record['version']] = (record['info']['status'], record['chart']['metadata']['version'], record['config'])
    return found


def handover(run_playbook, lab, *args, **extra):
    return tasks(run_playbook, lab, [{'name': 'handover', 'hybridops.talos.cilium_handover': dict({'wait_timeout': 60}, **extra)}],
                 *args)


def test_handing_over_a_cilium_that_helm_did_not_install_is_refused(run_playbook, flux_lab, k8s_api):
    run = handover(run_playbook, flux_lab, version='1.18.3')
    assert run.rc != 0
    result = run.result('handover')
    assert result['failure']['reason'] == 'no_release', result['failure']
    assert result['msg'].startswith('No deployed Helm release cilium runs in kube-system'), result['msg']
    assert result['msg'].endswith('.') and '\n' not in result['msg']


def test_cilium_is_handed_over_unchanged_and_git_owns_it_from_then_on(run_playbook, flux_lab, k8s_api, tmp_path):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    from lab.kube import cilium  # pylint: disable=import-outside-toplevel
    # What cilium install leaves: Helm's record of release cilium v1 (the lab's cilium-cli writes the same).
    client.CoreV1Api(k8s_api).create_namespaced_secret('kube-system', cilium.release_secret('1.18.3', 'kube-system', CILIUM_VALUES))

    other = handover(run_playbook, flux_lab, version='1.19.0')
    assert other.rc != 0 and other.result('handover')['failure']['reason'] == 'version_mismatch'
    assert 'Cilium 1.18.3 runs in kube-system, not 1.19.0' in other.result('handover')['msg']
    check = handover(run_playbook, flux_lab, '--check', '--diff', version='1.18.3')
    assert check.rc == 0 and check.result('handover')['changed'] is True, check.failures()
    assert check.result('handover')['counts']['created'] == 2
    assert helm_revisions(k8s_api) == {1: ('deployed', '1.18.3', CILIUM_VALUES)}, 'neither refusal nor check mode wrote anything'

    dest = tmp_path / 'gitops' / 'cilium.yaml'
    run = handover(run_playbook, flux_lab, version='1.18.3', dest=str(dest))
    assert run.rc == 0, run.failures()
    result = run.result('handover')
    assert result['changed'] is True and result['handed_over'] is False
    assert result['release'] == {'name': 'cilium', 'namespace': 'kube-system', 'revision': 1, 'chart': 'cilium', 'version': '1.18.3'}
    assert all(o['ready'] for o in result['ready']), result['ready']
    release = custom_in(k8s_api, 'helm.toolkit.fluxcd.io', 'v2', 'kube-system', 'helmreleases', 'cilium')
    assert release['spec']['values'] == CILIUM_VALUES and release['spec']['chart']['spec']['version'] == '1.18.3'
    ready = [c for c in release['status']['conditions'] if c['type'] == 'Ready'][0]
    assert ready['reason'] == 'UpgradeSucceeded', ready
    assert ready['message'] == 'Helm upgrade succeeded for release kube-system/cilium.v2 with chart cilium@1.18.3'
    # helm-controller adopted the release by upgrading it with the same chart version and values: nothing changed.
    assert helm_revisions(k8s_api) == {1: ('superseded', '1.18.3', CILIUM_VALUES), 2: ('deployed', '1.18.3', CILIUM_VALUES)}
    assert oct(dest.stat().st_mode & 0o777) == '0o600'
    import yaml  # pylint: disable=import-outside-toplevel
    written = [d for d in yaml.safe_load_all(dest.read_text()) if d]
    assert [d['kind'] for d in written] == ['HelmRepository', 'HelmRelease']
    assert written[1]['spec']['values'] == release['spec']['values'] and written[1]['spec']['releaseName'] == 'cilium'
    assert written[1]['spec']['chart']['spec']['version'] == '1.18.3'

    again = handover(run_playbook, flux_lab, version='1.18.3')
    assert again.rc == 0 and again.result('handover')['changed'] is False and again.result('handover')['handed_over'] is True

    # From now on Cilium changes through Git: kustomize-controller applies the new version; the module leaves it be.
    changed = dict(written[1])
    changed['spec'] = dict(changed['spec'], chart={'spec': dict(changed['spec']['chart']['spec'], version='1.18.4')})
    client.CustomObjectsApi(k8s_api).patch_namespaced_custom_object(
        'helm.toolkit.fluxcd.io', 'v2', 'kube-system', 'helmreleases', 'cilium', changed,
        field_manager='kustomize-controller', force=True)
    wait_for(lambda: helm_revisions(k8s_api).get(3, (None,))[:2] == ('deployed', '1.18.4'), 30, 0.3, 'the upgrade to 1.18.4 recorded')
    later = handover(run_playbook, flux_lab, version='1.18.3')
    assert later.rc == 0, later.failures()
    assert later.result('handover')['changed'] is False and 'kustomize-controller' in later.result('handover')['managers']
    release = custom_in(k8s_api, 'helm.toolkit.fluxcd.io', 'v2', 'kube-system', 'helmreleases', 'cilium')
    assert release['spec']['chart']['spec']['version'] == '1.18.4', 'Git\'s version stays'


def test_the_handed_over_objects_match_flux_s_published_schemas(flux_lab, k8s_api):
    import jsonschema  # pylint: disable=import-outside-toplevel
    from shared_oracles import oracle_path  # pylint: disable=import-outside-toplevel
    crds = oracle_path('oracles', 'crds')
    for group, version, namespace, plural, schema in (
            ('source.toolkit.fluxcd.io', 'v1', 'flux-system', 'helmrepositories', 'helmrepository_v1.json'),
            ('helm.toolkit.fluxcd.io', 'v2', 'kube-system', 'helmreleases', 'helmrelease_v2.json')):
        obj = custom_in(k8s_api, group, version, namespace, plural, 'cilium')
        with open(os.path.join(crds, group, schema), encoding='utf-8') as handle:
            jsonschema.validate({k: v for k, v in obj.items() if k != 'metadata'}, json.load(handle))


def custom_in(k8s_api, group, version, namespace, plural, name):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    return client.CustomObjectsApi(k8s_api).get_namespaced_custom_object(group, version, namespace, plural, name)


def test_the_wait_names_a_controller_that_cannot_run_and_why(run_playbook, flux_lab, k8s_api):
    fault = flux_lab.lab_command('fault', 'workload', 'flux-system/helm-controller', '--mode', 'pending')
    assert fault.returncode == 0, fault.stderr
    try:
        core(k8s_api).delete_collection_namespaced_pod('flux-system', label_selector='app=helm-controller')
        run = tasks(run_playbook, flux_lab, [{'name': 'install', 'hybridops.talos.flux_install': install_args(flux_lab, wait_timeout=6)}])
        assert run.rc != 0
        result = run.result('install')
        assert not result.get('changed') and result['failure']['reason'] == 'not_ready', result['failure']
        assert 'Deployment flux-system/helm-controller' in result['msg'] and 'Insufficient cpu' in result['msg'], result['msg']
        assert 'source-controller' not in result['msg'], result['msg']
    finally:
        heal = flux_lab.lab_command('heal')
        assert heal.returncode == 0, heal.stderr
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    apps = client.AppsV1Api(k8s_api)
    wait_for(lambda: apps.read_namespaced_deployment('helm-controller', 'flux-system').status.available_replicas == 1, 60, 0.5,
             'helm-controller available again')
