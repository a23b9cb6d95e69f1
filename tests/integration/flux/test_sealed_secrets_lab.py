"""Sealed Secrets end to end on the Flux suite's cluster: sealed_secrets_install puts the controller in through Flux (the
lab's helm-controller renders the chart, the lab's controller makes its key), sealed_secrets_cert fetches the certificate
through the API server's service proxy, the seal_secret filter seals with it, and the lab's controller unseals what it
sealed into a Secret - and refuses a strict value moved to another name with the controller's own error."""
# pylint: disable=redefined-outer-name,unused-argument  # pytest fixtures as arguments
import base64
import os
import stat

import pytest

from flux_lab import wait_for

pytestmark = pytest.mark.lab

CANARY = 'lab-canary-value-7d1f'  # a made-up value; it must never show in any output
NAMESPACE = 'default'


def play(flux_lab, *tasks, **extra):
    return [dict({'hosts': 'localhost', 'gather_facts': False,
                  'module_defaults': {'group/hybridops.talos.kubernetes': {'kubeconfig': flux_lab.kubeconfig}},
                  'tasks': list(tasks)}, **extra)]


def flux_task(flux_lab):
    env = flux_lab.flux_env
    return {'name': 'flux', 'hybridops.talos.flux_install': {
        'version': env['LAB_FLUX_VERSION'], 'releases_url': env['LAB_FLUX_RELEASES_URL'], 'sha256': env['LAB_FLUX_INSTALL_SHA256'],
        'wait_timeout': 120}}


def _assert_quiet(run):
    assert CANARY not in run.stdout and CANARY not in run.stderr


def test_check_mode_writes_nothing_and_the_proxy_says_there_is_no_controller(run_playbook, flux_lab, k8s_api, tmp_path):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    dest = str(tmp_path / 'cert.pem')
    ran = run_playbook(play(flux_lab, flux_task(flux_lab),
                            {'name': 'install', 'hybridops.talos.sealed_secrets_install': {}, 'check_mode': True},
                            {'name': 'cert', 'hybridops.talos.sealed_secrets_cert': {'dest': dest, 'wait': False}, 'ignore_errors': True}))
    assert ran.rc == 0, ran
    install = ran.result('install')
    assert install['changed'] and {o['kind']: o['action'] for o in install['objects']} == {'HelmRepository': 'created', 'HelmRelease': 'created'}
    assert 'active_keys' not in install  # nothing is waited for in check mode
    releases = client.CustomObjectsApi(k8s_api).list_namespaced_custom_object('helm.toolkit.fluxcd.io', 'v2', 'kube-system', 'helmreleases')
    assert not [r for r in releases['items'] if r['metadata']['name'] == 'sealed-secrets']
    cert = ran.result('cert')
    assert cert['failed'] and cert['failure']['reason'] == 'not_found' and cert['failure']['status'] == 404
    assert 'services "sealed-secrets-controller" not found' in cert['msg']
    assert not os.path.exists(dest)


def test_install_fetch_seal_and_the_controller_unseals_in_scope_only(run_playbook, flux_lab, k8s_api, tmp_path):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    core, custom = client.CoreV1Api(k8s_api), client.CustomObjectsApi(k8s_api)
    dest = str(tmp_path / 'cert.pem')
    tasks = [{'name': 'install', 'hybridops.talos.sealed_secrets_install': {'wait_timeout': 120}},
             {'name': 'cert', 'hybridops.talos.sealed_secrets_cert': {'dest': dest, 'wait_timeout': 60}}]
    first = run_playbook(play(flux_lab, flux_task(flux_lab), *tasks))
    assert first.rc == 0, first
    install, cert = first.result('install'), first.result('cert')
    assert install['changed'] and install['controller'] == {'namespace': 'kube-system', 'name': 'sealed-secrets-controller'}
    keys = core.list_namespaced_secret('kube-system', label_selector='sealedsecrets.bitnami.com/sealed-secrets-key=active').items
    assert [k.metadata.name for k in keys] == install['active_keys'] and len(keys) == 1
    assert keys[0].type == 'kubernetes.io/tls' and keys[0].metadata.name.startswith('sealed-secrets-key')
    assert 'tls.key' not in first.stdout  # the key Secret's data never reaches a result
    assert cert['certificate'] == base64.b64decode(keys[0].data['tls.crt']).decode()
    assert cert['key_size'] == 4096 and cert['changed']
    with open(dest, encoding='utf-8') as handle:
        assert handle.read() == cert['certificate']
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o644

    again = run_playbook(play(flux_lab, *tasks))
    assert again.rc == 0, again
    assert again.changed() == 0, [(t, again.result(t)['changed']) for t in ('install', 'cert')]

    sealed = run_playbook(play(flux_lab, {
        'name': 'seal', 'hybridops.talos.kube_apply': {'definitions': [
            "{{ {'password': secret_value, 'user': 'app'} | hybridops.talos.seal_secret(name='db-creds', namespace='%s', "
            "certificate=lookup('ansible.builtin.file', '%s'), labels={'team': 'data'}) }}" % (NAMESPACE, dest)]}},
        vars={'secret_value': CANARY}))
    assert sealed.rc == 0, sealed
    _assert_quiet(sealed)

    def unsealed():
        try:
            secret = core.read_namespaced_secret('db-creds', NAMESPACE)
        except client.ApiException:
            return None
        return secret

    secret = wait_for(unsealed, 30, 0.5, 'the controller to unseal db-creds')
    assert {k: base64.b64decode(v).decode() for k, v in secret.data.items()} == {'password': CANARY, 'user': 'app'}
    assert secret.metadata.labels == {'team': 'data'}
    owner = secret.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ('SealedSecret', 'db-creds', True)
    status = custom.get_namespaced_custom_object('bitnami.com', 'v1alpha1', NAMESPACE, 'sealedsecrets', 'db-creds')['status']
    assert status['conditions'][0]['type'] == 'Synced' and status['conditions'][0]['status'] == 'True'

    # The same sealed values under another name: strict scope binds them to db-creds, so they do not unseal.
    original = custom.get_namespaced_custom_object('bitnami.com', 'v1alpha1', NAMESPACE, 'sealedsecrets', 'db-creds')
    where = {'name': 'db-creds-copy', 'namespace': NAMESPACE}
    moved = {'apiVersion': 'bitnami.com/v1alpha1', 'kind': 'SealedSecret', 'metadata': dict(where),
             'spec': {'encryptedData': original['spec']['encryptedData'], 'template': {'metadata': dict(where)}}}
    custom.create_namespaced_custom_object('bitnami.com', 'v1alpha1', NAMESPACE, 'sealedsecrets', moved)

    def refused():
        obj = custom.get_namespaced_custom_object('bitnami.com', 'v1alpha1', NAMESPACE, 'sealedsecrets', 'db-creds-copy')
        conditions = (obj.get('status') or {}).get('conditions') or []
        return conditions[0] if conditions else None

    condition = wait_for(refused, 30, 0.5, 'the controller to judge db-creds-copy')
    assert (condition['type'], condition['status']) == ('Synced', 'False')
    assert condition['message'] == 'no key could decrypt secret (password, user)'
    assert 'db-creds-copy' not in {s.metadata.name for s in core.list_namespaced_secret(NAMESPACE).items}

    # Sealing again with the live objects as evidence keeps the SealedSecret: a rerun changes nothing.
    keep = run_playbook(play(flux_lab, {
        'name': 'seal', 'hybridops.talos.kube_apply': {'definitions': [
            "{{ {'password': secret_value, 'user': 'app'} | hybridops.talos.seal_secret(name='db-creds', namespace='%s', "
            "certificate=lookup('ansible.builtin.file', '%s'), labels={'team': 'data'}, existing=existing, live_secret=live) }}"
            % (NAMESPACE, dest)]}},
        vars={'secret_value': CANARY, 'existing': original, 'live': client.ApiClient().sanitize_for_serialization(secret)}))
    assert keep.rc == 0, keep
    _assert_quiet(keep)
    assert keep.changed() == 0, keep.result('seal')


def test_the_certificate_is_503_while_no_controller_pod_is_ready_and_waited_for(run_playbook, flux_lab, k8s_api):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    apps = client.AppsV1Api(k8s_api)
    apps.patch_namespaced_deployment_scale('sealed-secrets-controller', 'kube-system', {'spec': {'replicas': 0}})
    try:
        wait_for(lambda: not client.CoreV1Api(k8s_api).list_namespaced_pod(
            'kube-system', label_selector='app.kubernetes.io/name=sealed-secrets').items, 30, 0.5, 'the controller pod to go')
        down = run_playbook(play(flux_lab, {'name': 'cert', 'hybridops.talos.sealed_secrets_cert': {'wait': False}, 'ignore_errors': True}))
        cert = down.result('cert')
        assert cert['failed'] and cert['failure']['reason'] == 'api_unavailable' and cert['failure']['status'] == 503
        assert 'no endpoints available for service "sealed-secrets-controller"' in cert['msg']
    finally:
        apps.patch_namespaced_deployment_scale('sealed-secrets-controller', 'kube-system', {'spec': {'replicas': 1}})
    back = run_playbook(play(flux_lab, {'name': 'cert', 'hybridops.talos.sealed_secrets_cert': {'wait_timeout': 60}}))
    assert back.rc == 0, back
    assert back.result('cert')['key_size'] == 4096  # the same key: the new pod found it and made none
    assert len(client.CoreV1Api(k8s_api).list_namespaced_secret(
        'kube-system', label_selector='sealedsecrets.bitnami.com/sealed-secrets-key=active').items) == 1


def test_absent_uninstalls_through_flux_and_leaves_the_keys_and_the_crd(run_playbook, flux_lab, k8s_api):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    absent = {'hybridops.talos.sealed_secrets_install': {'state': 'absent', 'wait_timeout': 60}}
    ran = run_playbook(play(flux_lab, dict(absent, name='dry', check_mode=True), dict(absent, name='remove'), dict(absent, name='again')))
    assert ran.rc == 0, ran
    assert ran.result('dry')['changed'] and ran.result('remove')['changed'] and not ran.result('again')['changed']
    assert [o['kind'] for o in ran.result('remove')['objects']] == ['HelmRelease', 'HelmRepository']
    assert 'sealed-secrets-controller' not in {d.metadata.name for d in client.AppsV1Api(k8s_api).list_namespaced_deployment('kube-system').items}
    assert client.CoreV1Api(k8s_api).list_namespaced_secret(
        'kube-system', label_selector='sealedsecrets.bitnami.com/sealed-secrets-key=active').items  # no key is lost
    assert client.ApiextensionsV1Api(k8s_api).read_custom_resource_definition('sealedsecrets.bitnami.com')
