# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The proxmox_csi_access module's work: read everything, check, then write PVE access and the plugin's Secret.

Order matters: every read (PVE cluster status, storages, role, user, ACL, token; the Kubernetes Secret) and every
check happen before the first write, so a refused storage or an unreachable API leaves both sides as they were.
The token secret exists only in memory between PVE's answer and the Secret; it is registered as a no_log value,
shown as ``<redacted>`` in diffs and never put in results, warnings or errors.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import quote

from . import _proxmox_csi as csi
from ._kube import manifests
from ._kube.apply import Applier, diffs, results, summary
from ._kube.client import KubeClient, Resource, resource_path
from ._kube.errors import ApiError
from ._pve_api import PveApi

SECRETS = Resource('v1', 'Secret', 'secrets', True)
MANAGED_BY = {'app.kubernetes.io/managed-by': 'hybridops.talos'}
PRIVILEGED = {'pod-security.kubernetes.io/enforce': 'privileged'}
CHECK_MODE_SECRET = 'check-mode-token-not-created'
COMMENT = 'Proxmox CSI plugin (hybridops.talos)'


class Access:
    """One run: ``read()``, then ``present()`` or ``absent()``; ``changes`` and ``diff`` collect what was (or would be) done."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.user = self.params['user']
        self.role = self.params['role']
        self.token_name = self.params['token_name']
        self.token_id = '%s!%s' % (self.user, self.token_name)
        self.changes = {}
        self.diff = []
        self.pve = PveApi(self.params)
        self.kube = KubeClient.from_params(self.params)

    # ------------------------------------------------------------------ reads

    def read(self):
        status = self.pve.get('/cluster/status', 'Reading the PVE cluster status')
        if self.params['state'] == 'present':
            self.region = csi.check_clustered(status, self.params['region'])
            csi.check_storages(self.params['storages'], self.pve.get('/storage', 'Listing the PVE storages'))
        else:  # removing needs no region, and works on any PVE
            self.region = self.params['region'] or csi.cluster_of(status)[0]
        roles = {r.get('roleid'): r for r in self.pve.get('/access/roles', 'Listing the PVE roles')}
        self.role_entry = roles.get(self.role)
        if self.role_entry is not None and str(self.role_entry.get('special', 0)) in ('1', 'True', 'true'):
            raise csi.CsiError('bad_input', 'role %s is a built-in PVE role, which cannot be changed or deleted: name a role of '
                               'its own for the plugin (default CSI), so nothing was written.' % self.role, option='role')
        self.privileges = None
        if self.role_entry is not None:
            self.privileges = csi.split_privileges(self.pve.get('/access/roles/%s' % quote(self.role, safe=''),
                                                                'Reading PVE role %s' % self.role))
        users = {u.get('userid') for u in self.pve.get('/access/users', 'Listing the PVE users')}
        self.user_exists = self.user in users
        self.acl = [e for e in self.pve.get('/access/acl', 'Reading the PVE ACL')
                    if (e.get('path'), e.get('type'), e.get('ugid'), e.get('roleid')) == ('/', 'user', self.user, self.role)]
        self.token = None
        if self.user_exists:
            tokens = self.pve.get('/access/users/%s/token' % quote(self.user, safe=''), 'Listing the tokens of %s' % self.user)
            self.token = next((t for t in tokens if t.get('tokenid') == self.token_name), None)
        self.secret = self.kube.get(SECRETS, self.params['secret_name'], self.params['namespace'])
        self.stored = None
        if self.secret is not None:
            raw = (self.secret.get('data') or {}).get(csi.CONFIG_KEY)
            text = base64.b64decode(raw).decode('utf-8', 'replace') if raw else ''
            self.stored = csi.read_config(text)
            if self.stored and self.stored.get('token_secret'):
                self.module.no_log_values.add(self.stored['token_secret'])

    # ------------------------------------------------------------------ present

    def present(self):
        self._role()
        self._user()
        self._acl()
        secret = self._token()
        return self._secret(secret)

    def _record(self, what, action, header, before, after, **details):
        self.changes[what] = dict(action=action, **details)
        if action != 'unchanged':
            self.diff.append(dict(before_header=header, after_header=header, before=before, after=after))

    def _role(self):
        change = csi.privilege_diff(self.privileges)
        wanted = ','.join(csi.PRIVILEGES)
        if self.privileges is None:
            action = 'created'
            if not self.check_mode:
                self.pve.post('/access/roles', 'Creating PVE role %s' % self.role, roleid=self.role, privs=wanted)
        elif change['add'] or change['remove']:
            action = 'updated'
            if not self.check_mode:
                self.pve.put('/access/roles/%s' % quote(self.role, safe=''), 'Setting the privileges of PVE role %s' % self.role,
                             privs=wanted, append=0)
        else:
            action = 'unchanged'
        before = '' if self.privileges is None else _lines('privileges', sorted(self.privileges))
        self._record('role', action, 'PVE role %s' % self.role, before, _lines('privileges', csi.PRIVILEGES),
                     name=self.role, privileges=list(csi.PRIVILEGES), added=change['add'], removed=change['remove'])

    def _user(self):
        action = 'unchanged' if self.user_exists else 'created'
        if action == 'created' and not self.check_mode:
            self.pve.post('/access/users', 'Creating PVE user %s' % self.user, userid=self.user, comment=COMMENT)
        self._record('user', action, 'PVE user %s' % self.user, '', 'userid: %s\n' % self.user, name=self.user)

    def _acl(self):
        action = 'unchanged' if self.acl else 'created'
        if action == 'created' and not self.check_mode:
            self.pve.put('/access/acl', 'Granting role %s on / to %s' % (self.role, self.user),
                         path='/', users=self.user, roles=self.role, propagate=1)
        self._record('acl', action, 'PVE ACL /', '', 'path: /\nuser: %s\nrole: %s\npropagate: 1\n' % (self.user, self.role),
                     path='/', role=self.role, user=self.user)

    def _token(self):
        """The token secret the Secret must hold (a placeholder in check mode when the token would be made)."""
        create, recreate, why = csi.token_verdict(self.token, self.stored, self.token_id)
        if not create and not self.pve.authenticates(self.user, self.token_name, self.stored['token_secret']):
            create, recreate = True, True
            why = 'the secret in the Secret no longer authenticates (the token was regenerated), and PVE shows a token ' \
                  'secret only when it creates it'
        shown = 'token: %s\nprivsep: 0\n' % self.token_id
        if not create:
            if str((self.token or {}).get('privsep', 1)) not in ('0', 'False', 'false'):
                if not self.check_mode:
                    self.pve.put(self._token_path(), 'Turning off privilege separation of token %s' % self.token_id, privsep=0)
                self._record('token', 'updated', 'PVE token %s' % self.token_id, shown.replace('privsep: 0', 'privsep: 1'), shown,
                             id=self.token_id, why='the token had privilege separation on, so it held none of the role\'s privileges')
            else:
                self._record('token', 'unchanged', 'PVE token %s' % self.token_id, shown, shown, id=self.token_id)
            return self.stored['token_secret']
        action = 'recreated' if recreate else 'created'
        self._record('token', action, 'PVE token %s' % self.token_id, shown if recreate else '', shown, id=self.token_id, why=why)
        if self.check_mode:
            return CHECK_MODE_SECRET
        if recreate:
            self.pve.delete(self._token_path(), 'Deleting token %s to make it again' % self.token_id)
        answer = self.pve.post(self._token_path(), 'Creating token %s' % self.token_id, privsep=0, comment=COMMENT)
        secret = answer.get('value') if isinstance(answer, dict) else None
        if not secret:
            raise csi.CsiError('pve_error', 'PVE created token %s but returned no secret, so the plugin\'s Secret cannot be '
                               'written; delete the token and run again.' % self.token_id)
        self.module.no_log_values.add(secret)
        return secret

    def _token_path(self):
        return '/access/users/%s/token/%s' % (quote(self.user, safe=''), quote(self.token_name, safe=''))

    def _secret(self, token_secret):
        insecure = self.params['plugin_insecure']
        if insecure is None:  # the plugin has no CA option: a private CA means it cannot verify
            insecure = not self.params['validate_certs'] or bool(self.params['ca_file'])
        desired = {'url': self.pve.url, 'insecure': bool(insecure), 'token_id': self.token_id, 'token_secret': token_secret,
                   'region': self.region}
        if self.stored == desired:  # the same config written differently is no change
            encoded = self.secret['data'][csi.CONFIG_KEY]
        else:
            text = csi.render_config(**desired)
            encoded = base64.b64encode(text.encode('utf-8')).decode('ascii')
        namespace = self.params['namespace']
        objects = manifests.check([
            {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': namespace, 'labels': dict(PRIVILEGED)}},
            {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque',
             'metadata': {'name': self.params['secret_name'], 'namespace': namespace, 'labels': dict(MANAGED_BY)},
             'data': {csi.CONFIG_KEY: encoded}}])
        outcomes = Applier(self.kube, self.params['field_manager'], check_mode=self.check_mode).apply(objects)
        self.diff.extend(diffs(outcomes))
        return outcomes

    # ------------------------------------------------------------------ absent

    def absent(self):
        steps = []
        if self.token is not None:
            steps.append(('token', 'PVE token %s' % self.token_id, 'token: %s\n' % self.token_id,
                          lambda: self.pve.delete(self._token_path(), 'Deleting token %s' % self.token_id)))
        if self.acl:
            steps.append(('acl', 'PVE ACL /', 'path: /\nuser: %s\nrole: %s\n' % (self.user, self.role),
                          lambda: self.pve.put('/access/acl', 'Removing role %s on / from %s' % (self.role, self.user),
                                               path='/', users=self.user, roles=self.role, delete=1)))
        if self.user_exists:
            steps.append(('user', 'PVE user %s' % self.user, 'userid: %s\n' % self.user,
                          lambda: self.pve.delete('/access/users/%s' % quote(self.user, safe=''), 'Deleting PVE user %s' % self.user)))
        if self.role_entry is not None:
            steps.append(('role', 'PVE role %s' % self.role, _lines('privileges', sorted(self.privileges or ())),
                          lambda: self.pve.delete('/access/roles/%s' % quote(self.role, safe=''), 'Deleting PVE role %s' % self.role)))
        for what, header, before, delete in steps:
            if not self.check_mode:
                delete()
            self._record(what, 'deleted', header, before, '')
        objects = []
        if self.secret is not None:
            namespace, name = self.params['namespace'], self.params['secret_name']
            self._delete_secret(namespace, name)
            objects.append(dict(api_version='v1', kind='Secret', namespace=namespace, name=name, action='deleted'))
            self.diff.append(dict(before_header='Secret %s/%s' % (namespace, name), after_header='Secret %s/%s' % (namespace, name),
                                  before='data:\n  %s: <redacted>\n' % csi.CONFIG_KEY, after=''))
        return objects

    def _delete_secret(self, namespace, name):
        """Delete the Secret; in check mode the API server's dry run (the same checks, nothing removed)."""
        try:
            self.kube.request('DELETE', resource_path(SECRETS, namespace, name), query={'dryRun': 'All' if self.check_mode else None},
                              call='Deleting Secret %s/%s' % (namespace, name))
        except ApiError as exc:
            if exc.status != 404:  # already gone is what we wanted
                raise


def _lines(key, values):
    return '%s:\n%s' % (key, ''.join('  - %s\n' % value for value in values))


def run(module):
    """The module's result; raises ModuleError before any write when a check fails."""
    started = time.monotonic()
    access = Access(module)
    access.read()
    if module.params['state'] == 'present':
        outcomes = access.present()
        objects, counts = results(outcomes), summary(outcomes)
        changed = any(c['action'] != 'unchanged' for c in access.changes.values()) or any(o.action != 'unchanged' for o in outcomes)
    else:
        objects = access.absent()
        counts = None
        changed = bool(access.changes) or bool(objects)
    result = dict(changed=changed, region=access.region, token_id=access.token_id, pve=access.changes, objects=objects,
                  duration=round(time.monotonic() - started, 2))
    if counts is not None:
        result['counts'] = counts
    if module._diff:
        result['diff'] = access.diff
    return result
