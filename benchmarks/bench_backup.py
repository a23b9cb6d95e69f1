"""Stream a 1 GiB snapshot-sized item through encrypt + upload, against ``age -r … | rclone rcat``.

What is compared, on the same input, in the same run, to the same remote (the lab's ``rclone serve
webdav``, started here with ``python -m lab.backup up`` in a state folder of its own):

* **ours**: the path every item of a backup set takes (``SetWriter.add``: the etcd snapshot check
  hashing and checking the plaintext as it passes, age, a pump thread hashing the ciphertext, rclone
  rcat, the last chunk held back until the check passed), in a child process fed from a file;
* **anchor**: ``age -r RECIPIENT < input | rclone rcat remote:path`` in a shell.

The input is an etcd snapshot of 1 GiB: the pages of a real snapshot (tests/unit fixture), random
pages after them, and the sha256 of it all at the end, so our check does all its work and passes.
Peak memory is the highest sum of the resident sets of the whole process tree (Python, age, rclone),
sampled every 20 ms. Ours and the anchor alternate, three runs each; the medians are compared.

Prints ``RESULT backup bytes=<n> peak_rss_mb=<m> seconds=<s> anchor_seconds=<a>``; fails when peak
RSS is over 150 MB or ours takes more than 1.25 times the anchor.
"""
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.hybridops.talos.plugins.module_utils._backup import collect  # noqa: E402
from ansible_collections.hybridops.talos.plugins.module_utils._backup.rclone import Remote  # noqa: E402
from ansible_collections.hybridops.talos.plugins.module_utils._backup.sets import SetWriter  # noqa: E402

SIZE = int(os.environ.get('BENCH_BACKUP_BYTES') or 1024 ** 3)
RUNS = 3
TARGET_RSS_MB = 150
TARGET_RATIO = 1.25
FIXTURE = os.path.join(ROOT, 'tests', 'unit', 'plugins', 'module_utils', 'backup', 'fixtures', 'etcd-3.4.snapshot')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def make_input(path, size):
    """A valid etcd snapshot: a real database grown with random pages to ``size`` bytes (whole pages, as a
    database is), then its 32-byte sha256."""
    with open(FIXTURE, 'rb') as handle:
        database = handle.read()[:-32]
    body = size - size % 4096
    digest = hashlib.sha256()
    with open(path, 'wb') as out:
        for piece in (database, None):
            if piece is None:
                left = body - len(database)
                while left:
                    piece = os.urandom(min(left, 4 * 1024 * 1024))
                    left -= len(piece)
                    digest.update(piece)
                    out.write(piece)
            else:
                digest.update(piece)
                out.write(piece)
        out.write(digest.digest())


def tree_pids(pid):
    """``pid`` and all its descendants."""
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry, encoding='ascii', errors='replace') as handle:
                    parent = int(handle.read().rpartition(')')[2].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def rss(pids):
    """Resident bytes of ``pids`` together."""
    total = 0
    for pid in pids:
        try:
            with open('/proc/%d/statm' % pid, encoding='ascii') as handle:
                total += int(handle.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
        except (OSError, ValueError, IndexError):
            pass
    return total


def measured(command, env=None):
    """(seconds, peak tree RSS in bytes, stdout) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, cwd=ROOT)
    peak = [0]
    done = threading.Event()

    def sample():
        # The process tree is looked up every 0.2 s (walking /proc costs CPU the measured side would miss),
        # the resident sets of its members every 20 ms.
        pids, count = [proc.pid], 0
        while not done.is_set():
            if count % 10 == 0:
                pids = tree_pids(proc.pid)
            count += 1
            peak[0] = max(peak[0], rss(pids))
            time.sleep(0.02)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.communicate()[0]
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit('bench-backup: %s failed with status %d' % (command[0], proc.returncode))
    return seconds, peak[0], output


def stream_one(input_path, remote, config, cluster, recipient):
    """The child process of ``ours``: one item through SetWriter, as backup_set streams it."""
    writer = SetWriter(Remote(remote, cluster, config), [recipient])
    facts = writer.add('etcd.snapshot', 'etcd_snapshot', 'the bench input', collect.file_feed(input_path))
    print('%d %s %s' % (facts['size'], facts['sha256'], writer.set_id))


def main():
    if len(sys.argv) == 7 and sys.argv[1] == '--stream':
        return stream_one(*sys.argv[2:])
    work = tempfile.mkdtemp(prefix='bench-backup-', dir=os.path.join(ROOT, '.cache') if os.path.isdir(os.path.join(ROOT, '.cache')) else None)
    env = dict(os.environ, LAB_STATE_DIR=os.path.join(work, 'lab'), LAB_WEBDAV_PORT=str(free_port()), LAB_VAULT_PORT=str(free_port()))
    os.makedirs(env['LAB_STATE_DIR'], mode=0o700)
    up = subprocess.run([sys.executable, '-m', 'lab.backup', 'up'], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if up.returncode != 0:
        sys.exit('bench-backup: python -m lab.backup up failed: %s' % (up.stderr or up.stdout))
    try:
        with open(os.path.join(env['LAB_STATE_DIR'], 'backup', 'env'), encoding='utf-8') as handle:
            lab = dict(line.strip().split('=', 1) for line in handle if '=' in line and not line.startswith('#'))
        input_path = os.path.join(work, 'etcd.snapshot')
        make_input(input_path, SIZE)
        ours, anchor = [], []
        for run in range(RUNS):
            anchor.append(measured(['bash', '-c', 'set -o pipefail; age -r "$R" < "$IN" | rclone --config "$C" rcat "$D"'],
                                   env=dict(os.environ, R=lab['BACKUP_AGE_RECIPIENT'], IN=input_path, C=lab['RCLONE_CONFIG'],
                                            D='%s/anchor/run-%d.age' % (lab['BACKUP_REMOTE'], run))))
            ours.append(measured([sys.executable, os.path.abspath(__file__), '--stream', input_path, lab['BACKUP_REMOTE'],
                                  lab['RCLONE_CONFIG'], 'bench', lab['BACKUP_AGE_RECIPIENT']]))
            size = int(ours[-1][2].split()[0])
            print('bench-backup: run %d: ours %.2f s (peak %.0f MB), anchor %.2f s (peak %.0f MB), ratio %.2f'
                  % (run + 1, ours[-1][0], ours[-1][1] / 1e6, anchor[-1][0], anchor[-1][1] / 1e6, ours[-1][0] / anchor[-1][0]))
        seconds, anchor_seconds = statistics.median(r[0] for r in ours), statistics.median(r[0] for r in anchor)
        peak_mb = max(r[1] for r in ours) / 1e6
        print('RESULT backup bytes=%d peak_rss_mb=%.0f seconds=%.2f anchor_seconds=%.2f' % (size, peak_mb, seconds, anchor_seconds))
    finally:
        subprocess.run([sys.executable, '-m', 'lab.backup', 'down'], cwd=ROOT, env=env, capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)
    failed = []
    if peak_mb > TARGET_RSS_MB:
        failed.append('peak RSS %.0f MB is over %d MB' % (peak_mb, TARGET_RSS_MB))
    if seconds > TARGET_RATIO * anchor_seconds:
        failed.append('%.2f s is over %.2f x the anchor (%.2f s)' % (seconds, TARGET_RATIO, anchor_seconds))
    if failed:
        sys.exit('bench-backup: ' + '; '.join(failed))
    return 0


if __name__ == '__main__':
    sys.exit(main())
