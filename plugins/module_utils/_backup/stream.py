# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Items streamed through age to the remote, and back: ``source → check → age → rclone rcat`` and
``rclone cat → age -d → check → sink``, with nothing written to local disk and memory that does not
grow with the item (pipes and one chunk at a time).

On the way up, the plaintext is hashed and checked as it passes (``verify.py``), the ciphertext is
hashed in a pump thread between age and rclone (the sum the remote must give back), and the **last
chunk is held back** until the check has passed: a stream that fails its check never reaches its end,
so age never writes its final, authenticated chunk and rclone never sees a complete upload — it is
killed first. Whatever reached the remote is then an unreadable fragment in a folder without a
manifest, which the caller removes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import threading

from .errors import BackupError
from .rclone import last_error

CHUNK = 1024 * 1024
AGE_RECIPIENT_PREFIXES = ('age1', 'ssh-ed25519 ', 'ssh-rsa ')


def age_binary():
    binary = shutil.which('age')
    if not binary:
        raise BackupError('age_missing', 'the age binary is needed to encrypt and decrypt backups: install the age package.')
    return binary


def check_recipients(recipients):
    """Refuse anything that is not an age public key (or an SSH public key), without echoing it back:
    a private key pasted by mistake must not end up in a message."""
    if not recipients:
        raise BackupError('bad_input', 'at least one age recipient (a public key, age1...) is needed to encrypt the backup.')
    for index, recipient in enumerate(recipients):
        text = (recipient or '').strip()
        if text.upper().startswith('AGE-SECRET-KEY-'):
            raise BackupError('bad_input', 'age recipient number %d is a private key (AGE-SECRET-KEY-...): give its public '
                                           'key (age-keygen -y) and keep the private key off the backup host.' % (index + 1))
        if not text.startswith(AGE_RECIPIENT_PREFIXES) or '\n' in text:
            raise BackupError('bad_input', 'age recipient number %d is not an age public key (age1...) or an SSH public key.'
                              % (index + 1))
    return [recipient.strip() for recipient in recipients]


class _StderrTail:
    """Drain a process's stderr in a thread (a full pipe would stall it) and keep its end for messages."""

    LIMIT = 16 * 1024

    def __init__(self, proc):
        self.data = b''
        self._thread = threading.Thread(target=self._drain, args=(proc.stderr,), daemon=True)
        self._thread.start()

    def _drain(self, pipe):
        try:
            for piece in iter(lambda: os.read(pipe.fileno(), 4096), b''):
                self.data = (self.data + piece)[-self.LIMIT:]
        except (OSError, ValueError):
            pass

    def text(self):
        self._thread.join(5)
        return last_error(self.data)


def _kill(proc):
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


class EncryptedUpload:
    """One item: ``write()`` plaintext chunks, then ``finish()`` (or ``abort()``); see the module docstring.

    ``check`` is a verify.py check; its ``finish()`` decides whether the upload may complete.
    """

    def __init__(self, remote, relative, recipients, check):
        self.remote, self.relative, self.check = remote, relative, check
        self.recipients = check_recipients(recipients)
        self._held = None
        self._age = self._rclone = self._pump = None
        self._pump_error = None
        self._encrypted = hashlib.sha256()
        self.encrypted_size = 0
        self.done = False

    def __enter__(self):
        command = [age_binary()]
        for recipient in self.recipients:
            command += ['--recipient', recipient]
        self._age = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        self._age_err = _StderrTail(self._age)
        read_end, write_end = os.pipe()
        try:
            self._rclone = self.remote.upload_process(self.relative, read_end)
            self._rclone_err = _StderrTail(self._rclone)
        except BaseException:
            os.close(write_end)
            _kill(self._age)
            raise
        finally:
            os.close(read_end)
        self._pump = threading.Thread(target=self._pump_ciphertext, args=(write_end,), daemon=True)
        self._pump.start()
        return self

    def __exit__(self, exc_type, exc, traceback):
        if not self.done:
            self.abort()
        return False

    def _pump_ciphertext(self, write_end):
        """age's output to rclone's input, hashed on the way (runs in a thread: hashlib and pipes release the GIL)."""
        try:
            with os.fdopen(write_end, 'wb', buffering=0) as sink:
                while True:
                    chunk = self._age.stdout.read(CHUNK)
                    if not chunk:
                        break
                    self._encrypted.update(chunk)
                    self.encrypted_size += len(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[sink.write(view):]
        except OSError as exc:  # rclone went away (killed on abort, or failed)
            self._pump_error = exc

    def write(self, chunk):
        """Feed plaintext; the newest chunk waits until the next one (or ``finish``)."""
        if not chunk:
            return
        self.check.feed(chunk)
        if self._held is not None:
            self._to_age(self._held)
        self._held = chunk

    def _to_age(self, chunk):
        try:
            self._age.stdin.write(chunk)
        except OSError:
            self._age.wait()
            raise BackupError('encrypt_failed', 'age stopped while encrypting %s: %s.'
                              % (self.check.what, self._age_err.text())) from None

    def finish(self):
        """Check the item; only then send the held-back chunk and let age and rclone complete. Returns the
        item's facts: size, sha256 (plaintext), encrypted_size, encrypted_sha256, checks."""
        facts = self.check.finish()  # raises: __exit__ aborts, the stream never completes
        if self._held is not None:
            self._to_age(self._held)
            self._held = None
        self._age.stdin.close()
        self._pump.join()
        age_code = self._age.wait()
        rclone_code = self._rclone.wait()
        if age_code != 0:
            raise BackupError('encrypt_failed', 'age could not encrypt %s: %s.' % (self.check.what, self._age_err.text()))
        if rclone_code != 0 or self._pump_error is not None:
            raise BackupError('remote_failed', 'rclone could not upload %s: %s.' % (self.check.what, self._rclone_err.text()))
        self.done = True
        facts.update(encrypted_size=self.encrypted_size, encrypted_sha256=self._encrypted.hexdigest())
        return facts

    def abort(self):
        """Stop without completing: rclone first (so it never sees a normal end of input), then age."""
        self.done = True
        _kill(self._rclone)
        _kill(self._age)
        if self._pump is not None:
            self._pump.join()


def upload(remote, relative, recipients, check, chunks):
    """Stream ``chunks`` (an iterable of bytes) as one encrypted item; return its facts."""
    with EncryptedUpload(remote, relative, recipients, check) as stream:
        for chunk in chunks:
            stream.write(chunk)
        return stream.finish()


class DecryptedDownload:
    """``rclone cat | age --decrypt``: iterate over the plaintext of one item, then ``close()`` says whether
    both ended well (age authenticates every chunk: a changed byte or a wrong identity fails here)."""

    def __init__(self, remote, relative, identity, what):
        self.remote, self.relative, self.identity, self.what = remote, relative, identity, what
        self._rclone = self._age = None

    def __enter__(self):
        self._rclone = self.remote.download_process(self.relative)
        self._rclone_err = _StderrTail(self._rclone)
        try:
            self._age = subprocess.Popen([age_binary(), '--decrypt', '--identity', self.identity], stdin=self._rclone.stdout,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        except BaseException:
            _kill(self._rclone)
            raise
        self._age_err = _StderrTail(self._age)
        self._rclone.stdout.close()  # age owns the read end now
        return self

    def __iter__(self):
        while True:
            chunk = self._age.stdout.read(CHUNK)
            if not chunk:
                return
            yield chunk

    def close(self):
        """Raise unless rclone and age both succeeded."""
        age_code = self._age.wait()
        rclone_code = self._rclone.wait()
        rclone_error = self._rclone_err.text() if rclone_code != 0 else ''
        # age stopping early (bad data) breaks rclone's pipe: then age's error is the cause, not rclone's.
        broken_pipe = rclone_code == -signal.SIGPIPE or 'broken pipe' in rclone_error.lower()
        if rclone_code != 0 and not (age_code != 0 and broken_pipe):
            raise BackupError('remote_failed', 'rclone could not read %s: %s.' % (self.what, rclone_error.rstrip('.')))
        if age_code != 0:
            raise BackupError('decrypt_failed', describe_age_failure(self._age_err.text(), self.what))

    def __exit__(self, exc_type, exc, traceback):
        for proc in (self._age, self._rclone):
            _kill(proc)
        if self._age is not None:
            self._age.stdout.close()
        return False


def describe_age_failure(error, what):
    """One sentence for an age decryption failure: the identity, or the data."""
    lowered = error.lower()
    if 'no identity matched' in lowered:
        return ('%s cannot be decrypted with this age identity: it was encrypted for other recipients (wrong identity '
                'file, or a set of another cluster).' % what)
    if 'failed to read header' in lowered or 'parse' in lowered or 'header' in lowered:
        return '%s is not an intact age file (its header is damaged or it is not age data): %s.' % (what, error.rstrip('.'))
    return '%s failed age authentication: it was changed or truncated after it was written (%s).' % (what, error.rstrip('.'))


def download(remote, relative, identity, check, sink=None):
    """Decrypt one item through ``check`` (and into ``sink(chunk)`` when given); return the check's facts."""
    with DecryptedDownload(remote, relative, identity, check.what) as stream:
        for chunk in stream:
            check.feed(chunk)
            if sink is not None:
                sink(chunk)
        stream.close()
    return check.finish()
