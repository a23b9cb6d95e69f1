"""Session fixtures that bring the local lab up (or reuse a running one) and hand out its env.

Import them into a conftest: ``from lab_fixtures import lab_env, hcloud_control  # noqa: F401``.
A lab started here is stopped when the last session using it ends (pytest-xdist workers share it);
one that was already running is left alone. A file lock keeps workers from starting two labs at once.
"""
import fcntl
import os
import shutil
import subprocess
import sys

import pytest
from proxmoxer import ProxmoxAPI

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab import state  # noqa: E402  pylint: disable=wrong-import-position
from lab.control import HcloudControl  # noqa: E402  pylint: disable=wrong-import-position

LOCK = os.path.join(ROOT, '.cache', 'lab.lock')


def lab_command(*args, env=None, timeout=120):
    """Run ``python -m lab ARGS`` from the repository root; return the CompletedProcess."""
    return subprocess.run([sys.executable, '-m', 'lab'] + list(args), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)


def run_unprivileged(argv, env, timeout=60):
    """Run ``argv`` from the repository root as uid/gid 65534 (nobody), not root: ``os.geteuid()`` is 65534.

    The checkout may sit in a folder only root can enter (root's home is 0700), where nobody could not
    even import ``lab``. The process therefore keeps one capability, CAP_DAC_READ_SEARCH (read any file,
    enter any folder), as an ambient capability; it can write nothing root's and is not root, which is
    all the lab's root check looks at. Skips without ``setpriv`` or without root to drop from.
    """
    setpriv = shutil.which('setpriv')
    if setpriv is None or os.geteuid() != 0:
        pytest.skip('needs root and setpriv (util-linux) to run a command as another user')
    command = [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups',
               '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'] + list(argv)
    return subprocess.run(command, cwd=ROOT, env=dict(env, PYTHONDONTWRITEBYTECODE='1'), capture_output=True,
                          text=True, timeout=timeout, check=False)


def _users(delta):
    """Change and return the number of pytest sessions (xdist workers) using the lab; call under LOCK."""
    path = LOCK + '.users'
    try:
        with open(path, encoding='ascii') as handle:
            users = int(handle.read().strip() or 0)
    except (OSError, ValueError):
        users = 0
    users = max(0, users + delta)
    with open(path, 'w', encoding='ascii') as handle:
        handle.write('%d\n' % users)
    return users


@pytest.fixture(scope='session')
def lab_env():
    """The ``.lab/env`` values as a dict. The last session using a lab that tests started stops it."""
    if os.geteuid() != 0:
        pytest.skip('the lab needs root')
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    marker = state.path('started-by-pytest')
    with open(LOCK, 'w', encoding='ascii') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # A lab started --empty (make demo) has no seed machines, which these suites need: `up` replaces it.
        if lab_command('status').returncode != 0 or (state.read_json('hcloud.json') or {}).get('empty'):
            _users(-10 ** 6)  # a stale count from a killed run
            proc = lab_command('up')
            if proc.returncode != 0:
                pytest.fail('python -m lab up failed: %s' % (proc.stderr or proc.stdout))
            state.write_private('started-by-pytest', '')
        _users(+1)
        env = dict(state.read_env())
        fcntl.flock(lock, fcntl.LOCK_UN)
    yield env
    with open(LOCK, 'w', encoding='ascii') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _users(-1) == 0 and os.path.exists(marker):
            lab_command('down')


@pytest.fixture(scope='session')
def hcloud_control(lab_env):
    return HcloudControl(lab_env['LAB_HCLOUD_CONTROL'])


def proxmox(env, user_key='PROXMOX_USER', id_key='PROXMOX_TOKEN_ID', secret_key='PROXMOX_TOKEN_SECRET', **overrides):
    """A proxmoxer client for the lab's PVE with the named env credentials, verifying TLS with the lab CA."""
    options = dict(port=int(env['PROXMOX_PORT']), user=env[user_key], token_name=env[id_key],
                   token_value=env[secret_key], verify_ssl=env['PROXMOX_CA_FILE'], timeout=30)
    options.update(overrides)
    return ProxmoxAPI(env['PROXMOX_HOST'], **options)


# ------------------------------------------------------------------ labs that end with their directory

# A suite's lab is session-scoped so that its modules share it, but pytest keeps a session fixture until the whole
# run ends: every suite's lab would keep running (etcd, API servers, kubelets) under all later suites and load the
# machine. A lab registered here is stopped as soon as the last test of its folder has run (conftest.py's hook).
_DIRECTORY_LABS = []


def stop_with_directory(conftest_file, stop):
    """Call ``stop()`` once, after the last test under the folder of ``conftest_file``; returns a stop the fixture's
    own teardown may call as well (it does nothing the second time)."""
    done = []

    def once():
        if not done:
            done.append(True)
            stop()

    _DIRECTORY_LABS.append((os.path.dirname(os.path.abspath(conftest_file)) + os.sep, once))
    return once


def _under(item, directory):
    return item is not None and str(item.path).startswith(directory)


def stop_finished_labs(item, nextitem):
    for entry in list(_DIRECTORY_LABS):
        directory, stop = entry
        if _under(item, directory) and not _under(nextitem, directory):
            _DIRECTORY_LABS.remove(entry)
            stop()
