"""The pure parts of reaching the remote and of the age streams: paths, rclone's and age's messages, recipients."""
import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._backup import rclone, stream
from ansible_collections.hybridops.talos.plugins.module_utils._backup.errors import BackupError


@pytest.mark.parametrize('base, parts, joined', [
    ('gdrive:', ('prod', 'x'), 'gdrive:prod/x'),
    ('gdrive:backups', ('prod',), 'gdrive:backups/prod'),
    ('/srv/backups/', ('prod',), '/srv/backups/prod'),
])
def test_remote_paths_join_as_rclone_reads_them(base, parts, joined):
    assert rclone.join(base, *parts) == joined


def test_a_remote_needs_a_path_and_a_folder_name(tmp_path):
    remote = rclone.Remote('labdav:backups/', 'lab')
    assert remote.base == 'labdav:backups/lab' and remote.path('s', 'manifest.json') == 'labdav:backups/lab/s/manifest.json'
    for bad in ('', '  ', 'a\nb'):
        with pytest.raises(BackupError):
            rclone.Remote(bad, 'lab')
    with pytest.raises(BackupError, match='does not exist'):
        rclone.Remote('x:', 'lab', config=str(tmp_path / 'missing.conf'))


def test_messages_quote_the_last_error_line_without_noise():
    rclone_stderr = (b'2026/12/04 04:59:48 ERROR : : error listing: directory not found\n'
                     b'2026/12/04 04:59:48 Failed to lsjson with 2 errors: last error was: directory not found\n')
    assert rclone.last_error(rclone_stderr) == 'Failed to lsjson with 2 errors: last error was: directory not found'
    age_stderr = b'age: error: no identity matched any of the recipients\nage: report unexpected or unhelpful errors at https://x\n'
    assert rclone.last_error(age_stderr) == 'no identity matched any of the recipients'
    assert rclone.last_error(b'') == 'no error message'


def test_hashsum_output_is_read_per_object():
    output = b'abc123  etcd.snapshot.age\n                                          vault/raft.snap.age\n'
    assert rclone._parse_hashsum(output) == {'etcd.snapshot.age': 'abc123', 'vault/raft.snap.age': ''}  # pylint: disable=protected-access


def test_recipients_are_public_keys_and_a_private_key_is_never_echoed():
    assert stream.check_recipients([' age1abc ', 'ssh-ed25519 AAAA x']) == ['age1abc', 'ssh-ed25519 AAAA x']
    with pytest.raises(BackupError) as secret:
        stream.check_recipients(['AGE-SECRET-KEY-1QQQQQQ'])
    assert 'private key' in str(secret.value) and 'QQQQQQ' not in str(secret.value)
    for bad in ([], ['hello'], ['age1x\nage1y']):
        with pytest.raises(BackupError):
            stream.check_recipients(bad)


@pytest.mark.parametrize('error, says', [
    ('no identity matched any of the recipients', 'cannot be decrypted with this age identity'),
    ('failed to decrypt and authenticate payload chunk', 'failed age authentication'),
    ('failed to read header: failed to parse header: failed to read line: EOF', 'is not an intact age file'),
])
def test_age_failures_say_whether_the_key_or_the_data_is_wrong(error, says):
    assert stream.describe_age_failure(error, 'etcd.snapshot of set s').startswith('etcd.snapshot of set s ' + says)
