"""Render and validate 100 Talos node configs (key generation excluded, done once before timing).

Half control planes, half workers, alternating the v1.9 and v1.13 contracts, each with a cluster, a
role and a node patch, every document validated against its contract's schema. Prints
``RESULT config nodes=100 seconds=<s>`` (the best of three runs) and fails above the 2 s target.
"""
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# conftest makes ansible_collections.hybridops.talos importable, as in pytest.
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.hybridops.talos.plugins.module_utils._talos import render, secrets  # noqa: E402

NODES = 100
TARGET_SECONDS = 2.0
SCHEMAS = os.path.join(ROOT, 'talos_schemas')  # what the modules use, shipped in the collection


def specs():
    for index in range(NODES):
        role = 'controlplane' if index % 2 == 0 else 'worker'
        version = 'v1.9.6' if index % 4 < 2 else 'v1.13.2'
        yield dict(
            role=role, cluster_name='bench', cluster_endpoint='https://k8s.bench.example:6443', talos_version=version,
            kubernetes_version='1.32.3', hostname='node-%03d' % index, site='vps' if index < 50 else 'home',
            region='pve' if index >= 50 else None, zone='pve%d' % (index % 3) if index >= 50 else None,
            cert_sans=['k8s.bench.example'], node_ip_subnets=['10.0.0.0/16'], underlay_mtu=1450,
            etcd_advertised_subnets=['10.0.0.0/16'] if role == 'controlplane' else [],
            cluster_patches=[{'machine': {'kubelet': {'extraArgs': {'rotate-server-certificates': 'true'}}}}],
            role_patches=[{'machine': {'sysctls': {'vm.max_map_count': '262144'}}}],
            node_patches=[{'machine': {'nodeLabels': {'bench/index': str(index)}}}],
            schema_dir=os.environ.get('HYBRIDOPS_TALOS_SCHEMA_DIR', SCHEMAS),
        )


def main():
    bundle = secrets.generate_bundle((1, 9))  # key generation: outside the timed part
    nodes = list(specs())
    render.render(nodes[0], bundle)  # load the schemas once, as a long-lived controller would
    best = None
    for _attempt in range(3):
        start = time.perf_counter()
        sizes = [len(render.render(node, bundle).text) for node in nodes]
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    print('bench-config: %d configs, %d bytes in total, schemas from %s' % (len(sizes), sum(sizes), nodes[0]['schema_dir']))
    print('RESULT config nodes=%d seconds=%.3f' % (NODES, best))
    if best > TARGET_SECONDS:
        sys.exit('bench-config: %.3f s is over the %.1f s target' % (best, TARGET_SECONDS))


if __name__ == '__main__':
    main()
