"""A real etcd member (Debian's ``/usr/bin/etcd``) for a simulated control plane.

Plain HTTP inside the lab (client 2379, peer 2380 on the node address, and 127.0.0.1:2379 in the
node's own namespace): Talos' etcd uses TLS from the etcd CA, which adds nothing the lab tests.
The member is named after the node, its data lives in the node directory (so a restart keeps it),
and the v3 JSON gateway that etcd serves on the client port answers member list, status and
member add; snapshots come from ``etcdctl snapshot save`` (the v3 maintenance Snapshot call), and a
recovery restores an uploaded snapshot with ``etcdctl snapshot restore`` as Talos does with etcdutl.
"""
import asyncio
import json
import os
import shutil
import signal
import urllib.error
import urllib.request

ETCD = os.environ.get('LAB_ETCD', '/usr/bin/etcd')
ETCDCTL = os.environ.get('LAB_ETCDCTL', '/usr/bin/etcdctl')
CLIENT_PORT, PEER_PORT = 2379, 2380


class EtcdError(Exception):
    pass


def peer_url(address):
    return 'http://%s:%d' % (address, PEER_PORT)


def client_url(address):
    return 'http://%s:%d' % (address, CLIENT_PORT)


def _post(url, body, timeout=5):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method='POST',
                                     headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise EtcdError('%s: %s' % (url, exc.read().decode(errors='replace').strip())) from None
    except (OSError, ValueError) as exc:
        raise EtcdError('%s: %s' % (url, exc)) from None


async def call(base, path, body=None, timeout=5):
    """POST to etcd's v3 JSON gateway at ``base`` (``http://host:2379``) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, _post, base + '/v3' + path, body or {}, timeout)


class Member:
    def __init__(self, name, address, directory, cluster_token):
        self.name, self.address = name, address
        self.data_dir = os.path.join(directory, 'etcd')
        self.log_path = os.path.join(directory, 'etcd.log')
        self.snapshot_dir = directory
        self.token = cluster_token
        self.proc = None
        self.state = 'Preparing'
        self.local = client_url('127.0.0.1')

    def has_data(self):
        return os.path.isdir(os.path.join(self.data_dir, 'member'))

    def running(self):
        return self.proc is not None and self.proc.returncode is None

    async def start(self, initial_cluster=None, cluster_state='new'):
        """Start etcd; ``initial_cluster`` ({name: peer URL}) matters only for an empty data dir."""
        initial_cluster = initial_cluster or {self.name: peer_url(self.address)}
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.state = 'Starting'
            self.proc = await asyncio.create_subprocess_exec(
                ETCD, '--name', self.name, '--data-dir', self.data_dir,
                '--listen-client-urls', '%s,%s' % (client_url(self.address), self.local),
                '--advertise-client-urls', client_url(self.address),
                '--listen-peer-urls', peer_url(self.address), '--initial-advertise-peer-urls', peer_url(self.address),
                '--initial-cluster', ','.join('%s=%s' % item for item in sorted(initial_cluster.items())),
                '--initial-cluster-state', cluster_state, '--initial-cluster-token', self.token,
                '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn',
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)
        finally:
            os.close(log)
        await self.wait_healthy()

    async def wait_healthy(self, timeout=30):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.proc.returncode is not None:
                self.state = 'Failed'
                raise EtcdError('etcd exited with status %s; see %s' % (self.proc.returncode, self.log_path))
            try:
                await call(self.local, '/kv/range', {'key': 'aGVhbHRo'}, timeout=1)  # a linearizable read = quorum
                self.state = 'Running'
                return
            except EtcdError:
                await asyncio.sleep(0.1)
        raise EtcdError('etcd did not become healthy within %d s; see %s' % (timeout, self.log_path))

    async def stop(self):
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None
        # Talos' service states: a stopped service is Finished; one without data waits (Preparing) again.
        self.state = 'Preparing' if not self.has_data() else 'Finished'

    def wipe(self):
        """Remove the data directory (the EPHEMERAL partition is wiped): the member waits for a bootstrap again."""
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.state = 'Preparing'

    async def join(self, peer_address):
        """Become a member of the cluster that the member at ``peer_address`` belongs to (member add, then start)."""
        base = client_url(peer_address)
        mine = peer_url(self.address)
        listing = await call(base, '/cluster/member/list')
        present = [m for m in listing.get('members', ()) if mine in m.get('peerURLs', ())]
        if not present:
            listing = await call(base, '/cluster/member/add', {'peerURLs': [mine]})
        members = {}
        for member in listing.get('members', ()):
            url = member.get('peerURLs', [None])[0]
            members[self.name if url == mine else member.get('name')] = url
        members.pop(None, None)
        members.pop('', None)
        await self.start(members, 'existing')

    async def leave(self):
        """Remove this member from its cluster (a graceful reset of a control plane leaves etcd first)."""
        status = await self.status()
        await call(self.local, '/cluster/member/remove', {'ID': status['header']['member_id']})

    async def restore(self, snapshot_path, skip_hash_check=False):
        """Turn an uploaded snapshot into this member's data: a one-member cluster named after the node, as
        Talos' recovery does (status first, then restore with the node's peer URL); the snapshot is removed."""
        status = await _etcdctl('snapshot', 'status', snapshot_path, '-w', 'json')
        if status[0] != 0:
            raise EtcdError('error verifying snapshot: %s' % status[1])
        shutil.rmtree(self.data_dir, ignore_errors=True)
        args = ['snapshot', 'restore', snapshot_path, '--name', self.name, '--data-dir', self.data_dir,
                '--initial-cluster', '%s=%s' % (self.name, peer_url(self.address)),
                '--initial-advertise-peer-urls', peer_url(self.address), '--initial-cluster-token', self.token]
        if skip_hash_check:
            args.append('--skip-hash-check')
        restored = await _etcdctl(*args)
        if restored[0] != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise EtcdError('error recovering from the snapshot: %s' % restored[1])
        os.chmod(self.data_dir, 0o700)
        os.remove(snapshot_path)

    async def members(self):
        return (await call(self.local, '/cluster/member/list')).get('members', [])

    async def status(self):
        return await call(self.local, '/maintenance/status')

    async def snapshot(self):
        """Path of a fresh snapshot file (the caller streams and deletes it)."""
        path = os.path.join(self.snapshot_dir, 'snapshot.%d.db' % os.getpid())
        code, output = await _etcdctl('--endpoints', self.local, 'snapshot', 'save', path)
        if code != 0:
            raise EtcdError('etcdctl snapshot save failed: %s' % output)
        os.chmod(path, 0o600)
        return path


async def _etcdctl(*args):
    """(exit status, output on one line) of an etcdctl command."""
    proc = await asyncio.create_subprocess_exec(ETCDCTL, *args, env=dict(os.environ, ETCDCTL_API='3'),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = (await proc.communicate())[0]
    return proc.returncode, ' '.join(output.decode(errors='replace').split())
