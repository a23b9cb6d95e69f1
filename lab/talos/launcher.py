"""Start and stop the Talos node processes and their network; ``.lab/talos-nodes.json`` says what runs.

Each node runs as ``ip netns exec <ns> python -m lab.talos.node CONFIG.json`` in a process group of
its own (its etcd member is a child in that group), with its files in ``.lab/talos/<node>/`` (0700).
What was made is recorded before it is made, so ``down`` removes it even after a failed ``up``.
"""
import json
import os
import socket
import subprocess
import sys
import time

from .. import ROOT, process, state
from . import netns, topology

NODES_FILE = 'talos-nodes.json'
PORT = 50000
# A node process that ends because its machine powered off (a reset without reboot) leaves this file in its folder.
POWERED_OFF = 'powered-off'
# Seconds the nodes get to listen after they start: more on a slow machine (LAB_TALOS_READY_TIMEOUT).
READY_TIMEOUT = float(os.environ.get('LAB_TALOS_READY_TIMEOUT') or 30)
STOP_TIMEOUT = 5


class LaunchError(Exception):
    """The nodes could not be started or stopped; the message says what to do."""


def talos_dir(state_dir=None):
    return state.path('talos', state_dir=state_dir)


def _private_dir(path):
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def read_nodes(state_dir=None):
    return state.read_json(NODES_FILE, state_dir=state_dir)


def _alive(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return b'lab.talos.node' in handle.read()
    except (OSError, TypeError):
        return False


def _pid(node_dir):
    try:
        with open(os.path.join(node_dir, 'node.pid'), encoding='ascii') as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def running(record, state_dir=None):
    """{node name: pid} of the recorded nodes whose process is alive."""
    result = {}
    for node in (record or {}).get('nodes', ()):
        pid = _pid(os.path.join(talos_dir(state_dir), node['name']))
        if _alive(pid):
            result[node['name']] = pid
    return result


def _spawn(node, config_path, node_dir):
    log = os.open(os.path.join(node_dir, 'node.log'), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(['ip', 'netns', 'exec', node['netns'], sys.executable, '-m', 'lab.talos.node', config_path],
                                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        os.close(log)
    state.write_private('node.pid', '%d\n' % proc.pid, state_dir=node_dir)
    return proc


def _log_tail(node_dir, lines=10):
    try:
        with open(os.path.join(node_dir, 'node.log'), encoding='utf-8', errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:])
    except OSError:
        return ''


def _wait_ready(started, deadline):
    waiting = dict(started)
    while waiting and time.monotonic() < deadline:
        for name, (node, proc, node_dir) in list(waiting.items()):
            if proc.poll() is not None:
                raise LaunchError('Talos node %s exited with status %s while starting:\n%s' % (name, proc.returncode, _log_tail(node_dir)))
            try:
                with socket.create_connection((node['address'], PORT), timeout=0.5):
                    del waiting[name]
            except OSError:
                pass
        if waiting:
            time.sleep(0.05)
    if waiting:
        raise LaunchError('Talos nodes %s did not listen on port %d within %g s' % (', '.join(sorted(waiting)), PORT, READY_TIMEOUT))


def up(state_dir=None, extra_workers=0, version='v1.9.6', versions=None, reboot_seconds=3.0, boot_seconds=0.5,
       prefix=None, remap=None, log=print):
    """Start the nodes (a second call while they run changes nothing); return the record."""
    if os.geteuid() != 0:
        raise LaunchError('the Talos nodes need root (each runs in its own network namespace): '
                          'run it as root, e.g. sudo .venv/bin/python -m lab up')
    state.ensure_dir(state_dir)
    record = read_nodes(state_dir)
    if record and running(record, state_dir):
        present = netns.existing_namespaces()
        gone = sorted(node['name'] for node in record['nodes'] if node['netns'] not in present)
        if not gone:
            return _restart_dead(record, state_dir)
        log('lab: the namespaces of Talos nodes %s are gone; starting every node afresh' % ', '.join(gone), file=sys.stderr)
    if record:
        _teardown(record, state_dir)
    prefix = os.environ.get('LAB_NETNS_PREFIX', 'lab-') if prefix is None else prefix
    remap = os.environ.get('LAB_TALOS_REMAP', '') if remap is None else remap
    try:
        nodes = topology.build(state_dir, extra_workers, version, versions, remap, prefix)
    except topology.TopologyError as exc:
        raise LaunchError(str(exc)) from None
    for node in nodes:
        node['bridge'] = prefix + node['site']
    bridges = sorted({node['bridge'] for node in nodes})
    skipped = []
    for node in list(nodes):
        found = netns.conflicts([node], bridges)
        if found:
            nodes.remove(node)
            skipped.append({'name': node['name'], 'address': node['address'], 'reason': '; '.join(found)})
            log('lab: Talos node %s not started: its address %s would take over a network this machine uses (%s); '
                'see docs/lab-talos.md' % (node['name'], node['address'], '; '.join(found)), file=sys.stderr)
    bridges = sorted({node['bridge'] for node in nodes})
    record = {'prefix': prefix, 'bridges': bridges, 'nodes': nodes, 'skipped': skipped}
    state.write_json(NODES_FILE, record, state_dir=state_dir)
    if not nodes:
        return record
    base = _private_dir(talos_dir(state_dir))
    netns.create(nodes)
    started = {}
    try:
        for node in nodes:
            node_dir = _private_dir(os.path.join(base, node['name']))
            config = dict(node, dir=node_dir, lab_dir=base, nodes_file=state.path(NODES_FILE, state_dir=state_dir), port=PORT,
                          reboot_seconds=reboot_seconds, boot_seconds=boot_seconds,
                          root_mount_ns=os.stat('/proc/self/ns/mnt').st_ino)  # kubespan.py mounts only elsewhere
            config_path = state.write_json('node.json', config, state_dir=node_dir)
            started[node['name']] = (node, _spawn(node, config_path, node_dir), node_dir)
        _wait_ready(started, time.monotonic() + READY_TIMEOUT)
    except BaseException:
        _teardown(record, state_dir)
        raise
    return record


def _restart_dead(record, state_dir):
    """A second ``up``: nodes whose process died (or was stopped) start again in their namespaces and
    carry on from their files (config, identity, etcd data), as a node that was powered off would."""
    alive = running(record, state_dir)
    started = {}
    for node in record['nodes']:
        if node['name'] in alive:
            continue
        node_dir = os.path.join(talos_dir(state_dir), node['name'])
        started[node['name']] = (node, _spawn(node, os.path.join(node_dir, 'node.json'), node_dir), node_dir)
    if started:
        _wait_ready(started, time.monotonic() + READY_TIMEOUT)
    return record


def stop_node(name, state_dir=None):
    """Power one node off (its process group, etcd included); ``up`` starts it again."""
    record = read_nodes(state_dir) or {}
    pid = running(record, state_dir).get(name)
    if pid is None:
        raise LaunchError('Talos node %s is not running' % name)
    _stop(pid)


def _stop(pid):
    process.stop_group(pid, STOP_TIMEOUT)


def _teardown(record, state_dir):
    for pid in running(record, state_dir).values():
        _stop(pid)
    netns.destroy([node['netns'] for node in record.get('nodes', ())], record.get('bridges', ()))


def down(state_dir=None):
    """Stop every node process and remove the namespaces and bridges; return the node names stopped."""
    record = read_nodes(state_dir)
    if not record:
        return []
    names = sorted(running(record, state_dir))
    _teardown(record, state_dir)
    try:
        os.remove(state.path(NODES_FILE, state_dir=state_dir))
    except OSError:
        pass
    return names


def env_lines(record):
    """Lines for ``.lab/env``-style consumers: the node addresses by role."""
    nodes = record.get('nodes', ())

    def pick(role):
        return ','.join(n['address'] for n in nodes if n['role'] == role)
    return {'TALOS_LAB_NODES': ','.join(n['address'] for n in nodes), 'TALOS_LAB_CONTROLPLANES': pick('controlplane'),
            'TALOS_LAB_WORKERS': pick('worker')}


def describe(record, state_dir=None):
    alive = running(record, state_dir)
    lines = []
    for node in record.get('nodes', ()):
        lines.append('talos   %-8s %-12s %-15s %-4s %-12s %s' % (
            'running' if node['name'] in alive else 'stopped', node['name'], node['address'], node['site'], node['role'],
            node['version']))
    for node in record.get('skipped', ()):
        lines.append('talos   skipped  %-12s %-15s %s' % (node['name'], node['address'], node['reason']))
    return lines, len(alive) == len(record.get('nodes', ()))


def dump(record):
    return json.dumps(record, indent=2, sort_keys=True)
