# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup remote, reached with the ``rclone`` binary: any rclone remote works (Google Drive in
production, ``rclone serve webdav`` in the lab, a local folder for a quick try).

Credentials stay in rclone's own config file (``--config``, else ``RCLONE_CONFIG``, else rclone's
default), which this code never reads: it passes paths, and quotes only rclone's last error line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from .errors import BackupError
from .manifest import MANIFEST, check_cluster_name, set_time

COMMAND_TIMEOUT = 600
_LOG_PREFIX = re.compile(r'^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (?:[A-Z]+\s*:\s*)?')


def rclone_binary():
    binary = shutil.which('rclone')
    if not binary:
        raise BackupError('rclone_missing', 'the rclone binary is needed to reach the backup remote: install the rclone package.')
    return binary


def join(base, *parts):
    """``remote:dir`` + ``a`` → ``remote:dir/a``; ``remote:`` + ``a`` → ``remote:a``."""
    path = base
    for part in parts:
        path = path + part if path.endswith((':', '/')) else path + '/' + part
    return path


def last_error(stderr):
    """The last error line of rclone's or age's stderr, without timestamps or program prefix, for messages."""
    lines = [_LOG_PREFIX.sub('', line).strip() for line in (stderr or b'').decode('utf-8', 'replace').splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if 'error' in line.lower() and 'report unexpected' not in line]
    line = (errors or lines or ['no error message'])[-1]
    return re.sub(r'^age: (error: )?', '', line)


class Remote:
    """The sets of one cluster on one rclone remote: ``<remote>/<cluster>/<set id>/``."""

    def __init__(self, remote, cluster, config=None):
        if not remote or not remote.strip() or '\n' in remote:
            raise BackupError('bad_input', 'the backup remote must be an rclone path such as gdrive:talos-backups.')
        if config and not os.path.isfile(config):
            raise BackupError('bad_input', 'the rclone config file %s does not exist.' % config)
        self.remote = remote.rstrip('/') if not remote.endswith(':/') else remote
        self.cluster = check_cluster_name(cluster)
        self.config = config
        self.base = join(self.remote, self.cluster)

    def path(self, *parts):
        return join(self.base, *parts)

    def command(self, *args):
        command = [rclone_binary()]
        if self.config:
            command += ['--config', self.config]
        return command + list(args)

    def run(self, what, *args, data=None, codes=(0,), timeout=COMMAND_TIMEOUT):
        """Run one rclone command; return the CompletedProcess (stdout bytes) or raise naming ``what``."""
        try:
            proc = subprocess.run(self.command(*args), input=data, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BackupError('remote_failed', 'rclone could not %s within %d s.' % (what, timeout)) from None
        if proc.returncode not in codes:
            raise BackupError('remote_failed', 'rclone could not %s: %s.' % (what, last_error(proc.stderr).rstrip('.')),
                              exit_code=proc.returncode)
        return proc

    # --- listing and small objects ---------------------------------------------------------------

    def list_sets(self):
        """({set id: started} of sets with a manifest, {folder: started or None} of folders without one)."""
        import json  # pylint: disable=import-outside-toplevel

        # Exit status 3: the cluster's folder does not exist yet, so there is no set.
        proc = self.run('list the sets in %s' % self.base, 'lsjson', '--recursive', '--max-depth', '2', self.base,
                        codes=(0, 3))
        if proc.returncode == 3:
            return {}, {}
        try:
            entries = json.loads(proc.stdout or b'[]')
        except ValueError:
            raise BackupError('remote_failed', 'rclone listed %s in a form that is not JSON.' % self.base) from None
        folders = {e['Path'] for e in entries if e.get('IsDir') and '/' not in e['Path']}
        with_manifest = {e['Path'].split('/')[0] for e in entries if not e.get('IsDir') and e['Path'].endswith('/' + MANIFEST)}
        complete = {name: set_time(name) for name in folders & with_manifest if set_time(name)}
        partial = {name: set_time(name) for name in folders - with_manifest}
        return complete, partial

    def read(self, relative, what):
        return self.run('read %s' % what, 'cat', self.path(relative)).stdout

    def write(self, relative, data, what):
        self.run('write %s' % what, 'rcat', self.path(relative), data=data)

    def purge(self, relative, what):
        """Remove a folder and everything in it; a folder already gone counts as removed."""
        self.run('remove %s' % what, 'purge', self.path(relative), codes=(0, 3))

    def hashes(self, relative):
        """({object: sha256} below a set folder, how they were obtained): the remote's own SHA-256 where the
        backend keeps one (Google Drive does), else by reading every object back (WebDAV, SFTP)."""
        folder = self.path(relative)
        proc = self.run('hash %s' % folder, 'hashsum', 'sha256', folder, codes=(0, 1, 2))
        found = _parse_hashsum(proc.stdout)
        if proc.returncode == 0 and found and all(found.values()):
            return found, 'sha256 kept by the remote'
        proc = self.run('read back and hash %s' % folder, 'hashsum', 'sha256', '--download', folder)
        return _parse_hashsum(proc.stdout), 'sha256 of every object read back'

    # --- streams ---------------------------------------------------------------------------------

    def upload_process(self, relative, stdin):
        """``rclone rcat`` into ``relative``, reading from the file descriptor or object ``stdin``."""
        return subprocess.Popen(self.command('rcat', self.path(relative)), stdin=stdin, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

    def download_process(self, relative):
        """``rclone cat`` of ``relative`` to a pipe (``proc.stdout``)."""
        return subprocess.Popen(self.command('cat', self.path(relative)), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)


def _parse_hashsum(output):
    found = {}
    for line in (output or b'').decode('utf-8', 'replace').splitlines():
        digest, sep, name = line.partition('  ')
        if sep and name:
            found[name.strip()] = digest.strip().lower()
    return found
