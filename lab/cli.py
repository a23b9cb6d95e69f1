"""``python -m lab up|down|status``: start, stop and show the lab's stand-ins and Talos nodes.

``up`` starts each stand-in as a background process on loopback, waits until it answers, starts the
Talos nodes (lab/talos/cli_hooks.py), and writes ``.lab/env`` and ``.lab/hybrid.yml``. It is all or
nothing: when a step fails, ``up`` stops whatever it started, says what failed and keeps only the
logs. Running ``up`` again while the whole lab runs reuses it (and restarts nodes that were powered
off); over a lab of which only part runs (a stand-in died), it removes the rest and starts afresh.
``down`` stops what ``up`` started (pid files under ``.lab/``) and removes ``.lab/``.
"""
import argparse
import errno
import ipaddress
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid

from . import ROOT, files, pki, process, state
from .hcloud import openapi_missing
from .talos import cli_hooks as talos_hooks

SERVICES = (('hcloud', 'lab.hcloud'), ('pve', 'lab.pve'), ('files', 'lab.files'))
READY_TIMEOUT = 60
STOP_TIMEOUT = 10


class LabError(Exception):
    """Something the operator must fix; the message says what."""


def _env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value else default


def parser():
    top = argparse.ArgumentParser(prog='python -m lab', description='Local lab: stand-ins for Hetzner Cloud and Proxmox VE.')
    commands = top.add_subparsers(dest='command', required=True)
    up = commands.add_parser('up', help='start the stand-ins and write .lab/env and .lab/hybrid.yml')
    up.add_argument('--host', default=os.environ.get('LAB_HOST', '127.0.0.1'), help='loopback address to listen on')
    up.add_argument('--hcloud-port', type=int, default=_env_int('LAB_HCLOUD_PORT', 18080))
    up.add_argument('--pve-port', type=int, default=_env_int('LAB_PVE_PORT', 18006))
    up.add_argument('--files-port', type=int, default=_env_int('LAB_FILES_PORT', 0),
                    help='port of the release-download server (0: a free one)')
    up.add_argument('--hcloud-servers', type=int, default=0, metavar='N', help='extra Hetzner servers lab-hc-NNN')
    up.add_argument('--pve-vms', type=int, default=0, metavar='N', help='extra Proxmox VMs lab-pve-NNN')
    up.add_argument('--validate', action='store_true', default=os.environ.get('LAB_HCLOUD_VALIDATE') == '1',
                    help='check every Hetzner request and response against the OpenAPI description')
    up.add_argument('--action-seconds', type=float, default=0.2, help='how long a Hetzner action runs')
    up.add_argument('--rate-limit', type=int, default=3600, help='Hetzner rate-limit bucket size')
    up.add_argument('--rate-refill', type=float, default=1.0, help='Hetzner rate-limit refill per second')
    up.add_argument('--pve-time-scale', type=float, default=0.0,
                    help='real seconds per PVE second for task durations (0: tasks finish at once)')
    up.add_argument('--empty', action='store_true', default=os.environ.get('LAB_EMPTY') == '1',
                    help='no seed machines: the stand-ins start empty and the Talos nodes follow what the APIs '
                         'create, start, stop and delete [LAB_EMPTY=1]')
    up.add_argument('--hcloud-ipv4-pool', default=os.environ.get('LAB_HCLOUD_IPV4_POOL') or None, metavar='NETWORK',
                    help='hand out public IPv4 addresses from this network first (a second lab) [LAB_HCLOUD_IPV4_POOL]')
    talos_hooks.add_arguments(up)
    commands.add_parser('down', help='stop the stand-ins and remove .lab/')
    commands.add_parser('status', help='show what runs')
    talos_hooks.add_commands(commands)  # fault, heal (docs/lab-kubespan.md)
    return top


# ----------------------------------------------------------------------------- processes

def _pid(name):
    try:
        with open(state.path(name + '.pid'), encoding='ascii') as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _running(pid, module):
    """True if ``pid`` is alive and is our ``python -m module`` (not a recycled pid)."""
    if not pid:
        return False
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            argv = handle.read().split(b'\0')
    except OSError:
        return False
    return module.encode() in argv


def _port_free(host, port):
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
        return True
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    finally:
        probe.close()


def _spawn(name, module, config_path):
    log = os.fdopen(os.open(state.path(name + '.log'), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), 'ab')
    try:
        proc = subprocess.Popen([sys.executable, '-m', module, config_path], cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()
    state.write_private(name + '.pid', '%d\n' % proc.pid)
    return proc


def _log_tail(name, lines=15):
    try:
        with open(state.path(name + '.log'), encoding='utf-8', errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:])
    except OSError:
        return ''


def _wait_ready(name, proc, probe):
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError('the %s stand-in exited with status %s while starting:\n%s' % (name, proc.returncode, _log_tail(name)))
        try:
            probe()
            return
        except OSError:
            time.sleep(0.1)
    raise LabError('the %s stand-in did not answer within %d s; see %s' % (name, READY_TIMEOUT, state.path(name + '.log')))


def _stop(pid):
    """SIGTERM the process group ``up`` started, then SIGKILL what is left after STOP_TIMEOUT."""
    process.stop_group(pid, STOP_TIMEOUT)


# ----------------------------------------------------------------------------- probes

def _hcloud_probe(config):
    def probe():
        url = 'http://%s:%d/__lab__/health' % (config['host'], config['port'])
        with urllib.request.urlopen(url, timeout=2) as response:
            response.read()
    return probe


def _files_probe(config):
    def probe():
        with urllib.request.urlopen('http://%s:%d/__lab__/health' % (config['host'], config['port']), timeout=2) as response:
            response.read()
    return probe


def _pve_probe(config, ca_file):
    context = ssl.create_default_context(cafile=ca_file)
    token_id, secret = next((k, v) for k, v in config['tokens'].items() if k.startswith('root@pam!'))

    def probe():
        request = urllib.request.Request('https://%s:%d/api2/json/version' % (config['host'], config['port']),
                                         headers={'Authorization': 'PVEAPIToken=%s=%s' % (token_id, secret)})
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            response.read()
    return probe


# ----------------------------------------------------------------------------- env

def build_env(hcloud, pve, downloads=None):
    """The ``.lab/env`` contract from the stand-ins' configs."""
    tokens = dict((mode, token) for token, mode in hcloud['tokens'].items())
    (root_id, root_secret), = [(k, v) for k, v in pve['tokens'].items() if k.startswith('root@pam!')]
    (aud_id, aud_secret), = [(k, v) for k, v in pve['tokens'].items() if k.startswith(pve['auditor'] + '!')]
    env = {
        'HCLOUD_ENDPOINT': 'http://%s:%d/v1' % (hcloud['host'], hcloud['port']),
        'HCLOUD_TOKEN': tokens['rw'],
        'HCLOUD_TOKEN_READONLY': tokens['ro'],
        'PROXMOX_URL': 'https://%s:%d' % (pve['host'], pve['port']),
        'PROXMOX_HOST': pve['host'],
        'PROXMOX_PORT': str(pve['port']),
        'PROXMOX_USER': 'root@pam',
        'PROXMOX_TOKEN_ID': root_id.partition('!')[2],
        'PROXMOX_TOKEN_SECRET': root_secret,
        'PROXMOX_AUDITOR_USER': pve['auditor'],
        'PROXMOX_AUDITOR_TOKEN_ID': aud_id.partition('!')[2],
        'PROXMOX_AUDITOR_TOKEN_SECRET': aud_secret,
        'PROXMOX_CA_FILE': state.path('ca.crt'),
        'LAB_HCLOUD_CONTROL': 'http://%s:%d/__lab__' % (hcloud['host'], hcloud['port']),
    }
    if downloads:
        env.update(files.env(downloads['host'], downloads['port']))
    return env


def _listen(host):
    """Where the stand-ins listen: a loopback host means every address, so that the lab's nodes (pods' CSI
    controllers) reach them through their gateway, the machine itself; .lab/env keeps naming ``host``."""
    try:
        return '0.0.0.0' if ipaddress.ip_address(host).is_loopback else host
    except ValueError:
        return host


def _configs(args):
    hcloud = {'host': args.host, 'listen': _listen(args.host), 'port': args.hcloud_port, 'servers': args.hcloud_servers,
              'tokens': {secrets.token_hex(32): 'rw', secrets.token_hex(32): 'ro'},
              'action_seconds': args.action_seconds, 'rate_limit': args.rate_limit, 'refill': args.rate_refill,
              'validate': args.validate, 'empty': args.empty, 'ipv4_pool': args.hcloud_ipv4_pool}
    pve = {'host': args.host, 'listen': _listen(args.host), 'port': args.pve_port, 'vms': args.pve_vms, 'time_scale': args.pve_time_scale,
           'empty': args.empty,
           'password': secrets.token_urlsafe(18), 'auditor': 'auditor@pve',
           'tokens': {'root@pam!lab': str(uuid.uuid4()), 'auditor@pve!inventory': str(uuid.uuid4())},
           'cert': state.path('pve.crt'), 'key': state.path('pve.key')}
    downloads = {'host': args.host, 'port': args.files_port or _free_port(args.host)}
    return hcloud, pve, downloads


def _free_port(host):
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# ----------------------------------------------------------------------------- commands

def _require_root(command):
    if os.geteuid() != 0:
        raise LabError('the lab needs root (its node stand-ins are to run in network namespaces): '
                       'run it as root, e.g. sudo .venv/bin/python -m lab %s' % command)


def _running_stand_ins():
    return [name for name, module in SERVICES if _running(_pid(name), module)]


def _stop_stand_ins():
    """Stop the stand-ins whose pid file names a live one; return 'name (pid N)' for each."""
    stopped = []
    for name, module in SERVICES:
        pid = _pid(name)
        if _running(pid, module):
            _stop(pid)
            stopped.append('%s (pid %d)' % (name, pid))
    return stopped


def _teardown(keep_logs=False):
    """Stop every node and stand-in of this lab and remove its state; return (nodes, stand-ins) stopped."""
    nodes = talos_hooks.down()
    stand_ins = _stop_stand_ins()
    state.remove(keep_logs=keep_logs)
    return nodes, stand_ins


def _mode(empty):
    return 'started empty, its nodes follow the APIs' if empty else 'has the seed machines'


def _reuse(args):
    """The running lab's (hcloud, pve) configs when all of it runs; a partly running lab is removed first."""
    running = _running_stand_ins()
    hcloud, pve, downloads = state.read_json('hcloud.json'), state.read_json('pve.json'), state.read_json('files.json')
    if len(running) == len(SERVICES) and hcloud and pve and downloads and bool(hcloud.get('empty')) != args.empty:
        print('lab: the running lab %s; replacing it with one that %s' % (_mode(hcloud.get('empty')), _mode(args.empty)),
              file=sys.stderr)
        _teardown()
        return None
    if len(running) == len(SERVICES) and hcloud and pve and downloads:
        print('lab already running (%s; hcloud servers +%d, pve vms +%d); rewriting %s and %s'
              % (_mode(hcloud.get('empty')), hcloud['servers'], pve['vms'], state.path('env'), state.path('hybrid.yml')))
        if (args.hcloud_servers, args.pve_vms) != (hcloud['servers'], pve['vms']):
            print('lab: the running lab keeps its seed; run `python -m lab down` first to seed +%d servers, +%d VMs'
                  % (args.hcloud_servers, args.pve_vms), file=sys.stderr)
        return hcloud, pve, downloads
    nodes = talos_hooks.recorded_nodes()
    if running or nodes:
        found = ['%s %s' % (name, 'running' if name in running else 'not running') for name, _module in SERVICES]
        if nodes:
            found.append('Talos nodes: %d of %d running' % nodes)
        print('lab: the lab is partly running (%s); removing it and starting afresh' % ', '.join(found), file=sys.stderr)
        _teardown()
    return None


def _start_stand_ins(args):
    """Start both stand-ins and wait until they answer; on any failure stop the ones started and raise."""
    for label, port in (('--hcloud-port', args.hcloud_port), ('--pve-port', args.pve_port), ('--files-port', args.files_port)):
        if port and not _port_free(args.host, port):
            raise LabError('port %d on %s is already in use; pick another with %s' % (port, args.host, label))
    hcloud, pve, downloads = _configs(args)
    ca_crt, ca_key = pki.make_ca(state.ensure_dir())
    pki.issue(state.STATE_DIR, 'pve', (args.host, 'localhost'), ca_crt, ca_key)
    procs = []
    try:
        for (name, module), config, probe in (
                (SERVICES[0], hcloud, _hcloud_probe(hcloud)), (SERVICES[1], pve, _pve_probe(pve, ca_crt)),
                (SERVICES[2], downloads, _files_probe(downloads))):
            config_path = state.write_json(name + '.json', config)
            procs.append((name, module, _spawn(name, module, config_path), probe))
        for name, _module, proc, probe in procs:
            _wait_ready(name, proc, probe)
    except BaseException:
        for _name, _module, proc, _probe in procs:
            _stop(proc.pid)
        raise
    return hcloud, pve, downloads


def up(args):
    _require_root('up')
    if args.validate and openapi_missing():
        raise LabError('--validate: %s' % openapi_missing())
    state.ensure_dir()
    started = time.monotonic()
    reused = _reuse(args)
    try:
        if reused:
            hcloud, pve, downloads = reused
        else:
            hcloud, pve, downloads = _start_stand_ins(args)
            seeded = 0 if args.empty else 1
            print('lab up in %.1f s: hcloud http://%s:%d/v1 (%d servers), proxmox https://%s:%d (%d VMs)'
                  % (time.monotonic() - started, hcloud['host'], hcloud['port'], seeded * (2 + args.hcloud_servers),
                     pve['host'], pve['port'], seeded * (3 + args.pve_vms)))
        record = talos_hooks.up(args)
        env = build_env(hcloud, pve, downloads)
        state.write_env(env)
        state.write_hybrid(env)
        if record:
            talos_hooks.append_env(record)
    except BaseException as exc:
        if reused:  # the nodes clean up after themselves; the stand-ins were running before and stay
            if isinstance(exc, talos_hooks.NodesError):
                raise LabError(str(exc)) from None
            raise
        _nodes, stand_ins = _teardown(keep_logs=True)  # the nodes' own failure path has stopped them already
        if not isinstance(exc, (LabError, talos_hooks.NodesError)):
            raise
        raise LabError('%s\nlab: `up` failed, so it stopped everything it had started (stand-ins: %s; and any Talos '
                       'node, namespace and bridge); the logs stay in %s'
                       % (exc, ', '.join(stand_ins) or 'none', state.STATE_DIR)) from None
    print('lab env in %s' % state.path('env'))
    return 0


def down(_args):
    _require_root('down')
    nodes, stand_ins = _teardown()
    if nodes:
        print('talos nodes stopped: %s' % ', '.join(nodes))
    print('lab down: stopped %s; removed %s' % (', '.join(stand_ins) or 'nothing', state.STATE_DIR))
    return 0


def status(_args):
    hcloud, pve, downloads = state.read_json('hcloud.json'), state.read_json('pve.json'), state.read_json('files.json')
    urls = {'hcloud': hcloud and 'http://%s:%d/v1' % (hcloud['host'], hcloud['port']),
            'pve': pve and 'https://%s:%d' % (pve['host'], pve['port']),
            'files': downloads and 'http://%s:%d' % (downloads['host'], downloads['port'])}
    running = 0
    for name, module in SERVICES:
        pid = _pid(name)
        if _running(pid, module):
            running += 1
            print('%-7s running  pid %-7d %s' % (name, pid, urls[name]))
        else:
            print('%-7s stopped' % name)
    print('env: %s' % (state.path('env') if os.path.exists(state.path('env')) else 'none'))
    return 0 if running == len(SERVICES) else 3


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        if args.command in talos_hooks.COMMANDS:
            return talos_hooks.run_command(args)
        if args.command == 'status':
            return talos_hooks.status_code(status(args))
        return {'up': up, 'down': down}[args.command](args)
    except LabError as exc:
        print('lab: %s' % exc, file=sys.stderr)
        return 1
