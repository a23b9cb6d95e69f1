"""make bench-kube: 200 Kubernetes objects applied through our code path, against kubectl's server-side apply.

Starts a lab of its own (state in .cache/bench-kube-lab, free ports, namespace prefix bkl-, node
networks moved into 198.18.0.0/15), converges it with ``playbooks/site.yml`` (so the kubeconfig is the
one our roles write), then applies the same 200 objects (ConfigMaps and Secrets in a namespace of
their own) twice each way:

* **ours** — one ``hybridops.talos.kube_apply`` task through ``ansible-playbook`` (Ansible's start-up
  included), then the same task again: the no-op, which must report ``changed=0``;
* **anchor** — ``kubectl apply --server-side`` of the same objects (into another namespace), then again.

Prints the four wall times and the final line

    RESULT kube objects=200 seconds=<s> noop_seconds=<s> noop_changed=<n> anchor_seconds=<s> anchor_noop_seconds=<s>

Target: noop_changed == 0 and ours within 3x kubectl's time for the first apply. Exits 1 when missed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

import yaml

from benchlab import PrivateLab, playbook, site, task_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.path.join(ROOT, '.cache', 'bench-kube-lab')
REMAP = '203.0.113.0/24=198.18.51.0/24,172.31.1.1/32=198.18.51.254/32,10.10.0.0/24=198.18.52.0/24,10.11.0.0/16=10.161.0.0/16'
OBJECTS = 200
RATIO_TARGET = 3.0


def objects(namespace):
    """A Namespace and 199 objects in it: ConfigMaps and (every fifth) Secrets, each with a few keys."""
    docs = [{'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': namespace}}]
    for index in range(OBJECTS - 1):
        name = 'bench-%03d' % index
        if index % 5 == 4:
            docs.append({'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': name, 'namespace': namespace},
                         'type': 'Opaque', 'stringData': {'token': 'not-a-secret-%d' % index}})
        else:
            metadata = {'name': name, 'namespace': namespace, 'labels': {'bench': 'kube'}}
            docs.append({'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': metadata, 'data': {'index': str(index), 'text': 'x' * 200}})
    return docs


def write(path, docs):
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump_all(docs, handle)
    return path


def ours(inventory, kubeconfig, src):
    plays = [{'name': 'bench-kube', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'apply', 'hybridops.talos.kube_apply': {'kubeconfig': kubeconfig, 'src': src}}]}]
    path = os.path.join(STATE, 'apply.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(plays, handle)
    seconds, data = playbook('bench-kube', 'localhost,', path, '-c', 'local')
    result = task_result(data, 'apply')
    return seconds, int(bool(result.get('changed'))), result['counts']


def kubectl(kubeconfig, src):
    started = time.monotonic()
    proc = subprocess.run(['kubectl', 'apply', '--server-side', '--field-manager=bench-anchor', '-f', src],
                          env=dict(os.environ, KUBECONFIG=kubeconfig), capture_output=True, text=True, check=False, timeout=600)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit('bench-kube: kubectl apply failed: %s' % proc.stderr[-2000:])
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench-kube: the lab needs root (network namespaces)')
    if not shutil.which('kubectl'):
        sys.exit('bench-kube: the anchor needs kubectl on PATH (make setup installs one)')
    lab = PrivateLab(STATE, 'bkl-', REMAP)
    lab.up(name='bench-kube')
    try:
        inventory = os.path.join(STATE, 'inventory.yml')
        lab.write_inventory(inventory)
        secrets = os.path.join(STATE, 'secrets')
        shutil.rmtree(secrets, ignore_errors=True)
        site('bench-kube', inventory, secrets)
        kubeconfig = os.path.join(secrets, 'kubeconfig')
        src_ours = write(os.path.join(STATE, 'ours.yml'), objects('bench-ours'))
        src_anchor = write(os.path.join(STATE, 'anchor.yml'), objects('bench-anchor'))
        seconds, _changed, counts = ours(inventory, kubeconfig, src_ours)
        noop_seconds, noop_changed, noop_counts = ours(inventory, kubeconfig, src_ours)
        anchor_seconds = kubectl(kubeconfig, src_anchor)
        anchor_noop_seconds = kubectl(kubeconfig, src_anchor)
    finally:
        lab.down()
    print('ours (kube_apply through ansible-playbook): %.1f s %s; again: %.1f s %s' % (seconds, counts, noop_seconds, noop_counts))
    print('anchor (kubectl apply --server-side):       %.1f s; again: %.1f s' % (anchor_seconds, anchor_noop_seconds))
    print('ratio ours/anchor: %.2f (first), %.2f (again)' % (seconds / anchor_seconds, noop_seconds / anchor_noop_seconds))
    print('RESULT kube objects=%d seconds=%.1f noop_seconds=%.1f noop_changed=%d anchor_seconds=%.1f anchor_noop_seconds=%.1f'
          % (OBJECTS, seconds, noop_seconds, noop_changed, anchor_seconds, anchor_noop_seconds))
    if noop_changed or seconds > RATIO_TARGET * anchor_seconds:
        sys.exit(1)


if __name__ == '__main__':
    main()
