# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing the GitOps repository (gitops_repo): YAML text, the work tree, git, and sealing without churn.

Sealing gives new bytes every time, and the module cannot unseal to compare. So beside each sealed file it keeps,
outside the repository in ``state_dir`` (0700, files 0600), an HMAC-SHA256 of what was sealed (name, namespace,
scope, certificate and values) under a random key kept there too, and the SHA-256 of the file it wrote. A rerun
keeps the file when both still match; neither says anything about a value to someone who reads the repository.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os

from ansible.module_utils.common.yaml import yaml_dump

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError
from ansible_collections.hybridops.talos.plugins.module_utils import _sealed_secrets as sealing

HEADER = '# Written by hybridops.talos.gitops_repo: edits here are overwritten on the next run.\n'
MANAGED_TOP = ('clusters', 'infrastructure', 'apps')


def dump(objects):
    return HEADER + ''.join('---\n' + yaml_dump(obj, default_flow_style=False, sort_keys=True) for obj in objects)


class Repository:
    def __init__(self, module, path):
        self.module = module
        self.path = path

    def git(self, *args, check=True):
        rc, out, err = self.module.run_command(['git', '-C', self.path] + list(args))
        if check and rc != 0:
            lines = (err or out).strip().splitlines()
            rest = list(args)
            while rest[:1] == ['-c']:  # leading -c name=value settings
                rest = rest[2:]
            command = rest[0] if rest else 'git'
            raise ModuleError('git_failed', 'git %s in %s failed: %s' % (command, self.path, lines[-1] if lines else 'exit %d' % rc))
        return rc, out

    def ensure(self, url, branch, check=False):
        """Clone ``url`` when the work tree is missing, ``git init`` when it is no repository."""
        self.exists = os.path.isdir(os.path.join(self.path, '.git'))
        if self.exists or check:
            return
        if url and not os.path.exists(self.path):
            rc, out, err = self.module.run_command(['git', 'clone', '--quiet', url, self.path])
            if rc != 0:
                lines = err.strip().splitlines()
                raise ModuleError('git_failed', 'git clone of %s failed: %s' % (url, lines[-1] if lines else 'exit %d' % rc))
        else:
            os.makedirs(self.path, mode=0o755, exist_ok=True)
            self.git('init', '--quiet')
        # An empty clone has no branch yet: start the wanted one.
        if self.git('rev-parse', '--verify', '--quiet', 'HEAD', check=False)[0]:
            self.git('symbolic-ref', 'HEAD', 'refs/heads/%s' % branch)
        self.exists = True

    def read(self, rel):
        try:
            with open(os.path.join(self.path, rel), encoding='utf-8') as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _ours(self):
        """Files under the managed folders that this module wrote (they start with its header)."""
        found = []
        for top in MANAGED_TOP:
            for root, _dirs, names in os.walk(os.path.join(self.path, top)):
                for name in names:
                    rel = os.path.relpath(os.path.join(root, name), self.path)
                    if (self.read(rel) or '').startswith(HEADER):
                        found.append(rel)
        return found

    def plan(self, texts):
        """``(changes, diffs)``: {path: new text, or None to remove}."""
        changes, diffs = {}, []
        for rel, text in sorted(texts.items()):
            before = self.read(rel)
            mode_wrong = before is not None and (os.stat(os.path.join(self.path, rel)).st_mode & 0o777) != 0o644
            if before != text or mode_wrong:
                changes[rel] = text
                diffs.append({'before_header': rel, 'after_header': rel, 'before': before or '', 'after': text})
        for rel in self._ours():
            if rel not in texts:
                changes[rel] = None
                diffs.append({'before_header': rel, 'after_header': '/dev/null', 'before': self.read(rel), 'after': ''})
        return changes, diffs

    def apply(self, changes, texts):
        for rel, text in changes.items():
            full = os.path.join(self.path, rel)
            if text is None:
                os.unlink(full)
                continue
            os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
            tmp = full + '.tmp'
            with open(tmp, 'w', encoding='utf-8') as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, full)

    def commit(self, message, name, email):
        self.git('add', '--all', '--', *[t for t in MANAGED_TOP if os.path.isdir(os.path.join(self.path, t))])
        rc, _out = self.git('diff', '--cached', '--quiet', check=False)
        if rc == 0:
            return None
        self.git('-c', 'user.name=%s' % name, '-c', 'user.email=%s' % email, '-c', 'commit.gpgsign=false',
                 'commit', '--quiet', '-m', message)
        return self.git('rev-parse', 'HEAD')[1].strip()

    def push(self, remote, branch):
        """Push when the remote's branch lacks local commits; False when it already has them."""
        if self.git('rev-parse', '--verify', '--quiet', 'HEAD', check=False)[0]:
            return False
        rc, out = self.git('ls-remote', remote, 'refs/heads/%s' % branch)
        remote_head = out.split()[0] if out.strip() else None
        if remote_head == self.git('rev-parse', 'HEAD')[1].strip():
            return False
        self.git('push', '--quiet', remote, 'HEAD:refs/heads/%s' % branch)
        return True


def _private_file(path, data):
    fd = os.open(path + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)
    os.chmod(path + '.tmp', 0o600)
    os.replace(path + '.tmp', path)


class Sealer:
    """Seal each credential, or keep its sealed file when the same values were sealed into it for the same target."""

    def __init__(self, state_dir, certificate, check_mode=False):
        self.state_dir = state_dir
        self.public_key = sealing.load_certificate(certificate)
        self.cert_digest = hashlib.sha256(certificate.encode('utf-8')).hexdigest()
        key_path = os.path.join(state_dir, 'seal-digest.key')
        if check_mode and not os.path.exists(key_path):
            # Nothing may be written in check mode: without the key no file can be shown unchanged, so all reseal.
            self.key = os.urandom(32)
        else:
            os.makedirs(state_dir, mode=0o700, exist_ok=True)
            os.chmod(state_dir, 0o700)
            if not os.path.exists(key_path):
                _private_file(key_path, os.urandom(32))
            with open(key_path, 'rb') as handle:
                self.key = handle.read()
        self.state_path = os.path.join(state_dir, 'sealed-files.json')
        try:
            with open(self.state_path, encoding='utf-8') as handle:
                self.state = json.load(handle)
        except FileNotFoundError:
            self.state = {}

    def digest(self, item):
        values = sealing.plain_values(item['values'])
        canonical = json.dumps([item['name'], item['namespace'], item['scope'], self.cert_digest,
                                sorted((k, base64.b64encode(v).decode('ascii')) for k, v in values.items())])
        return hmac.new(self.key, canonical.encode('utf-8'), hashlib.sha256).hexdigest()

    def text(self, rel, item, existing):
        """``(text, state)``: the kept file, or a freshly sealed one."""
        digest = self.digest(item)
        saved = self.state.get(rel) or {}
        if existing is not None and hmac.compare_digest(saved.get('digest', ''), digest) and \
                saved.get('file_sha256') == hashlib.sha256(existing.encode('utf-8')).hexdigest():
            return existing, saved
        sealed = sealing.sealed_secret(self.public_key, item['values'], item['name'], item['namespace'], item['scope'])
        text = dump([sealed])
        return text, {'digest': digest, 'file_sha256': hashlib.sha256(text.encode('utf-8')).hexdigest()}

    def save(self, pending):
        if all(self.state.get(rel) == state for rel, state in pending.items()):
            return
        self.state.update(pending)
        _private_file(self.state_path, json.dumps(self.state, sort_keys=True, indent=1).encode('utf-8'))
