"""What a node does at boot on a cloud platform: take its config from the metadata service.

Talos on Hetzner Cloud asks ``http://169.254.169.254/hetzner/v1/userdata`` at boot; a machine config
there is its config (no maintenance mode), an empty answer leaves it in maintenance mode. A node of a
lab that follows the APIs (``python -m lab up --empty``) gets ``metadata_url`` in its node.json when
its machine is a Hetzner server; Proxmox VMs have none and boot into maintenance mode.

Every time a node serves its maintenance API it appends a line to ``maintenance.log`` in its
directory (its disk), so a test can prove that a node never waited unconfigured on its address.
"""
import json
import logging
import os
import time
import urllib.error
import urllib.request

from . import validate

LOG = logging.getLogger('lab.talos')
USERDATA_PATH = '/hetzner/v1/userdata'
MAINTENANCE_LOG = 'maintenance.log'
FETCH_ATTEMPTS = 5


def fetch(url, attempts=FETCH_ATTEMPTS):
    """The user data bytes, or None when the platform has none (404 or an empty answer)."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # link-local: never through a proxy
    for attempt in range(1, attempts + 1):
        try:
            with direct.open(url + USERDATA_PATH, timeout=5) as response:
                return response.read() or None
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            LOG.warning('metadata service answered %s (attempt %d)', exc.code, attempt)
        except OSError as exc:
            LOG.warning('metadata service not reachable: %s (attempt %d)', exc, attempt)
        time.sleep(0.5 * attempt)
    return None


def boot(node):
    """A node with no config of its own takes the platform's user data, as Talos does at boot."""
    url = node.cfg.get('metadata_url')
    if not url or not node.maintenance:
        return
    data = fetch(url)
    if data is None:
        LOG.info('no user data on the metadata service: maintenance mode')
        return
    try:
        docs = validate.check(data, node.version)
    except validate.ConfigError as exc:
        LOG.warning('the user data is not a valid machine config (%s): maintenance mode', exc)
        return
    node.set_config(data, docs)
    node.stage = 'running'  # it boots configured: no maintenance stage at all
    LOG.info('booted with the machine config from the user data')


def note_maintenance(node):
    """Record that the node serves the unauthenticated maintenance API on its address now."""
    line = json.dumps({'time': time.time(), 'address': node.address, 'version': node.version})
    fd = os.open(os.path.join(node.dir, MAINTENANCE_LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, 'a', encoding='utf-8') as handle:
        handle.write(line + '\n')


def maintenance_history(node_dir):
    """[{'time', 'address', 'version'}] of every time the node in ``node_dir`` served maintenance mode."""
    try:
        with open(os.path.join(node_dir, MAINTENANCE_LOG), encoding='utf-8') as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except OSError:
        return []
