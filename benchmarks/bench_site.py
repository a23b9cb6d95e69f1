"""make bench-site: converge the 5-node lab with site.yml from nothing, then rerun it (the no-op).

Starts a lab of its own (state in .cache/bench-site-lab, free ports, namespace prefix bsl-, node
networks moved into 198.18.0.0/15), writes a static inventory of its nodes, runs
``playbooks/site.yml`` twice and prints wall times, tasks per host, Talos API calls per node (counted
from the simulated nodes' logs) and the final line

    RESULT site converge_s=<s> noop_s=<s> noop_changed=<n>

Target: noop_s <= 30 on this machine, noop_changed == 0. Exits 1 when a target is missed.
"""
import argparse
import os
import shutil
import sys

from benchlab import PrivateLab, site

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.path.join(ROOT, '.cache', 'bench-site-lab')
REMAP = '203.0.113.0/24=198.18.31.0/24,172.31.1.1/32=198.18.31.254/32,10.10.0.0/24=198.18.32.0/24,10.11.0.0/16=10.131.0.0/16'
NOOP_TARGET_S = 30.0


def api_calls(names):
    """Talos API calls seen so far by each node, from its log."""
    counts = {}
    for name in names:
        path = os.path.join(STATE, 'talos', name, 'node.log')
        with open(path, encoding='utf-8', errors='replace') as handle:
            counts[name] = sum(1 for line in handle if ' api call ' in line)
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench-site: the lab needs root (network namespaces)')
    lab = PrivateLab(STATE, 'bsl-', REMAP)
    lab.up(name='bench-site')
    try:
        inventory = os.path.join(STATE, 'inventory.yml')
        names = lab.write_inventory(inventory)
        secrets = os.path.join(STATE, 'secrets')
        shutil.rmtree(secrets, ignore_errors=True)
        converge_s, _converge_changed, converge_tasks, _data = site('bench-site', inventory, secrets)
        calls_converge = api_calls(names)
        noop_s, noop_changed, noop_tasks, _data = site('bench-site', inventory, secrets)
        calls_total = api_calls(names)
    finally:
        lab.down()
    print('%-10s %14s %12s %16s %12s' % ('host', 'tasks:converge', 'tasks:noop', 'api calls:conv.', 'api calls:noop'))
    for name in names:
        print('%-10s %14d %12d %16d %12d' % (name, converge_tasks[name], noop_tasks[name], calls_converge[name],
                                             calls_total[name] - calls_converge[name]))
    print('converge: %.1f s; no-op rerun: %.1f s, %d changed' % (converge_s, noop_s, noop_changed))
    print('RESULT site converge_s=%.1f noop_s=%.1f noop_changed=%d' % (converge_s, noop_s, noop_changed))
    if noop_changed or noop_s > NOOP_TARGET_S:
        sys.exit(1)


if __name__ == '__main__':
    main()
