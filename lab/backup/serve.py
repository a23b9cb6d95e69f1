"""``python -m lab.backup.serve CONFIG.json``: the Vault stand-in and ``rclone serve webdav``, supervised.

Ends (and stops rclone) on SIGTERM, when rclone dies, or when the lab's state folder is removed (a
``python -m lab down`` that does not know about this process).
"""
import json
import os
import signal
import subprocess
import sys
import time

from .vault import VaultStandIn


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding='utf-8') as handle:
        config = json.load(handle)
    vault = VaultStandIn(config['host'], config['vault_port'], config['vault_token'], config['vault_cert'], config['vault_key'],
                         config.get('vault_state_size', 256 * 1024))
    vault.start()
    # No directory cache: tests look at (and change) the remote's folder directly, as an operator with access to
    # the storage behind a remote could.
    webdav = subprocess.Popen(['rclone', 'serve', 'webdav', config['remote_dir'], '--addr', '%s:%d' % (config['host'], config['webdav_port']),
                               '--user=' + config['webdav_user'], '--pass=' + config['webdav_pass'], '--dir-cache-time', '0s'],
                              stdin=subprocess.DEVNULL)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        while not stopping and webdav.poll() is None and os.path.isdir(config['dir']):
            time.sleep(0.5)
    finally:
        if webdav.poll() is None:
            webdav.terminate()
            webdav.wait(10)
        vault.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
