"""Proxmox CSI access and the proxmox_csi role in ansible-playbook, against a PVE stand-in of this suite's own (which
stores roles, users, ACL entries and tokens) and the Flux lab's Kubernetes API.

The tests build on each other in file order: a storage the plugin cannot use, a missing one and an unclustered PVE are
refused before anything is written; check mode writes nothing; the access is created once, with a token that works
for disks and nothing else and whose secret never shows, even at -vvvv; a second run changes nothing; a role with
other privileges is set right; a token whose secret is lost is made again; the role applies the chart and the
StorageClasses; absent removes it all and present builds it again.

The lab's helm-controller renders the chart, but this suite's nodes carry no topology.kubernetes.io/region label, so
the plugin's node pods crash as the real plugin does and the HelmRelease stays Progressing: the role runs with
proxmox_csi_wait=false up to "HelmRelease applied", and once with a 3 s wait that must fail naming the HelmRelease's
own Ready=Unknown. (The provision suite's cluster has the labels; there the HelmRelease turns Ready.)
"""
# pylint: disable=redefined-outer-name,unused-argument  # pytest fixtures as arguments
import base64
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml

pytestmark = pytest.mark.lab

FIVE = ['Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.Audit', 'VM.Audit', 'VM.Config.Disk']
TOKEN_ID = 'kubernetes-csi@pve!csi'
NS, SECRET = 'csi-proxmox', 'proxmox-csi-plugin'


class Pve:
    """A client of our own (not the module's), to read back what the module did and to try the token."""

    def __init__(self, stand_in):
        self.stand_in = stand_in
        self.context = ssl.create_default_context(cafile=stand_in.ca_file)

    def call(self, method, path, token=None, **data):
        """``(status, data)``; ``token`` is ``(id, secret)``, root's by default."""
        headers = self.stand_in.headers(*(token or ()))
        body = None
        if data:
            body = urllib.parse.urlencode(data).encode()
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        request = urllib.request.Request(self.stand_in.url + '/api2/json' + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as response:
                return response.status, json.loads(response.read()).get('data')
        except urllib.error.HTTPError as exc:
            return exc.code, exc.reason

    def get(self, path):
        status, data = self.call('GET', path)
        assert status == 200, (path, status, data)
        return data

    def access(self):
        """What PVE holds of the plugin's access: role privileges (None: no role), user, ACL entries, tokens."""
        roles = {r['roleid']: r for r in self.get('/access/roles')}
        privileges = sorted(self.get('/access/roles/CSI')) if 'CSI' in roles else None
        users = {u['userid']: u for u in self.get('/access/users?full=1')}
        acl = [e for e in self.get('/access/acl') if e['ugid'] == 'kubernetes-csi@pve']
        tokens = [t['tokenid'] for t in users.get('kubernetes-csi@pve', {}).get('tokens', [])]
        return dict(privileges=privileges, user='kubernetes-csi@pve' in users, acl=acl, tokens=tokens)


NOTHING = dict(privileges=None, user=False, acl=[], tokens=[])


@pytest.fixture(scope='module')
def pve(pve_stand_in):
    client = Pve(pve_stand_in)
    # A storage of a type the plugin does not place disks on, beside the seed's local-zfs (zfspool).
    status, data = client.call('POST', '/storage', storage='smb', type='cifs', server='192.0.2.50', share='data',
                               content='images')
    assert status == 200, data
    return client


def module_run(run_playbook, lab, stand_in, *args, **params):
    plays = [{'name': 'csi access', 'hosts': 'localhost', 'gather_facts': False,
              'module_defaults': {'group/hybridops.talos.kubernetes': {'kubeconfig': lab.kubeconfig}},
              'tasks': [{'name': 'access', 'hybridops.talos.proxmox_csi_access': dict({'storages': ['local-zfs']}, **params)}]}]
    return run_playbook(plays, *args, env=stand_in.env())


def secret_config(k8s_api):
    """The first cluster of the plugin's config.yaml, or None when there is no Secret."""
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
    try:
        secret = client.CoreV1Api(k8s_api).read_namespaced_secret(SECRET, NS)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return yaml.safe_load(base64.b64decode(secret.data['config.yaml']))['clusters'][0]


def namespace_labels(k8s_api):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    found = [n for n in client.CoreV1Api(k8s_api).list_namespace().items if n.metadata.name == NS]
    return found[0].metadata.labels if found else None


def test_a_storage_the_plugin_cannot_use_or_that_is_missing_is_refused_before_anything_is_written(
        run_playbook, flux_lab, k8s_api, pve_stand_in, pve):
    for storages, reason, words in ((['local-zfs', 'smb'], 'unsupported_storage', 'PVE storage smb is of type cifs'),
                                    (['nowhere'], 'missing_storage', 'PVE storage nowhere does not exist')):
        run = module_run(run_playbook, flux_lab, pve_stand_in, storages=storages)
        assert run.rc != 0
        result = run.result('access')
        assert result['failure']['reason'] == reason and words in result['msg'], result['msg']
        assert result['msg'].endswith('nothing was written.') and '\n' not in result['msg']
    assert pve.access() == NOTHING
    assert secret_config(k8s_api) is None and namespace_labels(k8s_api) is None


def test_a_pve_that_is_not_clustered_is_refused(run_playbook, flux_lab, k8s_api):
    from pve_stand_in import PveStandIn  # pylint: disable=import-outside-toplevel
    standalone = PveStandIn(standalone=True)
    try:
        run = module_run(run_playbook, flux_lab, standalone)
        assert Pve(standalone).access() == NOTHING
    finally:
        standalone.stop()
    assert run.rc != 0
    result = run.result('access')
    assert result['failure']['reason'] == 'not_clustered', result['msg']
    assert 'pve1 is not part of a cluster' in result['msg'] and 'pvecm create' in result['msg']
    assert secret_config(k8s_api) is None


def test_check_mode_tells_what_it_would_do_and_writes_nothing(run_playbook, flux_lab, k8s_api, pve_stand_in, pve):
    run = module_run(run_playbook, flux_lab, pve_stand_in, '--check', '--diff')
    assert run.rc == 0, run.failures()
    result = run.result('access')
    assert result['changed'] is True and result['region'] == 'lab' and result['token_id'] == TOKEN_ID
    actions = {k: v['action'] for k, v in result['pve'].items()}
    assert actions == {'role': 'created', 'user': 'created', 'acl': 'created', 'token': 'created'}
    assert result['pve']['role']['added'] == FIVE
    assert result['counts'] == {'created': 2, 'updated': 0, 'unchanged': 0}, result['objects']
    headers = [d['after_header'] for d in result['diff']]
    assert headers == ['PVE role CSI', 'PVE user kubernetes-csi@pve', 'PVE ACL /', 'PVE token %s' % TOKEN_ID,
                       'Namespace %s' % NS, 'Secret %s/%s' % (NS, SECRET)], headers
    assert pve.access() == NOTHING
    assert secret_config(k8s_api) is None and namespace_labels(k8s_api) is None


def test_the_access_is_created_with_a_token_for_disks_only_whose_secret_never_shows(
        run_playbook, flux_lab, k8s_api, pve_stand_in, pve):
    run = module_run(run_playbook, flux_lab, pve_stand_in, '-vvvv', '--diff')
    assert run.rc == 0, run.failures()
    result = run.result('access')
    assert result['changed'] is True and result['pve']['token']['action'] == 'created'
    held = pve.access()
    assert held['privileges'] == FIVE and held['user'] and held['tokens'] == ['csi']
    assert held['acl'] == [{'path': '/', 'type': 'user', 'ugid': 'kubernetes-csi@pve', 'roleid': 'CSI', 'propagate': 1}]
    assert pve.get('/access/users/kubernetes-csi@pve/token/csi')['privsep'] == 0

    config = secret_config(k8s_api)
    assert config['url'] == pve_stand_in.url + '/api2/json' and config['token_id'] == TOKEN_ID
    assert config['region'] == 'lab' and config['insecure'] is True  # a private CA, which the plugin cannot be given
    assert namespace_labels(k8s_api)['pod-security.kubernetes.io/enforce'] == 'privileged'
    secret = config['token_secret']
    for text in (run.stdout, run.stderr):
        assert secret not in text and pve_stand_in.root_token_secret not in text
    assert secret not in json.dumps(result)
    shown = next(d for d in result['diff'] if d['after_header'] == 'Secret %s/%s' % (NS, SECRET))['after']
    assert 'config.yaml: <redacted>' in shown, shown

    token = (TOKEN_ID, secret)
    status, volume = pve.call('POST', '/nodes/pve1/storage/local-zfs/content', token=token, vmid=9999,
                              filename='vm-9999-disk-0', size='1G')
    assert status == 200 and volume == 'local-zfs:vm-9999-disk-0', volume
    assert pve.call('POST', '/nodes/pve1/qemu', token=token, vmid=4242, name='not-allowed')[0] == 403
    assert pve.call('POST', '/access/roles', token=token, roleid='Escalate', privs='Sys.Modify')[0] == 403


def test_a_second_run_changes_nothing(run_playbook, flux_lab, k8s_api, pve_stand_in):
    before = secret_config(k8s_api)
    run = module_run(run_playbook, flux_lab, pve_stand_in)
    assert run.rc == 0, run.failures()
    assert run.changed() == 0, run.result('access')
    assert secret_config(k8s_api) == before


def test_a_role_with_other_privileges_is_set_to_the_five_and_the_diff_says_which(run_playbook, flux_lab, pve_stand_in, pve):
    status = pve.call('PUT', '/access/roles/CSI', privs='VM.Audit,VM.Config.Disk,Datastore.Allocate,Datastore.AllocateSpace,VM.Allocate')[0]
    assert status == 200
    run = module_run(run_playbook, flux_lab, pve_stand_in, '--diff')
    assert run.rc == 0, run.failures()
    role = run.result('access')['pve']['role']
    assert role['action'] == 'updated' and role['added'] == ['Datastore.Audit'] and role['removed'] == ['VM.Allocate']
    diff = next(d for d in run.result('access')['diff'] if d['after_header'] == 'PVE role CSI')
    assert '- VM.Allocate' in diff['before'] and '- Datastore.Audit' in diff['after']
    assert pve.access()['privileges'] == FIVE


def test_a_token_whose_secret_is_lost_is_made_again_and_the_old_one_stops_working(
        run_playbook, flux_lab, k8s_api, pve_stand_in, pve):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    old = secret_config(k8s_api)['token_secret']
    client.CoreV1Api(k8s_api).delete_namespaced_secret(SECRET, NS)
    run = module_run(run_playbook, flux_lab, pve_stand_in)
    assert run.rc == 0, run.failures()
    token = run.result('access')['pve']['token']
    assert token['action'] == 'recreated' and 'PVE shows a token secret only when it creates it' in token['why']
    new = secret_config(k8s_api)['token_secret']
    assert new != old and new not in run.stdout
    assert pve.call('GET', '/storage/local-zfs', token=(TOKEN_ID, new))[0] == 200
    assert pve.call('GET', '/storage/local-zfs', token=(TOKEN_ID, old))[0] == 401


def test_a_token_regenerated_behind_our_back_is_made_again(run_playbook, flux_lab, k8s_api, pve_stand_in, pve):
    status, answer = pve.call('PUT', '/access/users/kubernetes-csi@pve/token/csi', regenerate=1)
    assert status == 200 and answer['value'] != secret_config(k8s_api)['token_secret']
    run = module_run(run_playbook, flux_lab, pve_stand_in)
    assert run.rc == 0, run.failures()
    token = run.result('access')['pve']['token']
    assert token['action'] == 'recreated' and 'no longer authenticates' in token['why'], token
    assert pve.call('GET', '/storage/local-zfs', token=(TOKEN_ID, secret_config(k8s_api)['token_secret']))[0] == 200


def ensure_flux(run_playbook, lab):
    """Flux's CRDs for the HelmRepository and HelmRelease (installed by test_flux_lab.py when it ran first)."""
    env = lab.flux_env
    plays = [{'name': 'flux', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [{'name': 'install', 'hybridops.talos.flux_install': {
        'kubeconfig': lab.kubeconfig, 'version': env['LAB_FLUX_VERSION'], 'releases_url': env['LAB_FLUX_RELEASES_URL'],
        'sha256': env['LAB_FLUX_INSTALL_SHA256'], 'wait_timeout': 120}}]}]
    run = run_playbook(plays)
    assert run.rc == 0, run.failures()


def role_run(run_playbook, lab, stand_in, *args, **extra):
    plays = [{'name': 'csi role', 'hosts': 'localhost', 'gather_facts': False,
              'vars': dict({'proxmox_csi_kubeconfig': lab.kubeconfig, 'proxmox_csi_wait': False}, **extra),
              'roles': [{'role': 'hybridops.talos.proxmox_csi'}]}]
    return run_playbook(plays, *args, env=stand_in.env())


def test_the_role_applies_the_chart_on_the_proxmox_site_and_storage_classes_kept_in_the_region(
        run_playbook, flux_lab, k8s_api, pve_stand_in):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    ensure_flux(run_playbook, flux_lab)
    checked = role_run(run_playbook, flux_lab, pve_stand_in, '--check')
    assert checked.rc == 0, checked.failures()
    assert checked.result('Apply the StorageClasses, kept in the PVE cluster\'s region')['counts']['created'] == 1
    assert 'proxmox-zfs' not in [c.metadata.name for c in client.StorageV1Api(k8s_api).list_storage_class().items]
    first = role_run(run_playbook, flux_lab, pve_stand_in)
    assert first.rc == 0, first.failures()
    assert first.result('Give the plugin its PVE role, user, ACL entry and token, and its config Secret')['changed'] is False
    objects = client.CustomObjectsApi(k8s_api)
    repository = objects.get_namespaced_custom_object('source.toolkit.fluxcd.io', 'v1', NS, 'helmrepositories', 'proxmox-csi')
    assert repository['spec']['type'] == 'oci' and repository['spec']['url'] == 'oci://ghcr.io/sergelogvinov/charts'
    release = objects.get_namespaced_custom_object('helm.toolkit.fluxcd.io', 'v2', NS, 'helmreleases', 'proxmox-csi-plugin')
    chart = release['spec']['chart']['spec']
    assert (chart['chart'], chart['version'], chart['sourceRef']['name']) == ('proxmox-csi-plugin', '0.5.9', 'proxmox-csi')
    values = release['spec']['values']
    assert values['existingConfigSecret'] == SECRET and values['storageClass'] == []
    term = values['affinity']['nodeAffinity']['requiredDuringSchedulingIgnoredDuringExecution']['nodeSelectorTerms'][0]
    assert term['matchExpressions'] == [{'key': 'hybridops.io/site', 'operator': 'In', 'values': ['home']}]
    assert values['node']['affinity'] == values['affinity']
    storage_class = client.StorageV1Api(k8s_api).read_storage_class('proxmox-zfs')
    assert storage_class.provisioner == 'csi.proxmox.sinextra.dev'
    assert storage_class.parameters == {'csi.storage.k8s.io/fstype': 'ext4', 'storage': 'local-zfs'}
    assert (storage_class.reclaim_policy, storage_class.volume_binding_mode) == ('Delete', 'WaitForFirstConsumer')
    assert storage_class.allow_volume_expansion is True
    expression = storage_class.allowed_topologies[0].match_label_expressions[0]
    assert (expression.key, expression.values) == ('topology.kubernetes.io/region', ['lab'])

    second = role_run(run_playbook, flux_lab, pve_stand_in)
    assert second.rc == 0, second.failures()
    assert second.changed() == 0


def test_the_wait_judges_the_helmrelease_by_its_ready_condition(run_playbook, flux_lab, k8s_api, pve_stand_in):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    run = role_run(run_playbook, flux_lab, pve_stand_in, proxmox_csi_wait=True, proxmox_csi_wait_timeout=3)
    assert run.rc != 0
    result = run.result('Wait until the HelmRelease is Ready')
    assert result['failed'] and 'HelmRelease csi-proxmox/proxmox-csi-plugin Ready=Unknown (Progressing)' in result['msg'], result['msg']
    # Why: the node plugin needs the region and zone labels, which these nodes lack, and crashes without them.
    core = client.CoreV1Api(k8s_api)

    def crashed():
        pods = core.list_namespaced_pod(NS, label_selector='app.kubernetes.io/component=node').items
        return [p for p in pods if any((c.restart_count or 0) > 0 for c in p.status.container_statuses or ())], pods

    deadline = time.monotonic() + 60
    while not crashed()[0] and time.monotonic() < deadline:
        time.sleep(0.5)
    restarted, pods = crashed()
    assert pods and all(p.spec.node_name in ('home-cp-0', 'home-w-0', 'home-w-1') for p in pods)
    assert restarted, [p.status.container_statuses for p in pods]


def test_absent_removes_everything_and_present_builds_it_again(run_playbook, flux_lab, k8s_api, pve_stand_in, pve):
    removed = module_run(run_playbook, flux_lab, pve_stand_in, state='absent')
    assert removed.rc == 0, removed.failures()
    result = removed.result('access')
    assert result['changed'] is True
    assert {k: v['action'] for k, v in result['pve'].items()} == dict.fromkeys(('token', 'acl', 'user', 'role'), 'deleted')
    assert pve.access() == NOTHING and secret_config(k8s_api) is None
    again = module_run(run_playbook, flux_lab, pve_stand_in, state='absent')
    assert again.rc == 0 and again.changed() == 0, again.result('access')

    rebuilt = module_run(run_playbook, flux_lab, pve_stand_in)
    assert rebuilt.rc == 0, rebuilt.failures()
    assert rebuilt.result('access')['pve']['token']['action'] == 'created'
    held = pve.access()
    assert held['privileges'] == FIVE and held['tokens'] == ['csi'] and len(held['acl']) == 1
    config = secret_config(k8s_api)
    assert pve.call('GET', '/storage/local-zfs', token=(TOKEN_ID, config['token_secret']))[0] == 200
