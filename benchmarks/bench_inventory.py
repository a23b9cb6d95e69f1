"""Benchmark: the ``hybridops.talos.hybrid`` inventory against the two anchor inventories it replaces.

Starts a lab of its own (``LAB_STATE_DIR`` in .cache/, free ports, so a running lab is left alone)
seeded with 500 Hetzner servers and 500 Proxmox VMs, then lists it with

- ours:   ``ansible-inventory -i bench.hybrid.yml --list``
- anchor: ``ansible-inventory -i anchor.hcloud.yml -i anchor.proxmox.yml --list``
          (``hetzner.hcloud.hcloud`` + ``community.proxmox.proxmox`` with ``want_facts: true``, so
          both know every VM's address, as ours does)

alternating, ``--runs`` times each (default 5), and prints the medians and the final line

    RESULT inventory requests_ours=<n> requests_anchor=<n> wall_ratio=<ours/anchor> cache_hit_requests=<n>

Requests are counted, not estimated: Hetzner requests by the stand-in's own counters, Proxmox
requests by a counting TLS proxy in front of fakepve (one extra, untimed run of each tool through
it, so the proxy's overhead never enters the wall times). ``cache_hit_requests`` is the requests
of a second run of ours with the inventory cache on. Same credentials for both sides: the
read-only Hetzner token and the PVEAuditor Proxmox token, injected as environment variables.
Exit status 1 if a run fails or an exact target is missed (requests_ours > requests_anchor,
cache_hit_requests > 0); a wall_ratio above 0.25 is reported, and fails the run with --strict-wall.
"""
import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration', 'inventory'))

from counting_proxy import CountingProxy  # noqa: E402  pylint: disable=wrong-import-position
from lab.control import HcloudControl  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = os.path.dirname(sys.executable)
CREDENTIAL_VARS = ('HCLOUD_TOKEN', 'HCLOUD_ENDPOINT', 'PROXMOX_URL', 'PROXMOX_USER', 'PROXMOX_TOKEN_ID',
                   'PROXMOX_TOKEN_SECRET', 'PROXMOX_CA_FILE', 'PROXMOX_VALIDATE_CERTS', 'PROXMOX_PASSWORD')
WALL_RATIO_TARGET = 0.25


def free_port():
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def read_env(path):
    values = {}
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith('#') and '=' in line:
                key, _sep, value = line.partition('=')
                values[key] = value
    return values


@contextlib.contextmanager
def private_lab(servers, vms):
    state_dir = os.path.join(ROOT, '.cache', 'bench-inventory-lab')
    env = dict(os.environ, LAB_STATE_DIR=state_dir)

    def lab(*args):
        return subprocess.run([sys.executable, '-m', 'lab'] + list(args), cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600, check=False)
    lab('down')
    proc = lab('up', '--hcloud-port', str(free_port()), '--pve-port', str(free_port()),
               '--hcloud-servers', str(servers), '--pve-vms', str(vms))
    if proc.returncode != 0:
        sys.exit('bench-inventory: python -m lab up failed: %s' % (proc.stderr or proc.stdout))
    print(proc.stdout.strip())
    try:
        yield read_env(os.path.join(state_dir, 'env'))
    finally:
        lab('down')


def tool_env(lab_env, pve_url=None, extra=None):
    """Credentials as AWX injects them; the same for ours and the anchors."""
    env = dict(os.environ)
    for key in CREDENTIAL_VARS:
        env.pop(key, None)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.venv', 'collections'),
        'ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED': 'true',
        'ANSIBLE_NOCOLOR': '1',
        'HCLOUD_ENDPOINT': lab_env['HCLOUD_ENDPOINT'],
        'HCLOUD_TOKEN': lab_env['HCLOUD_TOKEN_READONLY'],
        'PROXMOX_URL': pve_url or lab_env['PROXMOX_URL'],
        'PROXMOX_USER': lab_env['PROXMOX_AUDITOR_USER'],
        'PROXMOX_TOKEN_ID': lab_env['PROXMOX_AUDITOR_TOKEN_ID'],
        'PROXMOX_TOKEN_SECRET': lab_env['PROXMOX_AUDITOR_TOKEN_SECRET'],
        'PROXMOX_CA_FILE': lab_env['PROXMOX_CA_FILE'],
        # community.proxmox has no CA option: requests reads the bundle from here (ours ignores it).
        'REQUESTS_CA_BUNDLE': lab_env['PROXMOX_CA_FILE'],
    })
    env.update(extra or {})
    return env


def write_sources(directory, cache_dir):
    sources = {
        'ours': {'plugin': 'hybridops.talos.hybrid'},
        'ours_cached': {'plugin': 'hybridops.talos.hybrid', 'cache': True, 'cache_plugin': 'ansible.builtin.jsonfile',
                        'cache_connection': cache_dir, 'cache_timeout': 3600},
        'anchor_hcloud': {'plugin': 'hetzner.hcloud.hcloud', 'label_selector': 'talos-role'},
        'anchor_proxmox': {'plugin': 'community.proxmox.proxmox', 'want_facts': True},
    }
    names = {'ours': 'bench.hybrid.yml', 'ours_cached': 'cached.hybrid.yml', 'anchor_hcloud': 'anchor.hcloud.yml',
             'anchor_proxmox': 'anchor.proxmox.yml'}
    paths = {}
    for key, source in sources.items():
        paths[key] = os.path.join(directory, names[key])
        with open(paths[key], 'w', encoding='utf-8') as handle:
            json.dump(source, handle)  # JSON is YAML
    return paths


def list_inventory(sources, env):
    command = [os.path.join(VENV_BIN, 'ansible-inventory')]
    for source in sources:
        command += ['-i', source]
    command.append('--list')
    started = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit('bench-inventory: %s failed:\n%s' % (' '.join(command), proc.stderr[-3000:]))
    hosts = len(json.loads(proc.stdout).get('_meta', {}).get('hostvars', {}))
    return wall, hosts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--runs', type=int, default=5, help='timed runs of each side (at least 5)')
    parser.add_argument('--servers', type=int, default=500, help='extra Hetzner servers in the lab')
    parser.add_argument('--vms', type=int, default=500, help='extra Proxmox VMs in the lab')
    parser.add_argument('--strict-wall', action='store_true', help='also exit 1 when wall_ratio misses its target')
    args = parser.parse_args()
    runs = max(5, args.runs)
    workdir = tempfile.mkdtemp(prefix='bench-inventory-')
    os.chmod(workdir, 0o700)
    try:
        with private_lab(args.servers, args.vms) as lab_env:
            return measure(lab_env, workdir, runs, args.strict_wall)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(lab_env, workdir, runs, strict_wall=False):
    paths = write_sources(workdir, os.path.join(workdir, 'cache'))
    control = HcloudControl(lab_env['LAB_HCLOUD_CONTROL'])
    env = tool_env(lab_env)
    sides = {'ours': [paths['ours']], 'anchor': [paths['anchor_hcloud'], paths['anchor_proxmox']]}

    # Counted runs (untimed): Hetzner by the stand-in's counters, Proxmox through the counting proxy.
    requests, detail = {}, {}
    with CountingProxy.for_lab(lab_env) as proxy:
        counted_env = tool_env(lab_env, pve_url=proxy.url)
        for side, sources in sides.items():
            control.reset_counters()
            proxy.reset()
            _wall, hosts = list_inventory(sources, counted_env)
            hcloud_requests = control.counters()['total']
            pve_requests = proxy.total()
            requests[side] = hcloud_requests + pve_requests
            detail[side] = (hcloud_requests, pve_requests, hosts)
        # Cache: the first run fills it, the second must be served from it.
        list_inventory([paths['ours_cached']], counted_env)
        control.reset_counters()
        proxy.reset()
        _wall, cached_hosts = list_inventory([paths['ours_cached']], counted_env)
        cache_hit_requests = control.counters()['total'] + proxy.total()

    # Timed runs, alternating, straight to the stand-ins.
    walls = {'ours': [], 'anchor': []}
    for _index in range(runs):
        for side in ('ours', 'anchor'):
            wall, hosts = list_inventory(sides[side], env)
            walls[side].append(wall)

    medians = dict((side, statistics.median(values)) for side, values in walls.items())
    ratio = medians['ours'] / medians['anchor']
    for side in ('ours', 'anchor'):
        hc, pve, hosts = detail[side]
        print('%-6s hosts=%d requests=%d (hcloud %d, proxmox %d) wall median=%.3fs runs=%s'
              % (side, hosts, hc + pve, hc, pve, medians[side], ' '.join('%.3f' % w for w in walls[side])))
    paired = sorted(o / a for o, a in zip(walls['ours'], walls['anchor']))
    print('ours/anchor per alternating pair: %s (median %.3f)'
          % (' '.join('%.3f' % r for r in paired), statistics.median(paired)))
    print('ours (cache hit) hosts=%d requests=%d' % (cached_hosts, cache_hit_requests))
    print('load average at the end: %s' % ' '.join('%.2f' % x for x in os.getloadavg()))
    print('RESULT inventory requests_ours=%d requests_anchor=%d wall_ratio=%.3f cache_hit_requests=%d'
          % (requests['ours'], requests['anchor'], ratio, cache_hit_requests))
    missed = []
    if requests['ours'] > requests['anchor']:
        missed.append('requests_ours > requests_anchor')
    if cache_hit_requests:
        missed.append('cache_hit_requests > 0')
    if ratio > WALL_RATIO_TARGET:
        # Request counts are exact; wall time on a shared machine moves with its load, so the wall
        # target fails the run only when asked to.
        print('bench-inventory: wall_ratio %.3f is above the %.2f target' % (ratio, WALL_RATIO_TARGET), file=sys.stderr)
        if strict_wall:
            missed.append('wall_ratio > %.2f' % WALL_RATIO_TARGET)
    if missed:
        print('bench-inventory: target missed: %s' % ', '.join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
