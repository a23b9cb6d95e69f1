"""playbooks/site.yml and the Talos modules against simulated Talos nodes (real gRPC, mTLS, etcd)."""
# pylint: disable=redefined-outer-name,unused-argument  # pytest fixtures as arguments
import base64
import datetime
import json
import os
import stat
import subprocess

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import TalosClient
from ansible_collections.hybridops.talos.plugins.module_utils._talos.secrets import secret_values

pytestmark = pytest.mark.lab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SITE = os.path.join(ROOT, 'playbooks', 'site.yml')
LAB_VARS = os.path.join(ROOT, 'examples', 'lab-vars.yml')
LAB_PREFIX = 'tca-'


@pytest.fixture(scope='module')
def secrets_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp('site') / 'secrets')


def site(run_playbook, lab, secrets_dir, *args, env=None, **extra_vars):
    extra = ['-e', '@' + LAB_VARS, '-e', 'talos_cluster_secrets_dir=' + secrets_dir,
             '-e', 'talos_cluster_configs_dir=' + os.path.join(secrets_dir, 'configs')]
    for key, value in extra_vars.items():
        extra += ['-e', json.dumps({key: value})]
    return run_playbook(SITE, *(extra + list(args)), inventory=lab.inventory, env=env)


def module_task(run_playbook, lab, module, args, *cli, json_output=True):
    plays = [{'name': 'one task', 'hosts': 'localhost', 'gather_facts': False,
              'tasks': [{'name': 'task', module: args}]}]
    return run_playbook(plays, *cli, inventory=lab.inventory, json_output=json_output)


def run_once_result(run, task_name):
    """The result of a run_once task, recorded under whichever host ran it."""
    for play in run.data.get('plays', []):
        for task in play.get('tasks', []):
            if task['task']['name'].split(' : ')[-1] == task_name and task['hosts']:
                return next(iter(task['hosts'].values()))
    raise AssertionError('no task named %r ran' % task_name)


def failures(run):
    """Host, task and message of every failed task, for assertion messages."""
    found = []
    for play in run.data.get('plays', []):
        for task in play.get('tasks', []):
            for host, result in task['hosts'].items():
                if result.get('failed'):
                    found.append('%s / %s: %s' % (host, task['task']['name'], result.get('msg')))
    return found or run.stdout[-3000:]


def changed_tasks(run):
    return ['%s / %s' % (host, task['task']['name']) for play in run.data.get('plays', [])
            for task in play.get('tasks', []) for host, result in task['hosts'].items() if result.get('changed')]


def total_changed(run):
    return sum(host.get('changed', 0) for host in run.stats.values())


@pytest.fixture(scope='module')
def converged(run_playbook_module, talos_lab, secrets_dir):
    """The lab cluster after one site.yml run from nothing (the tests below all build on it)."""
    return site(run_playbook_module, talos_lab, secrets_dir)


def test_site_converges_from_nothing_then_changes_nothing(run_playbook, talos_lab, secrets_dir, converged):
    first = converged
    assert first.rc == 0, failures(first)
    assert total_changed(first) > 0
    etcd = run_once_result(first, 'Check that every etcd member is healthy')
    assert etcd['healthy'] and [m['hostname'] for m in etcd['members']] == ['home-cp-0', 'vps-0', 'vps-1']
    assert etcd['leader']
    # The mesh was built moments ago: its peers start `unknown`, and the check waits for Talos to call them up.
    mesh = run_once_result(first, 'Check that every KubeSpan link between the nodes is up')
    assert mesh['healthy'], mesh['summary']
    assert mesh['counts'] == dict(nodes=5, pairs=20, pairs_up=20, pairs_ok=20, links=10, links_ok=10)

    second = site(run_playbook, talos_lab, secrets_dir)
    assert second.rc == 0, failures(second)
    assert total_changed(second) == 0, changed_tasks(second)

    check = site(run_playbook, talos_lab, secrets_dir, '--check', '--diff')
    assert check.rc == 0 and total_changed(check) == 0

    # Secrets on disk: 0700 folder, 0600 files.
    assert stat.S_IMODE(os.stat(secrets_dir).st_mode) == 0o700
    for name in ('secrets.yaml', 'talosconfig', 'reader.talosconfig', 'kubeconfig', 'configs/vps-0.yaml'):
        assert stat.S_IMODE(os.stat(os.path.join(secrets_dir, name)).st_mode) == 0o600, name
    # The checks read with a certificate that holds os:reader and nothing more.
    assert talosconfig_roles(os.path.join(secrets_dir, 'reader.talosconfig')) == ['os:reader']
    assert talosconfig_roles(os.path.join(secrets_dir, 'talosconfig')) == ['os:admin']


def talosconfig_roles(path):
    with open(path, encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    crt = x509.load_pem_x509_certificate(base64.b64decode(config['contexts'][config['context']]['crt']))
    return [attr.value for attr in crt.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def test_the_health_tag_runs_only_the_checks(run_playbook, talos_lab, secrets_dir, converged):
    run = site(run_playbook, talos_lab, secrets_dir, '--tags', 'health')
    assert run.rc == 0, failures(run)
    ran = {task['task']['name'].split(' : ')[-1] for play in run.data['plays'] for task in play['tasks'] if task['hosts']}
    assert {'Check that every etcd member is healthy', 'Check that every KubeSpan link between the nodes is up'} <= ran
    # The scratch kubeconfig's removal runs with the checks that use it (skipped here: the lab keeps a kubeconfig).
    checks = ('Validating arguments', 'Check ', 'Show ', 'Write the reader talosconfig', 'Remove the scratch kubeconfig')
    assert not [name for name in ran if not name.startswith(checks)], ran
    mesh = run_once_result(run, 'Check that every KubeSpan link between the nodes is up')
    assert mesh['healthy'] and mesh['checks'] == 1 and total_changed(run) == 0


def test_the_mesh_check_runs_alone_read_only(run_playbook, talos_lab, secrets_dir, converged):
    # Two readings 35 s apart: the lab refreshes the counters every 30 s, as Talos does.
    run = run_playbook(os.path.join(ROOT, 'playbooks', 'kubespan.yml'), '-e', '@' + LAB_VARS,
                       '-e', 'talos_cluster_secrets_dir=' + secrets_dir, '-e', 'talos_cluster_kubespan_samples=2',
                       inventory=talos_lab.inventory)
    assert run.rc == 0, failures(run)
    mesh = run_once_result(run, 'Check that every KubeSpan link between the nodes is up')
    assert mesh['healthy'] and mesh['counts']['pairs_up'] == 20 and total_changed(run) == 0
    assert mesh['duration'] >= 35 and all(p['receive_delta'] > 0 and p['transmit_delta'] > 0 for p in mesh['pairs'])
    skipped = run_playbook(os.path.join(ROOT, 'playbooks', 'kubespan.yml'), '-e', '@' + LAB_VARS,
                           '-e', 'talos_cluster_secrets_dir=' + secrets_dir, '-e', 'talos_cluster_kubespan_check=false',
                           inventory=talos_lab.inventory)
    assert skipped.rc == 0 and run_once_result(skipped, 'Check that every KubeSpan link between the nodes is up').get('skipped')


def test_bootstrap_twice_is_a_no_op(run_playbook, talos_lab, secrets_dir, converged):
    run = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_bootstrap', {
        'node': talos_lab.address('vps-1'), 'control_planes': [talos_lab.address(n) for n in ('vps-0', 'vps-1', 'home-cp-0')],
        'talosconfig': os.path.join(secrets_dir, 'talosconfig')})
    assert run.rc == 0, run.stdout[-3000:]
    result = run.result('task')
    assert result['changed'] is False and len(result['members']) == 3


def test_module_defaults_of_the_talos_group_reach_every_talos_api_module(run_playbook, talos_lab, secrets_dir, converged,
                                                                         tmp_path):
    """One module_defaults block gives every module of group/hybridops.talos.talos its talosconfig and timeout."""
    planes = [talos_lab.address(name) for name in ('vps-0', 'vps-1', 'home-cp-0')]
    apply = apply_args(talos_lab, secrets_dir)
    del apply['talosconfig']
    tasks = [
        {'name': 'etcd', 'hybridops.talos.talos_etcd_info': {'nodes': planes, 'wait': False}},
        {'name': 'bootstrap', 'hybridops.talos.talos_bootstrap': {'node': planes[0], 'control_planes': planes}},
        {'name': 'kubeconfig', 'hybridops.talos.talos_kubeconfig': {'node': planes[0], 'dest': str(tmp_path / 'kubeconfig')}},
        {'name': 'apply', 'hybridops.talos.talos_machineconfig': apply},
        {'name': 'mesh', 'hybridops.talos.kubespan_verify': {
            'nodes': [{'name': name, 'address': node['address']} for name, node in talos_lab.nodes.items()],
            'wait': False, 'report_only': True}},
    ]
    defaults = {'group/hybridops.talos.talos': {'talosconfig': os.path.join(secrets_dir, 'talosconfig'), 'timeout': 20}}
    # No TALOSCONFIG and no ~/.talos/config: without the defaults, no module would find credentials.
    env = {'HOME': str(tmp_path), 'TALOSCONFIG': ''}
    plays = [{'name': 'defaults', 'hosts': 'localhost', 'gather_facts': False, 'module_defaults': defaults, 'tasks': tasks},
             {'name': 'no defaults', 'hosts': 'localhost', 'gather_facts': False,
              'tasks': [dict(tasks[0], name='etcd without defaults', ignore_errors=True)]}]
    run = run_playbook(plays, inventory=talos_lab.inventory, env=env)
    assert [run.result(task['name']).get('failed') for task in tasks] == [None] * len(tasks), run.failures()
    assert run.result('etcd')['bootstrapped'] is True and len(run.result('etcd')['members']) == 3
    assert run.result('bootstrap')['changed'] is False and run.result('apply')['changed'] is False
    assert run.result('kubeconfig')['changed'] is True and run.result('mesh')['counts']['nodes'] == 5
    alone = run.result('etcd without defaults')
    assert alone['failed'] and alone['failure']['reason'] == 'bad_talosconfig'
    assert 'cannot read the talosconfig %s/.talos/config' % tmp_path in alone['msg']


def test_the_checks_honour_talosconfig_when_the_role_is_given_no_path(run_playbook, talos_lab, secrets_dir, converged, tmp_path):
    """The role's health checks read $TALOSCONFIG when talos_cluster_reader_talosconfig is not set."""
    elsewhere = str(tmp_path / 'mine' / 'reader.talosconfig')
    os.makedirs(os.path.dirname(elsewhere), mode=0o700)
    with open(os.path.join(secrets_dir, 'reader.talosconfig'), 'rb') as source, open(elsewhere, 'wb') as target:
        target.write(source.read())
    os.chmod(elsewhere, 0o600)
    run = site(run_playbook, talos_lab, secrets_dir, '--tags', 'health', '-e', 'talos_cluster_kubespan_check=false',
               env={'TALOSCONFIG': elsewhere})
    assert run.rc == 0, failures(run)
    # Whatever $TALOSCONFIG holds is what the checks use: a talosconfig whose certificate expired fails at once.
    other = expired_talosconfig(os.path.join(secrets_dir, 'secrets.yaml'), str(tmp_path / 'expired.talosconfig'))
    refused = site(run_playbook, talos_lab, secrets_dir, '--tags', 'health', '-e', 'talos_cluster_kubespan_check=false',
                   env={'TALOSCONFIG': other})
    assert refused.rc != 0
    etcd = run_once_result(refused, 'Check that every etcd member is healthy')
    assert 'expired on' in etcd['msg'] and etcd['duration'] < 30, etcd['msg']


def test_the_apply_stage_stops_when_it_cannot_tell_whether_etcd_runs(run_playbook, talos_lab, secrets_dir, converged, tmp_path):
    """An answer that proves nothing (here a client certificate that expired) stops the play before any apply."""
    expired = expired_talosconfig(os.path.join(secrets_dir, 'secrets.yaml'), str(tmp_path / 'expired.talosconfig'))
    run = site(run_playbook, talos_lab, secrets_dir, '--tags', 'apply', '-e', 'talos_cluster_talosconfig=' + expired)
    assert run.rc != 0
    probe = run_once_result(run, 'Find out whether etcd runs already')
    assert probe['failed'] and probe['failure']['reason'] == 'client_cert_expired', probe
    applied = [task['task']['name'] for play in run.data['plays'] for task in play['tasks']
               if 'apply the machine config' in task['task']['name'] and any(not r.get('skipped') for r in task['hosts'].values())]
    assert applied == [] and total_changed(run) == 0, applied


def test_snapshot_through_the_client_is_accepted_by_etcdctl(talos_lab, secrets_dir, converged, tmp_path):
    client = TalosClient.from_talosconfig(talos_lab.address('vps-0'), os.path.join(secrets_dir, 'talosconfig'))
    path = tmp_path / 'etcd.snapshot'
    with open(path, 'wb') as sink:
        size = client.etcd_snapshot(sink)
    assert size > 0 and path.stat().st_size == size
    env = dict(os.environ, ETCDCTL_API='3')
    proc = subprocess.run(['etcdctl', 'snapshot', 'status', str(path), '-w', 'json'], capture_output=True, text=True,
                          env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert '"totalKey"' in proc.stdout


def test_kubeconfig_is_not_rewritten_when_still_good(run_playbook, talos_lab, secrets_dir, converged):
    kubeconfig = os.path.join(secrets_dir, 'kubeconfig')
    before = open(kubeconfig, 'rb').read()
    args = {'node': talos_lab.address('vps-0'), 'talosconfig': os.path.join(secrets_dir, 'talosconfig'), 'dest': kubeconfig}
    run = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_kubeconfig', args, '--diff')
    assert run.rc == 0 and run.result('task')['changed'] is False
    assert open(kubeconfig, 'rb').read() == before
    forced = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_kubeconfig', dict(args, force=True), '--diff')
    result = forced.result('task')
    assert result['changed'] is True and result['server'].startswith('https://')
    assert 'client-key-data: <redacted>' in result['diff']['after']
    assert 'PRIVATE KEY' not in forced.stdout


def apply_args(lab, secrets_dir, node='vps-1', **overrides):
    args = {'state': 'applied', 'node': lab.address(node), 'talosconfig': os.path.join(secrets_dir, 'talosconfig'),
            'secrets': os.path.join(secrets_dir, 'secrets.yaml'), 'role': 'controlplane', 'cluster_name': 'lab',
            'cluster_endpoint': lab.kubernetes_endpoint, 'talos_version': 'v1.9.6',
            'kubernetes_version': '1.32.3', 'hostname': node, 'site': 'vps', 'cert_sans': [lab.address(node)],
            'wait_timeout': 60, 'cilium': {'install': True}}  # as site.yml renders a control plane of a cluster it built
    args.update(overrides)
    return args


def test_apply_is_idempotent_and_check_mode_shows_the_redacted_diff(run_playbook, talos_lab, secrets_dir, converged):
    same = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_machineconfig', apply_args(talos_lab, secrets_dir))
    assert same.rc == 0 and same.result('task')['changed'] is False, same.stdout[-3000:]
    label = {'node_labels': {'hybridops.io/test': 'diff'}}
    check = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_machineconfig',
                        apply_args(talos_lab, secrets_dir, **label), '--check', '--diff')
    result = check.result('task')
    assert result['changed'] is True and 'hybridops.io/test' in result['diff']['prepared']
    again = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_machineconfig', apply_args(talos_lab, secrets_dir))
    assert again.result('task')['changed'] is False, 'check mode changed the node'


def test_no_secret_reaches_the_output_of_an_apply(run_playbook, talos_lab, secrets_dir, converged):
    """A real change with --diff at -vvvv, and a failing apply: no value of the bundle shows anywhere."""
    with open(os.path.join(secrets_dir, 'secrets.yaml'), encoding='utf-8') as handle:
        canaries = {value for value in secret_values(yaml.safe_load(handle)) if len(value) >= 8}
    assert len(canaries) > 10
    label = apply_args(talos_lab, secrets_dir, node_labels={'hybridops.io/test': 'canary'})
    runs = [module_task(run_playbook, talos_lab, 'hybridops.talos.talos_machineconfig', label, '--diff', '-vvvv', json_output=False),
            module_task(run_playbook, talos_lab, 'hybridops.talos.talos_machineconfig', apply_args(talos_lab, secrets_dir),
                        '--diff', '-vvvv', json_output=False),
            module_task(run_playbook, talos_lab, 'hybridops.talos.talos_machineconfig',
                        dict(label, talos_version='v1.13.9', contract='v1.13'), '--diff', '-vvvv', json_output=False)]
    assert [run.rc == 0 for run in runs] == [True, True, False]
    for run in runs:
        leaked = [value[:12] + '...' for value in canaries if value in run.stdout or value in run.stderr]
        assert not leaked, leaked
    assert '<redacted>' in runs[0].stdout


def expired_talosconfig(secrets_path, dest):
    """A talosconfig whose os:admin client certificate, signed by the cluster's OS CA, expired yesterday."""
    with open(secrets_path, encoding='utf-8') as handle:
        os_ca = yaml.safe_load(handle)['certs']['os']
    ca_cert = x509.load_pem_x509_certificate(base64.b64decode(os_ca['crt']))
    ca_key_pem = base64.b64decode(os_ca['key']).replace(b'ED25519 PRIVATE KEY', b'PRIVATE KEY')
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = ed25519.Ed25519PrivateKey.generate()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'os:admin')]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30)).not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, None))

    def b64(data):
        return base64.b64encode(data).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    context = {'endpoints': [], 'ca': os_ca['crt'], 'crt': b64(cert.public_bytes(serialization.Encoding.PEM)),
               'key': b64(key_pem.replace(b'PRIVATE KEY', b'ED25519 PRIVATE KEY'))}
    with open(dest, 'w', encoding='utf-8') as handle:
        yaml.safe_dump({'context': 'expired', 'contexts': {'expired': context}}, handle)
    os.chmod(dest, 0o600)
    return dest


FAILURES = [
    ('reader', 'needs one of os:admin'),
    ('wrong_ca', 'trusts another OS CA than the secrets bundle'),
    ('expired', 'expired on'),
    ('unreachable', 'cannot connect to 198.18.11.99:50000'),
    ('newer_contract', 'unknown keys'),
]


@pytest.mark.parametrize('case,message', FAILURES, ids=[c for c, _m in FAILURES])
def test_failures_are_named_and_change_nothing(run_playbook, talos_lab, secrets_dir, converged, tmp_path, case, message):
    args = apply_args(talos_lab, secrets_dir, node_labels={'hybridops.io/test': case})
    if case == 'reader':
        reader = str(tmp_path / 'reader.talosconfig')
        made = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_talosconfig', {
            'secrets': args['secrets'], 'dest': reader, 'role': 'os:reader', 'endpoints': [talos_lab.address('vps-0')]})
        assert made.rc == 0, made.stdout[-2000:]
        args['talosconfig'] = reader
    elif case == 'wrong_ca':
        other = str(tmp_path / 'other')
        for module, module_args in (('hybridops.talos.talos_secrets', {'path': other + '/secrets.yaml'}),
                                    ('hybridops.talos.talos_talosconfig', {'secrets': other + '/secrets.yaml', 'dest': other + '/talosconfig',
                                                                           'endpoints': [talos_lab.address('vps-0')]})):
            assert module_task(run_playbook, talos_lab, module, module_args).rc == 0
        args['talosconfig'] = other + '/talosconfig'
    elif case == 'expired':
        args['talosconfig'] = expired_talosconfig(args['secrets'], str(tmp_path / 'expired.talosconfig'))
    elif case == 'unreachable':
        args['node'] = '198.18.11.99'
        args['timeout'] = 2
    elif case == 'newer_contract':
        args.update(talos_version='v1.13.9', contract='v1.13')
    run = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_machineconfig', args)
    assert run.rc != 0
    result = run.result('task')
    assert message in result['msg'], result['msg']
    again = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_machineconfig', apply_args(talos_lab, secrets_dir))
    assert again.result('task')['changed'] is False


def test_a_rerun_while_the_node_reboots_converges(run_playbook, talos_lab, secrets_dir, converged):
    changed = apply_args(talos_lab, secrets_dir, node_labels={'hybridops.io/test': 'reboot'}, apply_mode='reboot', wait=False)
    first = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_machineconfig', changed)
    assert first.rc == 0 and first.result('task')['mode'] == 'reboot', first.stdout[-2000:]
    # The node is rebooting now; the rerun retries until it answers, then finds nothing left to do.
    rerun = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_machineconfig', dict(changed, wait=True))
    assert rerun.rc == 0, rerun.stdout[-2000:]
    assert rerun.result('task')['changed'] is False
    back = module_task(run_playbook, talos_lab, 'hybridops.talos.talos_machineconfig', apply_args(talos_lab, secrets_dir))
    assert back.rc == 0 and back.result('task')['changed'] is True
