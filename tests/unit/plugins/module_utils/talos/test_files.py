"""Secret files: 0600 files in 0700 folders, refused when others can read them, age round trip."""
import os
import stat
import subprocess

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils._talos import files
from ansible_collections.hybridops.talos.plugins.module_utils._talos.errors import TalosConfigError


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_file_is_0600_in_a_new_0700_folder(tmp_path):
    path = str(tmp_path / 'new' / 'deeper' / 'secrets.yaml')
    files.write_private_file(path, b'data', 'secrets bundle', strict_dir=True)
    assert mode(path) == 0o600 and mode(os.path.dirname(path)) == 0o700
    assert files.read_file(path, 'secrets bundle') == b'data'
    assert [p for p in os.listdir(os.path.dirname(path)) if p.endswith('.tmp')] == []


def test_a_readable_secrets_file_is_refused_with_the_fix(tmp_path):
    path = tmp_path / 'secrets.yaml'
    path.write_bytes(b'x')
    os.chmod(path, 0o640)
    with pytest.raises(TalosConfigError, match=r'has mode 0640: it holds private keys and must be 0600 \(chmod 600 '):
        files.read_file(str(path), 'secrets bundle')


def test_a_folder_others_can_enter_is_refused_for_the_bundle_only(tmp_path):
    folder = tmp_path / 'open'
    folder.mkdir()
    os.chmod(folder, 0o755)
    with pytest.raises(TalosConfigError, match='has mode 0755: secrets live in a 0700 folder'):
        files.write_private_file(str(folder / 'secrets.yaml'), b'x', 'secrets bundle', strict_dir=True)
    files.write_private_file(str(folder / 'config.yaml'), b'x', 'machine config')
    assert mode(str(folder / 'config.yaml')) == 0o600


@pytest.mark.parametrize('folder_mode', [0o755, 0o750, 0o711, 0o701, 0o770])
def test_a_bundle_in_a_folder_others_can_read_or_enter_is_refused_on_read(tmp_path, folder_mode):
    folder = tmp_path / 'secrets'
    folder.mkdir(mode=0o700)
    files.write_private_file(str(folder / 'secrets.yaml'), b'bundle', 'secrets bundle', strict_dir=True)
    assert files.read_file(str(folder / 'secrets.yaml'), 'secrets bundle', secrets_folder=True) == b'bundle'
    os.chmod(folder, folder_mode)
    with pytest.raises(TalosConfigError) as refused:
        files.read_file(str(folder / 'secrets.yaml'), 'secrets bundle', secrets_folder=True)
    assert refused.value.reason == 'bad_permissions' and refused.value.failure['mode'] == '%04o' % folder_mode
    assert str(refused.value) == ('the folder %s of secrets bundle %s/secrets.yaml has mode %04o: secrets live in a 0700 folder '
                                  'that nobody else can read or enter (chmod 700 %s).' % (folder, folder, folder_mode, folder))
    # Other private files (a kubeconfig in ~/.kube) are only held to their own mode.
    assert files.read_file(str(folder / 'secrets.yaml'), 'kubeconfig') == b'bundle'


def test_missing_file_is_named(tmp_path):
    with pytest.raises(TalosConfigError, match='secrets bundle .*/absent.yaml does not exist'):
        files.read_file(str(tmp_path / 'absent.yaml'), 'secrets bundle')


def test_age_round_trip_and_a_clear_error_without_identity(tmp_path):
    identity = str(tmp_path / 'key')
    subprocess.run(['age-keygen', '-o', identity], check=True, capture_output=True)
    recipient = subprocess.run(['age-keygen', '-y', identity], check=True, capture_output=True, text=True).stdout.strip()
    encrypted = files.age_encrypt(b'secret: 1\n', [recipient], 'bundle')
    assert files.is_age(encrypted) and b'secret' not in encrypted
    path = str(tmp_path / 'b.age')
    files.write_private_file(path, encrypted, 'secrets bundle')
    assert files.read_file(path, 'secrets bundle', age_identity=identity) == b'secret: 1\n'
    with pytest.raises(TalosConfigError, match='is age-encrypted: give the age identity file'):
        files.read_file(path, 'secrets bundle')
    other = str(tmp_path / 'other')
    subprocess.run(['age-keygen', '-o', other], check=True, capture_output=True)
    with pytest.raises(TalosConfigError, match='cannot decrypt secrets bundle .* with age identity'):
        files.read_file(path, 'secrets bundle', age_identity=other)


def test_a_folder_another_fork_creates_meanwhile_is_fine(tmp_path, monkeypatch):
    """Forks of one task write sibling files at once: losing the race to create the folder is not an error."""
    folder = tmp_path / 'configs'
    folder.mkdir(mode=0o700)
    # The folder appears between our look and our mkdir, as when another fork made it.
    monkeypatch.setattr(files.os.path, 'isdir', lambda path: False)
    files.ensure_private_dir(str(folder), 'machine config', strict=True)
    monkeypatch.undo()
    folder.chmod(0o755)
    monkeypatch.setattr(files.os.path, 'isdir', lambda path: False)
    with pytest.raises(files.TalosConfigError, match='has mode 0755'):
        files.ensure_private_dir(str(folder), 'machine config', strict=True)
