"""One lab for the backup and restore tests: five simulated Talos nodes converged by site.yml, the lab's
backup remote (``rclone serve webdav``) and the Vault stand-in (``python -m lab.backup``).

Own state directory, ports, namespace prefix ``bkp-`` and networks (198.18.71.0/24, 198.18.72.0/24,
10.171.0.0/16), so it runs beside every other lab. The tests of this folder build on one another in
file order: backups first (test_backup.py), then the drill that destroys and restores etcd
(test_drill.py), then the simulator's reset and recovery details (test_simulator_recovery.py).
"""
import os
import subprocess
import sys

import pytest

from lab_fixtures import lab_command, stop_with_directory

from backup_support import LAB_VARS, PREFIX, REMAP, ROOT, SITE, BackupLab, extra_vars, free_port


@pytest.fixture(scope='package')
def backup_lab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip('the lab needs root')
    state_dir = str(tmp_path_factory.mktemp('backup-lab'))
    env = dict(os.environ, LAB_STATE_DIR=state_dir, LAB_HCLOUD_PORT=str(free_port()), LAB_PVE_PORT=str(free_port()),
               LAB_NETNS_PREFIX=PREFIX, LAB_TALOS_REMAP=REMAP, LAB_TALOS_REBOOT_SECONDS='1',
               LAB_WEBDAV_PORT=str(free_port()), LAB_VAULT_PORT=str(free_port()))
    backup = None

    def down():
        subprocess.run([sys.executable, '-m', 'lab.backup', 'down'], cwd=ROOT, env=env, capture_output=True, timeout=60, check=False)
        lab_command('down', env=env)

    stop = stop_with_directory(__file__, down)
    try:
        proc = lab_command('up', env=env, timeout=180)
        if proc.returncode != 0:
            pytest.fail('python -m lab up failed: %s' % (proc.stderr or proc.stdout))
        backup = subprocess.run([sys.executable, '-m', 'lab.backup', 'up'], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=60, check=False)
        if backup.returncode != 0:
            pytest.fail('python -m lab.backup up failed: %s' % (backup.stderr or backup.stdout))
        yield BackupLab(state_dir, env)
    finally:
        stop()


@pytest.fixture(scope='package')
def run_playbook_package(request, tmp_path_factory):
    """``run_playbook`` (tests/integration/conftest.py) for the package: the lab and its cluster outlive a test file."""
    integration = next(plugin for plugin in request.config.pluginmanager.get_plugins()
                       if getattr(plugin, '__file__', '').endswith(os.path.join('tests', 'integration', 'conftest.py')))
    return integration.make_runner(tmp_path_factory.mktemp('backup-playbooks'))


@pytest.fixture(scope='package')
def converged(backup_lab, run_playbook_package):
    """The lab cluster after site.yml (the KubeSpan check left out: these tests are about etcd)."""
    run = run_playbook_package(SITE, '-e', '@' + LAB_VARS, *extra_vars(dict(talos_cluster_secrets_dir=backup_lab.secrets_dir,
                                                                            talos_cluster_kubespan_check=False)),
                               inventory=backup_lab.inventory)
    assert run.rc == 0, run
    return backup_lab
