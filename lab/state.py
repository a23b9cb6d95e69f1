"""What ``up`` leaves in ``.lab/``: the env contract, the inventory source, pid files and configs.

Everything secret-ish is written 0600 inside the 0700 directory.
"""
import json
import os
import shutil

import yaml

from . import STATE_DIR

ENV_KEYS = (
    'HCLOUD_ENDPOINT', 'HCLOUD_TOKEN', 'HCLOUD_TOKEN_READONLY',
    'PROXMOX_URL', 'PROXMOX_HOST', 'PROXMOX_PORT', 'PROXMOX_USER', 'PROXMOX_TOKEN_ID', 'PROXMOX_TOKEN_SECRET',
    'PROXMOX_AUDITOR_USER', 'PROXMOX_AUDITOR_TOKEN_ID', 'PROXMOX_AUDITOR_TOKEN_SECRET', 'PROXMOX_CA_FILE',
    'LAB_HCLOUD_CONTROL',
    'LAB_FILES_URL', 'LAB_FLUX_RELEASES_URL', 'LAB_FLUX_VERSION', 'LAB_FLUX_INSTALL_SHA256',
)


def path(*parts, state_dir=None):
    return os.path.join(state_dir or STATE_DIR, *parts)


def ensure_dir(state_dir=None):
    directory = state_dir or STATE_DIR
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    return directory


def write_private(filename, text, state_dir=None):
    """Write ``text`` to ``.lab/<filename>`` with mode 0600, whatever the umask."""
    target = path(filename, state_dir=state_dir)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(target, 0o600)
    return target


def write_json(filename, data, state_dir=None):
    return write_private(filename, json.dumps(data, indent=2, sort_keys=True) + '\n', state_dir)


def read_json(filename, state_dir=None):
    try:
        with open(path(filename, state_dir=state_dir), encoding='utf-8') as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_env(env, state_dir=None):
    lines = ['# Written by `python -m lab up`; the lab endpoints and credentials (KEY=VALUE).']
    lines += ['%s=%s' % (key, env[key]) for key in ENV_KEYS if key in env]
    return write_private('env', '\n'.join(lines) + '\n', state_dir)


def read_env(filename=None):
    """Parse a ``.lab/env`` file into a dict (comments and blank lines skipped)."""
    values = {}
    with open(filename or path('env'), encoding='utf-8') as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith('#') and '=' in line:
                key, dummy, value = line.partition('=')
                values[key.strip()] = value.strip()
    return values


def hybrid_source(env):
    """The inventory source for ``hybridops.talos.hybrid`` built from the env contract.

    Kept in this one function so it follows the plugin's option names (plugins/inventory/hybrid.py).
    Read-only credentials on purpose: an inventory never needs to write.
    """
    return {
        'plugin': 'hybridops.talos.hybrid',
        'hcloud_endpoint': env['HCLOUD_ENDPOINT'],
        'hcloud_token': env['HCLOUD_TOKEN_READONLY'],
        'hcloud_label_selector': 'talos-role',
        'proxmox_url': env['PROXMOX_URL'],
        'proxmox_user': env['PROXMOX_AUDITOR_USER'],
        'proxmox_token_id': env['PROXMOX_AUDITOR_TOKEN_ID'],
        'proxmox_token_secret': env['PROXMOX_AUDITOR_TOKEN_SECRET'],
        'proxmox_ca_file': env['PROXMOX_CA_FILE'],
    }


def write_hybrid(env, state_dir=None):
    text = '# Written by `python -m lab up`: an inventory source for the lab.\n'
    text += yaml.safe_dump(hybrid_source(env), sort_keys=False, default_flow_style=False)
    return write_private('hybrid.yml', text, state_dir)


def remove(state_dir=None, keep_logs=False):
    """Remove the lab directory; with ``keep_logs`` only what is not a ``*.log`` file (after a failed ``up``)."""
    directory = state_dir or STATE_DIR
    if not keep_logs:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for parent, folders, files in os.walk(directory, topdown=False):
        for name in files:
            if not name.endswith('.log'):
                os.remove(os.path.join(parent, name))
        for name in folders:
            path = os.path.join(parent, name)
            if os.path.islink(path):
                os.remove(path)
            elif not os.listdir(path):
                os.rmdir(path)
