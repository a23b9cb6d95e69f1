"""make bench-mesh: verify the KubeSpan mesh of a 20-node lab (380 directions) with kubespan_verify.

Starts a lab of its own (state in .cache/bench-mesh-lab, free ports, namespace prefix bml-, node
networks moved into 198.18.0.0/15) with 5 seed nodes and 15 extra Talos workers on Proxmox VMs
(``python -m lab up --pve-vms 15 --talos-nodes 15``): 20 nodes, each with a real ``wireguard-go``
KubeSpan interface. ``playbooks/site.yml`` converges them (and waits for the mesh itself); then, ``--runs``
times each, alternating:

* **ours**: one ``ansible-playbook`` task running ``hybridops.talos.kubespan_verify`` over the 20 nodes
  (wall time, and the module's own ``duration``);
* **anchor**: the same reads and verdict in this process, one node after another, as a loop of
  ``talosctl get kubespanpeerstatuses -n <node>`` would do them;
* **parallel**: the same in this process with the module's parallel reads, so the ratio to the
  anchor measures the parallelism alone.

Prints the medians and ends with

    RESULT mesh nodes=20 pairs=380 seconds=<playbook wall, median> module_s=<s> ratio_vs_serial=<parallel / anchor>

Target: seconds <= 3 for the full matrix. Exits 1 when it is missed or the mesh is not healthy.
"""
import argparse
import os
import shutil
import statistics
import sys
import time

import yaml

from benchlab import ROOT, PrivateLab, playbook, site, task_result

sys.path.insert(0, os.path.join(ROOT, '.venv', 'collections'))

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.collect import (  # noqa: E402
    observe_all, observe_node)
from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.verify import verify  # noqa: E402
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import TalosClient  # noqa: E402

STATE = os.path.join(ROOT, '.cache', 'bench-mesh-lab')
REMAP = '203.0.113.0/24=198.18.41.0/24,172.31.1.1/32=198.18.41.254/32,10.10.0.0/24=198.18.42.0/24,10.11.0.0/16=10.151.0.0/16'
EXTRA_WORKERS = 15
TARGET_S = 3.0


def verify_play(nodes, talosconfig):
    return [{'name': 'mesh', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'verify', 'hybridops.talos.kubespan_verify': {'nodes': nodes, 'talosconfig': talosconfig}}]}]


def in_process(nodes, talosconfig, parallel):
    """Seconds for reading every node and judging the mesh in this process; the report."""
    def make_client(node):
        return TalosClient.from_talosconfig(node['address'], talosconfig)
    started = time.monotonic()
    if parallel:
        observations = observe_all(nodes, make_client)
    else:
        observations = [observe_node(node, make_client) for node in nodes]
    report = verify(observations)
    return time.monotonic() - started, report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=5, help='timed runs of each side (default 5)')
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench-mesh: the lab needs root (network namespaces)')
    lab = PrivateLab(STATE, 'bml-', REMAP)
    started = time.monotonic()
    lab.up('--pve-vms', str(EXTRA_WORKERS), '--talos-nodes', str(EXTRA_WORKERS), name='bench-mesh')
    up_s = time.monotonic() - started
    ours, module, anchor, parallel = [], [], [], []
    try:
        inventory = os.path.join(STATE, 'inventory.yml')
        names = lab.write_inventory(inventory)
        secrets = os.path.join(STATE, 'secrets')
        shutil.rmtree(secrets, ignore_errors=True)
        converge_s, _changed, _tasks, data = site('bench-mesh', inventory, secrets, '--forks', str(len(names)))
        waited = task_result(data, 'Check that every KubeSpan link between the nodes is up')
        talosconfig = os.path.join(secrets, 'talosconfig')
        nodes = [{'name': node['name'], 'address': node['address']} for node in lab.nodes()]
        play_file = os.path.join(STATE, 'verify.yml')
        with open(play_file, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(verify_play(nodes, talosconfig), handle)
        for _run in range(args.runs):
            seconds, data = playbook('bench-mesh', inventory, play_file)
            result = task_result(data, 'verify')
            if not result['healthy'] or result['counts']['pairs'] != len(nodes) * (len(nodes) - 1):
                sys.exit('bench-mesh: the mesh is not healthy: %s' % '\n'.join(result['summary']))
            ours.append(seconds)
            module.append(result['duration'])
            seconds, report = in_process(nodes, talosconfig, parallel=False)
            anchor.append(seconds)
            seconds, report = in_process(nodes, talosconfig, parallel=True)
            parallel.append(seconds)
            if not report['healthy']:
                sys.exit('bench-mesh: the mesh is not healthy in-process: %s' % report['problems'][:3])
    finally:
        lab.down()
    pairs = result['counts']['pairs']
    print('lab up with %d nodes: %.1f s; site.yml converge: %.1f s (its mesh check: %d checks, %.1f s)'
          % (len(nodes), up_s, converge_s, waited['checks'], waited['duration']))
    for label, values in (('ours: ansible-playbook with kubespan_verify', ours), ('  of which the module', module),
                          ('anchor: serial reads + verdict', anchor), ('parallel reads + verdict', parallel)):
        print('%-45s median %.3f s  (%s)' % (label, statistics.median(values), ', '.join('%.3f' % v for v in values)))
    seconds = statistics.median(ours)
    ratio = statistics.median(parallel) / statistics.median(anchor)
    print('RESULT mesh nodes=%d pairs=%d seconds=%.2f module_s=%.3f ratio_vs_serial=%.2f'
          % (len(nodes), pairs, seconds, statistics.median(module), ratio))
    if seconds > TARGET_S:
        print('bench-mesh: %.2f s is over the %.1f s target' % (seconds, TARGET_S), file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
