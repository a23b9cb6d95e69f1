"""make bench-upgrade: upgrade Talos on the 5-node lab with playbooks/upgrade-talos.yml and measure how long the
Kubernetes API endpoint did not answer meanwhile.

Starts a lab of its own (state in .cache/bench-upgrade-lab, free ports, namespace prefix bul-, node networks moved
into 198.18.0.0/15), converges it with ``playbooks/site.yml``, then runs ``upgrade-talos.yml`` to
ghcr.io/siderolabs/installer:v1.9.7 (one node at a time, control planes first, without the backup set: this measures
the upgrade) while a thread asks the kubeconfig's API endpoint for ``/version`` every 0.1 s. Then runs the playbook
again (the no-op). Prints the per-node versions, the unavailable windows, and the final line

    RESULT upgrade nodes=5 seconds=<s> api_unavailable_s=<s> noop_seconds=<s> noop_changed=<n>

Anchor: the same run's ``site.yml`` no-op (``anchor_noop_s``): the upgrade's seconds per node are reported as a
ratio to it. Targets: every node at the target, noop_changed == 0. api_unavailable_s is reported, not judged: its goal
is 0, which needs an endpoint that does not sit on one control plane (the lab's is vps-0's address).
"""
import argparse
import base64
import os
import shutil
import ssl
import sys
import tempfile
import threading
import time
import urllib.request

import yaml

from benchlab import PrivateLab, playbook, site

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.path.join(ROOT, '.cache', 'bench-upgrade-lab')
REMAP = '203.0.113.0/24=198.18.81.0/24,172.31.1.1/32=198.18.81.254/32,10.10.0.0/24=198.18.82.0/24,10.11.0.0/16=10.181.0.0/16'
TARGET = 'v1.9.7'
IMAGE = 'ghcr.io/siderolabs/installer:' + TARGET
POLL_S = 0.1


class EndpointWatch(threading.Thread):
    """GET /version on the API endpoint every POLL_S; the windows in which it did not answer."""

    def __init__(self, kubeconfig):
        super().__init__(daemon=True)
        with open(kubeconfig, encoding='utf-8') as handle:
            cluster = yaml.safe_load(handle)['clusters'][0]['cluster']
        self.url = cluster['server'].rstrip('/') + '/version'
        with tempfile.NamedTemporaryFile('wb', suffix='.crt', delete=False) as handle:
            handle.write(base64.b64decode(cluster['certificate-authority-data']))
        self.context = ssl.create_default_context(cafile=handle.name)
        os.unlink(handle.name)
        self.stopped = threading.Event()
        self.windows = []  # (start, end) monotonic seconds of unanswered polls

    def _answers(self):
        try:
            with urllib.request.urlopen(self.url, timeout=1.0, context=self.context) as response:
                return response.status == 200
        except OSError:
            return False

    def run(self):
        down_since = None
        while not self.stopped.is_set():
            now = time.monotonic()
            if self._answers():
                if down_since is not None:
                    self.windows.append((down_since, now))
                    down_since = None
            elif down_since is None:
                down_since = now
            self.stopped.wait(POLL_S)
        if down_since is not None:
            self.windows.append((down_since, time.monotonic()))

    def unavailable_s(self):
        return sum(end - start for start, end in self.windows)


def upgrade(inventory, secrets):
    seconds, data = playbook('bench-upgrade', inventory, os.path.join(ROOT, 'playbooks', 'upgrade-talos.yml'),
                             '-e', '@' + os.path.join(ROOT, 'examples', 'lab-vars.yml'),
                             '-e', 'talos_cluster_secrets_dir=' + secrets, '-e', 'talos_upgrade_image=' + IMAGE,
                             '-e', 'talos_upgrade_skip_backup=true')
    changed = sum(stats['changed'] for stats in data['stats'].values())
    versions = {}
    for play in data['plays']:
        for task in play['tasks']:
            if task['task']['name'] == 'Upgrade the node and check the version it comes back with':
                for host, result in task['hosts'].items():
                    versions[host] = result.get('version') or result.get('target_version')
    return seconds, changed, versions


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench-upgrade: the lab needs root (network namespaces)')
    lab = PrivateLab(STATE, 'bul-', REMAP)
    lab.up(name='bench-upgrade')
    try:
        inventory = os.path.join(STATE, 'inventory.yml')
        names = lab.write_inventory(inventory)
        secrets = os.path.join(STATE, 'secrets')
        shutil.rmtree(secrets, ignore_errors=True)
        site('bench-upgrade', inventory, secrets)
        anchor_noop_s, _changed, _tasks, _data = site('bench-upgrade', inventory, secrets)
        watch = EndpointWatch(os.path.join(secrets, 'kubeconfig'))
        watch.start()
        seconds, _changed, versions = upgrade(inventory, secrets)
        watch.stopped.set()
        watch.join()
        noop_seconds, noop_changed, _versions = upgrade(inventory, secrets)
    finally:
        lab.down()
    for name in names:
        print('%-10s %s' % (name, versions.get(name, 'not upgraded')))
    for start, end in watch.windows:
        print('API endpoint unanswered for %.1f s' % (end - start))
    per_node = seconds / len(names)
    print('upgrade: %.1f s (%.1f s per node, %.1fx the site.yml no-op of %.1f s); rerun %.1f s, %d changed'
          % (seconds, per_node, per_node / anchor_noop_s, anchor_noop_s, noop_seconds, noop_changed))
    print('RESULT upgrade nodes=%d seconds=%.1f api_unavailable_s=%.1f noop_seconds=%.1f noop_changed=%d anchor_noop_s=%.1f'
          % (len(names), seconds, watch.unavailable_s(), noop_seconds, noop_changed, anchor_noop_s))
    if noop_changed or any(versions.get(name) != TARGET for name in names):
        sys.exit(1)


if __name__ == '__main__':
    main()
