"""What ``python -m lab up|down|status`` calls for the Talos nodes (kept here so lab/cli.py changes little).

``add_arguments(up_parser)`` adds the options, ``up(args)`` starts the nodes after the Hetzner and
Proxmox stand-ins answer (their addresses are the nodes' addresses) and raises ``NodesError`` when
they cannot start (having stopped its own), ``down()``, ``status()`` and ``recorded_nodes()``.
"""
import os
import subprocess
import sys
import time

from .. import ROOT, process, state
from . import DEFAULT_VERSION, TALOS_VERSIONS, faults, launcher, machines, netns, topology

MACHINES = 'machines'
MACHINES_POLL = float(os.environ.get('LAB_MACHINES_POLL') or 0.3)


class NodesError(Exception):
    """The Talos nodes could not be started; the message says what failed."""


def _float_env(name, default):
    value = os.environ.get(name)
    return float(value) if value else default


def add_arguments(parser):
    group = parser.add_argument_group('Talos nodes (see docs/lab-talos.md)')
    group.add_argument('--talos-nodes', type=int, default=0, metavar='N',
                       help='extra Talos workers on the first N Proxmox scale VMs (needs --pve-vms N)')
    group.add_argument('--talos-version', default=os.environ.get('LAB_TALOS_VERSION', DEFAULT_VERSION), choices=TALOS_VERSIONS,
                       help='Talos version every node simulates')
    group.add_argument('--talos-node-version', action='append', default=[], metavar='NODE=VERSION',
                       help='Talos version of one node, e.g. home-w-1=v1.13.9 (repeatable)')
    group.add_argument('--talos-reboot-seconds', type=float, default=_float_env('LAB_TALOS_REBOOT_SECONDS', 3.0),
                       help='how long a node is unreachable while it reboots')
    group.add_argument('--no-talos', action='store_true', default=os.environ.get('LAB_TALOS') == '0',
                       help='start no Talos nodes [LAB_TALOS=0]')


def up(args):
    """Start the nodes; print one line. Returns the record (or None with --no-talos).

    A lab started ``--empty`` has no seed machines: its nodes follow the APIs (lab/talos/machines.py)."""
    if getattr(args, 'no_talos', False):
        return None
    if getattr(args, 'empty', False):
        return _start_machines(args)
    if state.STATE_DIR != os.path.join(ROOT, '.lab') and not os.environ.get('LAB_NETNS_PREFIX'):
        # The main lab's namespaces, bridges and addresses are taken: a second lab needs its own.
        print('lab: no Talos nodes in this second lab (%s): set LAB_NETNS_PREFIX and LAB_TALOS_REMAP to give it '
              'namespaces and networks of its own' % state.STATE_DIR, file=sys.stderr)
        return None
    try:
        version, versions = topology.parse_versions(args.talos_version, args.talos_node_version)
        record = launcher.up(extra_workers=args.talos_nodes, version=version, versions=versions,
                             reboot_seconds=args.talos_reboot_seconds)
    except (launcher.LaunchError, topology.TopologyError, netns.NetworkError) as exc:
        raise NodesError(str(exc)) from None
    listed = ', '.join('%s %s' % (n['name'], n['address']) for n in record['nodes']) or 'none'
    print('talos nodes: %s; list in %s' % (listed, state.path(launcher.NODES_FILE)))
    return record


# ----------------------------------------------------------------------------- a lab that follows the APIs

def _machines_pid():
    try:
        with open(state.path(MACHINES + '.pid'), encoding='ascii') as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def machines_running():
    """The pid of this lab's hypervisor (lab/talos/machines.py) when it runs, else None."""
    pid = _machines_pid()
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return pid if b'lab.talos.machines' in handle.read() else None
    except (OSError, TypeError):
        return None


def _start_machines(args):
    """Start the hypervisor and wait until it serves the metadata service and wrote the (empty) node record."""
    if machines_running():
        record = launcher.read_nodes()
        print('talos nodes follow the APIs (running: %s)' % (', '.join(n['name'] for n in record['nodes']) or 'none'))
        return record
    hcloud, pve = state.read_json('hcloud.json'), state.read_json('pve.json')
    token_id, secret = next((k, v) for k, v in pve['tokens'].items() if k.startswith('root@pam!'))
    config = {'state_dir': state.STATE_DIR, 'prefix': os.environ.get('LAB_NETNS_PREFIX', 'lab-'),
              'remap': os.environ.get('LAB_TALOS_REMAP', ''), 'version': args.talos_version,
              'reboot_seconds': args.talos_reboot_seconds, 'poll': MACHINES_POLL,
              'hcloud_control': 'http://%s:%d/__lab__' % (hcloud['host'], hcloud['port']),
              'pve': {'host': pve['host'], 'port': pve['port'], 'token_id': token_id, 'secret': secret,
                      'ca': state.path('ca.crt')}}
    if args.talos_node_version:
        raise NodesError('--talos-node-version names seed nodes; a lab started --empty has none (use --talos-version)')
    # Nodes of a hypervisor that died go with their network; their disks stay, and they boot again below.
    launcher.down()
    path = state.write_json(MACHINES + '.json', config)
    log = os.open(state.path(MACHINES + '.log'), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen([sys.executable, '-m', 'lab.talos.machines', path], cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        os.close(log)
    state.write_private(MACHINES + '.pid', '%d\n' % proc.pid)
    deadline = time.monotonic() + launcher.READY_TIMEOUT
    while launcher.read_nodes() is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_machines()
            raise NodesError('the lab hypervisor (lab/talos/machines.py) did not start; see %s'
                             % state.path(MACHINES + '.log'))
        time.sleep(0.05)
    print('talos nodes follow the APIs: a server or VM that runs is a node (%s)' % state.path(MACHINES + '.log'))
    return launcher.read_nodes()


def stop_machines():
    """Stop the hypervisor first, so that it starts nothing while the nodes go; returns True if it ran."""
    pid = machines_running()
    if pid:
        process.stop_group(pid, 10)
    record = launcher.read_nodes()
    if record and record.get('follows_apis'):
        machines.remove_redirect(record['prefix'])
    return bool(pid)


def append_env(record):
    """Add TALOS_LAB_NODES, TALOS_LAB_CONTROLPLANES, TALOS_LAB_WORKERS and TALOS_LAB_NODES_FILE to ``.lab/env``."""
    path = state.path('env')
    if not os.path.exists(path):
        return
    with open(path, encoding='utf-8') as handle:
        lines = [line for line in handle.read().splitlines() if not line.startswith(('TALOS_LAB_', 'KUBECONFIG='))]
    values = dict(launcher.env_lines(record), TALOS_LAB_NODES_FILE=state.path(launcher.NODES_FILE))
    if os.path.exists(state.path('kubeconfig')):  # written by the first control plane whose API came up (lab/kube/apiserver.py)
        values['KUBECONFIG'] = state.path('kubeconfig')
    lines += ['%s=%s' % item for item in sorted(values.items())]
    state.write_private('env', '\n'.join(lines) + '\n')


def recorded_nodes():
    """(running, recorded) node counts of this lab's node record; None when there is no record.

    A lab that follows the APIs counts as running while its hypervisor does (it may have no node yet)."""
    record = launcher.read_nodes()
    if not record:
        return None
    if record.get('follows_apis') and not machines_running():
        return 0, len(record.get('nodes', ())) + 1
    return len(launcher.running(record)), len(record.get('nodes', ()))


def status_code(stand_ins_code):
    """Print the nodes after ``status`` printed the stand-ins; the exit status of both (3: something stopped)."""
    if not status() and stand_ins_code == 0:
        return 3
    return stand_ins_code


COMMANDS = ('fault', 'heal')


def add_commands(commands):
    """``fault ...`` and ``heal`` (faults between the sites, see lab/talos/faults.py)."""
    faults.add_parsers(commands)


def run_command(args):
    return faults.run(args)


def down():
    stop_machines()
    record = launcher.read_nodes()
    if record and record.get('prefix'):
        faults.clear(record)  # the fault table and the delay relay go with the lab
    stopped = launcher.down()
    return stopped


def status():
    """Print the nodes; True when every recorded node runs (or none were started)."""
    record = launcher.read_nodes()
    if not record:
        return True
    lines, healthy = launcher.describe(record)
    if record.get('follows_apis'):
        pid = machines_running()
        lines.insert(0, 'machines %s  nodes follow the APIs' % ('running  pid %-7d' % pid if pid else 'stopped'))
        healthy = healthy and pid is not None
    for line in lines:
        print(line)
    return healthy


def main(argv=None):
    """``python -m lab.talos up|down|status|stop NODE``: the Talos nodes alone (no Hetzner/Proxmox stand-ins needed)."""
    import argparse
    top = argparse.ArgumentParser(prog='python -m lab.talos')
    commands = top.add_subparsers(dest='command', required=True)
    add_arguments(commands.add_parser('up'))
    commands.add_parser('down')
    commands.add_parser('status')
    commands.add_parser('stop', help='power one node off (up starts it again)').add_argument('node')
    add_commands(commands)
    args = top.parse_args(argv)
    if args.command in COMMANDS:
        return run_command(args)
    if args.command == 'up':
        try:
            up(args)
        except NodesError as exc:
            raise SystemExit('lab: %s' % exc) from None
        return 0
    if args.command == 'down':
        print('talos nodes stopped: %s' % (', '.join(down()) or 'none'))
        return 0
    if args.command == 'stop':
        try:
            launcher.stop_node(args.node)
        except launcher.LaunchError as exc:
            raise SystemExit('lab: %s' % exc) from None
        return 0
    return 0 if status() else 3


if __name__ == '__main__':
    sys.exit(main())
