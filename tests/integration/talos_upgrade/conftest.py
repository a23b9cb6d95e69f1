"""One simulator-only lab for the upgrade tests: three control planes (etcd bootstrapped and joined) and a
worker, all at v1.9.6, with their own state directory, namespace prefix ``upg-`` and networks. The tests of
this folder build on one another in file order (the module first, then the playbook)."""
import os
import shutil
import tempfile

import pytest

from lab_fixtures import stop_with_directory

from upgrade_support import CONTROL_PLANES, REBOOT_SECONDS, REMAP, PREFIX, WORKERS, Cluster, UpgradeLab, talos_command


def _configure(lab, cluster, name, role):
    from sim_support import configure  # pylint: disable=import-outside-toplevel
    return configure(lab, cluster, name, role)


@pytest.fixture(scope='package')
def upgrade_lab():
    if os.geteuid() != 0:
        pytest.skip('the Talos node simulator needs root (network namespaces)')
    from sim_support import Sim, wait_for  # pylint: disable=import-outside-toplevel
    state_dir = tempfile.mkdtemp(prefix='talos-upgrade-')
    os.chmod(state_dir, 0o700)

    def down():
        talos_command(state_dir, 'down', prefix=PREFIX, remap=REMAP)
        if not os.environ.get('TALOS_SIM_KEEP'):  # keep the node logs for a look after a failure
            shutil.rmtree(state_dir, ignore_errors=True)

    stop = stop_with_directory(__file__, down)
    try:
        proc = talos_command(state_dir, 'up', '--talos-reboot-seconds', str(REBOOT_SECONDS), prefix=PREFIX, remap=REMAP)
        if proc.returncode != 0:
            pytest.fail('python -m lab.talos up failed: %s' % (proc.stderr or proc.stdout))
        import json  # pylint: disable=import-outside-toplevel
        with open(os.path.join(state_dir, 'talos-nodes.json'), encoding='utf-8') as handle:
            sim = Sim(state_dir, json.load(handle))
        cluster = Cluster(endpoint='https://%s:6443' % sim.address(CONTROL_PLANES[0]))
        first = _configure(sim, cluster, CONTROL_PLANES[0], 'controlplane')
        first.bootstrap()
        for name, role in [(n, 'controlplane') for n in CONTROL_PLANES[1:]] + [(n, 'worker') for n in WORKERS]:
            _configure(sim, cluster, name, role).close()

        def three_started():
            members = first.etcd_member_list().members
            return len(members) == 3 and all(m.hostname and m.client_urls for m in members)
        wait_for(three_started, 60, step=0.5, what='three started etcd members')
        first.close()
        yield UpgradeLab(state_dir, cluster)
    finally:
        stop()
