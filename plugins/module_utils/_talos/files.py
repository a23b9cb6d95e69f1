# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files that hold secrets: 0600 files, 0700 folders, atomic writes, optional age encryption.

age encryption uses the ``age`` binary (Debian package ``age``): ``age -r RECIPIENT`` to write,
``age -d -i IDENTITY`` to read. An encrypted file is recognised by its header, armoured or not.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile

from .errors import TalosConfigError

AGE_HEADERS = (b'age-encryption.org/v1', b'-----BEGIN AGE ENCRYPTED FILE-----')


def is_age(data):
    return data.lstrip().startswith(AGE_HEADERS)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def check_private_file(path, what):
    """Refuse a secrets file that others can read or write."""
    mode = mode_of(path)
    if mode & 0o077:
        raise TalosConfigError('%s %s has mode %04o: it holds private keys and must be 0600 (chmod 600 %s).'
                               % (what, path, mode, path), reason='bad_permissions', mode='%04o' % mode)


def check_secrets_folder(path, what):
    """Refuse a secrets file whose folder others can read, enter or write: the folder must be 0700 or stricter."""
    directory = os.path.dirname(os.path.abspath(path))
    mode = mode_of(directory)
    if mode & 0o077:
        raise TalosConfigError('the folder %s of %s %s has mode %04o: secrets live in a 0700 folder that nobody else can '
                               'read or enter (chmod 700 %s).' % (directory, what, path, mode, directory),
                               reason='bad_permissions', mode='%04o' % mode, path=directory)


def read_file(path, what, private=True, age_identity=None, secrets_folder=False):
    """Read a (possibly age-encrypted) file.

    With ``private`` its mode must be 0600 or stricter; with ``secrets_folder`` (the secrets bundle) also
    its folder must be 0700 or stricter, as when it is written.
    """
    if not os.path.exists(path):
        raise TalosConfigError('%s %s does not exist.' % (what, path), reason='missing_file')
    if secrets_folder:
        check_secrets_folder(path, what)
    if private:
        check_private_file(path, what)
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except OSError as exc:
        raise TalosConfigError('cannot read %s %s: %s.' % (what, path, exc.strerror), reason='unreadable') from None
    if is_age(data):
        data = age_decrypt(data, age_identity, '%s %s' % (what, path))
    return data


def _age_binary():
    binary = shutil.which('age')
    if not binary:
        raise TalosConfigError('the age binary is needed for encrypted secrets: install the age package.', reason='age_missing')
    return binary


def age_decrypt(data, identity, what):
    if not identity:
        raise TalosConfigError('%s is age-encrypted: give the age identity file that decrypts it.' % what, reason='age_identity_missing')
    if not os.path.exists(identity):
        raise TalosConfigError('age identity file %s does not exist.' % identity, reason='missing_file')
    proc = subprocess.run([_age_binary(), '--decrypt', '--identity', identity], input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        reason = proc.stderr.decode('utf-8', 'replace').strip().splitlines()
        raise TalosConfigError('cannot decrypt %s with age identity %s: %s.'
                               % (what, identity, reason[-1] if reason else 'age failed'), reason='age_failed')
    return proc.stdout


def age_encrypt(data, recipients, what):
    command = [_age_binary(), '--encrypt', '--armor']
    for recipient in recipients:
        command += ['--recipient', recipient]
    proc = subprocess.run(command, input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        reason = proc.stderr.decode('utf-8', 'replace').strip().splitlines()
        raise TalosConfigError('cannot encrypt %s for the age recipients: %s.' % (what, reason[-1] if reason else 'age failed'),
                               reason='age_failed')
    return proc.stdout


def ensure_private_dir(directory, what, strict):
    """Create ``directory`` 0700 when missing; with ``strict`` refuse one that others can enter."""
    if not os.path.isdir(directory):
        try:
            os.makedirs(directory, mode=0o700)
            os.chmod(directory, 0o700)
            return
        except FileExistsError:
            pass  # another fork (one task, many hosts) made it meanwhile: check its mode below
        except OSError as exc:
            raise TalosConfigError('cannot create the folder %s for %s: %s.' % (directory, what, exc.strerror),
                                   reason='unwritable') from None
    mode = mode_of(directory)
    if strict and mode & 0o077:
        raise TalosConfigError('the folder %s of %s has mode %04o: secrets live in a 0700 folder (chmod 700 %s).'
                               % (directory, what, mode, directory), reason='bad_permissions', mode='%04o' % mode)


def write_private_file(path, data, what, strict_dir=False):
    """Write ``data`` atomically to ``path`` as 0600, in a 0700 folder."""
    directory = os.path.dirname(os.path.abspath(path))
    ensure_private_dir(directory, what, strict_dir)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path), suffix='.tmp')
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise TalosConfigError('cannot write %s %s: %s.' % (what, path, exc.strerror), reason='unwritable') from None
