"""The ``hybridops.talos.hybrid`` inventory against the lab: real ansible-inventory, the real hcloud
client and the plugin's own HTTPS client for Proxmox VE, the Hetzner stand-in and fakepve."""
import datetime
import ipaddress
import json
import os

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connect_proxy import ConnectProxy
from inventory_helpers import SEED, free_port, hcloud_env, pve_env

pytestmark = pytest.mark.lab

SOURCE = {'plugin': 'hybridops.talos.hybrid'}


def assert_seed(listing):
    """The lab's seed hosts are listed with their groups and Talos variables."""
    assert listing.rc == 0, listing.stderr
    for name, (role, site) in SEED.items():
        assert name in listing.hosts('talos_%s' % role), name
        assert name in listing.hosts('site_%s' % site), name
        hostvars = listing.hostvars[name]
        assert (hostvars['talos_role'], hostvars['talos_site']) == (role, site)
        assert hostvars['ansible_host'] == hostvars['talos_node_ip']
        assert hostvars['ansible_connection'] == 'local'
        assert hostvars['ansible_python_interpreter'] == '{{ ansible_playbook_python }}'


def test_merged_inventory_from_awx_style_environment_credentials(lab_env, list_inventory):
    listing = list_inventory(SOURCE, env=dict(hcloud_env(lab_env, readonly=False), **pve_env(lab_env, auditor=False)))
    assert_seed(listing)
    assert not listing.hosts('talos_controlplane') & listing.hosts('talos_worker')
    vps = listing.hostvars['vps-0']
    assert vps['hcloud_labels']['talos-role'] == 'controlplane'
    assert isinstance(vps['hcloud_id'], int) and vps['hcloud_type'] and vps['hcloud_location']
    assert vps['hcloud_status'] == 'running'
    assert not any(key.startswith('proxmox_') for key in vps)
    worker = listing.hostvars['home-w-0']
    # The address is the static cloud-init ipconfig0 (the guest agent does not answer in the lab).
    assert (worker['ansible_host'], worker['talos_private_ips']) == ('10.10.0.20', ['10.10.0.20'])
    assert (worker['proxmox_vmid'], worker['proxmox_node'], worker['proxmox_status']) == (102, 'pve1', 'running')
    assert 'talos-worker' in worker['proxmox_tags']
    assert listing.hostvars['home-w-1']['proxmox_node'] == 'pve2'
    # Where a node runs, for its topology labels: the PVE cluster is the Proxmox CSI region, the datacenter the zone.
    assert worker['proxmox_cluster'] == 'lab'
    assert vps['hcloud_datacenter'].startswith(vps['hcloud_location'] + '-dc')
    assert not any(key.startswith('hcloud_') for key in worker)
    # Templates are never hosts.
    assert not [h for h, v in listing.hostvars.items() if 'template' in h]


def test_lab_written_source_lists_the_seed(lab_env, list_inventory):
    """``.lab/hybrid.yml`` (written by ``python -m lab up``) uses this plugin's option names."""
    listing = list_inventory(os.path.join(os.path.dirname(lab_env['PROXMOX_CA_FILE']), 'hybrid.yml'))
    assert_seed(listing)
    # What the APIs said is untrusted (never templated); only the interpreter expression is a template.
    raw = json.loads(listing.stdout[listing.stdout.index('{'):])['_meta']['hostvars']
    for host in ('vps-0', 'home-w-0'):
        assert raw[host]['talos_node_ip'] == {'__ansible_unsafe': listing.hostvars[host]['talos_node_ip']}
        assert raw[host]['ansible_python_interpreter'] == '{{ ansible_playbook_python }}'


def test_read_only_hetzner_token_and_auditor_proxmox_token_are_enough(lab_env, list_inventory, private_hcloud,
                                                                      pve_proxy):
    listing = list_inventory(SOURCE, env=dict(hcloud_env(lab_env), **pve_env(lab_env)))
    assert_seed(listing)
    # Only reads, one list call per page and none "to check the token", so neither token needs more.
    private = list_inventory(SOURCE, env=dict(private_hcloud['env'], **pve_env(lab_env, url=pve_proxy.url)))
    assert {'vps-0', 'vps-1', 'home-w-0'} <= set(private.hostvars), private.stderr
    assert private_hcloud['control'].counters()['endpoints'] == {'GET /servers': 1}
    proxmox_requests = pve_proxy.by_endpoint()
    assert all(key.startswith('GET ') for key in proxmox_requests), proxmox_requests
    assert proxmox_requests['GET /api2/json/cluster/resources'] == 1
    assert proxmox_requests['GET /api2/json/nodes/pve1/qemu/N/config'] >= 2  # home-cp-0, home-w-0


def test_plays_over_talos_hosts_run_on_the_controller_with_its_python(lab_env, run_playbook, tmp_path):
    source = tmp_path / 'lab.hybrid.yml'
    source.write_text('plugin: hybridops.talos.hybrid\n')
    run = run_playbook([{'hosts': 'talos_controlplane', 'gather_facts': False, 'tasks': [
        {'name': 'ping through the local connection', 'ansible.builtin.ping': None},
        {'name': 'show the node address', 'ansible.builtin.debug': {'msg': '{{ talos_node_ip }}'}}]}],
        '--limit', 'vps-0,home-cp-0', inventory=str(source),
        env=dict(hcloud_env(lab_env), **pve_env(lab_env)))
    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.result('ping through the local connection', host='home-cp-0')['ping'] == 'pong'
    assert run.result('show the node address', host='home-cp-0')['msg'] == '10.10.0.10'
    assert run.result('ping through the local connection', host='vps-0')['ping'] == 'pong'


def private_roles(tag):
    """Role tags of this test only, so tests listing the shared lab at the same time never see its VMs."""
    return {'proxmox_controlplane_tag': '%s-cp' % tag, 'proxmox_worker_tag': '%s-w' % tag}


def test_one_vm_without_address_is_a_warning_and_the_rest_is_listed(lab_env, list_inventory, scratch_vms, pve_proxy):
    tag = scratch_vms.tag
    scratch_vms('%s-ok' % tag, '%s-w' % tag, ipconfig0='ip=10.10.9.5/24,gw=10.10.9.1', agent='1', start=True)
    bad = scratch_vms('%s-noaddr' % tag, '%s-w' % tag, ipconfig0='ip=dhcp', agent='1')
    # Running with the agent on and no static address: the one VM the agent is asked about. Like a
    # Talos node in maintenance mode, its agent does not answer.
    silent = scratch_vms('%s-agent' % tag, '%s-w' % tag, agent='1', start=True)
    source = dict(SOURCE, **private_roles(tag))
    listing = list_inventory(source, env=dict(hcloud_env(lab_env), **pve_env(lab_env, url=pve_proxy.url)))
    assert listing.rc == 0, listing.stderr
    assert listing.hostvars['%s-ok' % tag]['ansible_host'] == '10.10.9.5'
    assert '%s-noaddr' % tag not in listing.hostvars and '%s-agent' % tag not in listing.hostvars
    assert 'vps-0' in listing.hostvars
    warning = ' '.join(listing.stderr.split())
    assert "skipping Proxmox VM %d '%s-noaddr' on node pve1 has no address" % (bad, tag) in warning
    assert "skipping Proxmox VM %d '%s-agent' on node pve1: the guest agent did not answer" % (silent, tag) in warning
    agent_calls = dict((k, v) for k, v in pve_proxy.by_endpoint().items() if '/agent/' in k)
    assert agent_calls == {'GET /api2/json/nodes/pve1/qemu/N/agent/network-get-interfaces': 1}

    # The same VM gets its address from the VMID once a subnet says how.
    derived = list_inventory(dict(source, proxmox_vmid_subnet='10.20.0.0/16'),
                             env=dict(hcloud_env(lab_env), **pve_env(lab_env)))
    assert derived.hostvars['%s-noaddr' % tag]['ansible_host'] == str(ipaddress.ip_network('10.20.0.0/16').network_address + bad)


def test_same_name_on_both_backends_is_an_error_naming_both(lab_env, list_inventory, scratch_vms):
    vmid = scratch_vms('vps-0', '%s-w' % scratch_vms.tag, ipconfig0='ip=10.10.9.6/24')
    listing = list_inventory(dict(SOURCE, **private_roles(scratch_vms.tag)),
                             env=dict(hcloud_env(lab_env), **pve_env(lab_env)))
    assert listing.rc != 0
    message = ' '.join(listing.stderr.split())
    assert "host name 'vps-0' is used by both Hetzner server" in message
    assert "Proxmox VM %d 'vps-0' on node pve1" % vmid in message


@pytest.mark.parametrize('backend', ['hcloud', 'proxmox'])
def test_backend_down_is_one_clear_error_naming_backend_and_url(lab_env, list_inventory, backend):
    port = free_port()
    env = dict(hcloud_env(lab_env), **pve_env(lab_env))
    if backend == 'hcloud':
        env['HCLOUD_ENDPOINT'] = url = 'http://127.0.0.1:%d/v1' % port
        expected = 'the Hetzner Cloud API at %s (GET /servers) is unreachable: connection refused' % url
    else:
        env['PROXMOX_URL'] = url = 'https://127.0.0.1:%d' % port
        expected = 'the Proxmox VE API at %s (GET /cluster/resources) is unreachable: connection refused' % url
    listing = list_inventory(SOURCE, env=env)
    assert listing.rc != 0
    assert expected in ' '.join(listing.stderr.split())


def test_a_certificate_from_another_ca_is_refused_and_validate_certs_false_accepts_it(lab_env, list_inventory, tmp_path):
    env = dict(hcloud_env(lab_env), **pve_env(lab_env))
    other_ca = tmp_path / 'other-ca.crt'
    other_ca.write_bytes(_self_signed_ca_pem())
    env['PROXMOX_CA_FILE'] = str(other_ca)
    listing = list_inventory(SOURCE, env=env)
    assert listing.rc != 0
    assert ('the Proxmox VE API at %s (GET /cluster/resources) failed TLS verification; set proxmox_ca_file to the CA '
            'that signed its certificate' % env['PROXMOX_URL']) in ' '.join(listing.stderr.split())
    del env['PROXMOX_CA_FILE']
    env['PROXMOX_VALIDATE_CERTS'] = 'false'
    assert_seed(list_inventory(SOURCE, env=env))


def test_an_https_proxy_from_the_environment_carries_the_proxmox_requests(lab_env, list_inventory):
    env = dict(hcloud_env(lab_env), **pve_env(lab_env))
    with ConnectProxy() as proxy:
        # The Hetzner endpoint is plain http and stays direct (no_proxy), as for requests.
        hcloud_host = env['HCLOUD_ENDPOINT'].split('/')[2].split(':')[0]
        listing = list_inventory(SOURCE, env=dict(env, HTTPS_PROXY=proxy.url.replace('http://', 'http://user:pa%3Ass@'),
                                                  NO_PROXY='example.invalid'))
        tunnels = list(proxy.tunnels)
    assert_seed(listing)
    pve_host = env['PROXMOX_URL'].split('/')[2]
    assert tunnels and {target for target, _auth in tunnels} == {pve_host}, (tunnels, hcloud_host)
    assert {auth for _target, auth in tunnels} == {'Basic dXNlcjpwYTpzcw=='}  # user:pa:ss


def _self_signed_ca_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'another CA')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize('variable, expected', [
    ('HCLOUD_TOKEN', 'Hetzner Cloud API at %(HCLOUD_ENDPOINT)s (GET /servers) refused the token (unauthorized)'),
    ('PROXMOX_TOKEN_SECRET', 'Proxmox VE API at %(PROXMOX_URL)s (GET /cluster/resources) refused the API token (401'),
])
def test_refused_token_is_named_without_being_shown(lab_env, list_inventory, variable, expected):
    env = dict(hcloud_env(lab_env), **pve_env(lab_env))
    env[variable] = 'not-a-valid-secret-0123456789'
    listing = list_inventory(SOURCE, env=env)
    assert listing.rc != 0
    assert expected % env in ' '.join(listing.stderr.split())
    assert 'not-a-valid-secret' not in listing.stderr + listing.stdout


def test_hetzner_429_storm_within_the_budget_recovers(list_inventory, private_hcloud):
    control = private_hcloud['control']
    control.fault('429', count=3, method='GET', path='/servers')
    listing = list_inventory(dict(SOURCE, retries=4, retry_backoff=0.05), env=private_hcloud['env'])
    assert listing.rc == 0, listing.stderr
    assert {'vps-0', 'vps-1'} <= set(listing.hostvars)
    # One list call, three refused tries before it: the budget was spent, not the library's own retries.
    assert control.counters()['endpoints'] == {'GET /servers': 4}


def test_hetzner_429_storm_beyond_the_budget_fails_clearly(list_inventory, private_hcloud):
    control = private_hcloud['control']
    control.fault('429', count=None, method='GET', path='/servers')
    listing = list_inventory(dict(SOURCE, retries=2, retry_backoff=0.05), env=private_hcloud['env'])
    assert listing.rc != 0
    message = ' '.join(listing.stderr.split())
    assert 'the Hetzner Cloud API at %s (GET /servers) still answered rate_limit_exceeded after 2 retries' \
        % private_hcloud['env']['HCLOUD_ENDPOINT'] in message
    assert control.counters()['endpoints'] == {'GET /servers': 3}


def test_proxmox_429_storm_recovers_within_the_budget_and_fails_beyond_it(lab_env, list_inventory, pve_proxy):
    env = pve_env(lab_env, url=pve_proxy.url)
    pve_proxy.fault(429, count=3, path='/config')
    listing = list_inventory(dict(SOURCE, retries=5, retry_backoff=0.05), env=env)
    assert listing.rc == 0, listing.stderr
    assert {'home-cp-0', 'home-w-0', 'home-w-1'} <= set(listing.hostvars)

    pve_proxy.fault(429, count=None, path='/cluster/resources')
    listing = list_inventory(dict(SOURCE, retries=1, retry_backoff=0.05), env=env)
    assert listing.rc != 0
    assert 'the Proxmox VE API at %s (GET /cluster/resources) still answered HTTP 429 after 1 retry' % pve_proxy.url \
        in ' '.join(listing.stderr.split())


def test_cache_hit_makes_no_request_and_refresh_reads_again(lab_env, list_inventory, private_hcloud, pve_proxy,
                                                            tmp_path, run_playbook):
    cache_dir = tmp_path / 'cache'
    source = dict(SOURCE, cache=True, cache_plugin='ansible.builtin.jsonfile', cache_connection=str(cache_dir),
                  cache_timeout=3600)
    env = dict(private_hcloud['env'], **pve_env(lab_env, url=pve_proxy.url))

    def servers_listed():
        return private_hcloud['control'].counters()['total']

    first = list_inventory(source, env=env)
    assert first.rc == 0, first.stderr
    assert pve_proxy.total() > 0

    hc_before = servers_listed()
    pve_proxy.reset()
    hit = list_inventory(source, env=env)
    assert hit.rc == 0, hit.stderr
    assert (servers_listed() - hc_before, pve_proxy.total()) == (0, 0)
    assert hit.hostvars == first.hostvars

    # The cache holds hosts, never a credential.
    cached = ''.join(p.read_text() for p in cache_dir.iterdir())
    assert 'home-w-0' in cached
    for key in ('HCLOUD_TOKEN', 'PROXMOX_TOKEN_SECRET'):
        assert env[key] not in cached

    flushed = list_inventory(source, env=env, args=('--flush-cache',))
    assert flushed.rc == 0, flushed.stderr
    assert servers_listed() - hc_before >= 1 and pve_proxy.total() > 0

    # meta: refresh_inventory inside a play reads the APIs again although the cache is warm.
    pve_proxy.reset()
    source_path = tmp_path / 'test.hybrid.yml'  # the file list_inventory wrote: the cache key includes its path
    run = run_playbook([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'refresh', 'ansible.builtin.meta': 'refresh_inventory'}]}], inventory=str(source_path), env=env)
    assert run.rc == 0, run.stdout[-2000:] + run.stderr[-2000:]
    # Parsing the source at start is a cache hit; only the refresh reaches the APIs.
    assert pve_proxy.by_endpoint().get('GET /api2/json/cluster/resources') == 1
    assert servers_listed() - hc_before == 2  # the --flush-cache run and the refresh


def test_private_network_address_by_network_name_costs_one_lookup(list_inventory, private_hcloud):
    source = dict(SOURCE, hcloud_address='private_ipv4', hcloud_network='lab-net')
    listing = list_inventory(source, env=private_hcloud['env'])
    assert listing.rc == 0, listing.stderr
    for name in ('vps-0', 'vps-1'):
        hostvars = listing.hostvars[name]
        assert hostvars['ansible_host'].startswith('10.0.') and hostvars['ansible_host'] in hostvars['talos_private_ips']
    assert private_hcloud['control'].counters()['endpoints'] == {'GET /networks': 1, 'GET /servers': 1}

    missing = list_inventory(dict(source, hcloud_network='no-such-net'), env=private_hcloud['env'])
    assert missing.rc != 0
    assert "hcloud_network 'no-such-net' does not exist" in missing.stderr


def test_constructed_options_compose_groups_and_keyed_groups(lab_env, list_inventory):
    source = dict(SOURCE, strict=True,
                  compose={'talos_endpoint': "'https://' + talos_node_ip + ':6443'"},
                  groups={'etcd': "talos_role == 'controlplane'"},
                  keyed_groups=[{'key': 'proxmox_node | default("hetzner")', 'prefix': 'node'}])
    listing = list_inventory(source, env=dict(hcloud_env(lab_env), **pve_env(lab_env)))
    assert listing.rc == 0, listing.stderr
    assert listing.hostvars['home-w-0']['talos_endpoint'] == 'https://10.10.0.20:6443'
    assert {'vps-0', 'vps-1', 'home-cp-0'} <= listing.hosts('etcd')
    assert 'home-w-0' not in listing.hosts('etcd')
    assert {'home-cp-0', 'home-w-0'} <= listing.hosts('node_pve1') and 'home-w-1' in listing.hosts('node_pve2')
    assert {'vps-0', 'vps-1'} <= listing.hosts('node_hetzner')
