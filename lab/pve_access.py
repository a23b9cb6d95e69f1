"""Roles, users, ACL entries and API tokens that the Proxmox stand-in stores (fakepve 0.5 answers them and keeps nothing).

Follows PVE::API2::Role, User, ACL and PVE::API2::TokenUser as PVE 8/9 answer: roles list ``privs`` as a
comma-separated string and show one role as ``{privilege: 1}``; built-in roles (``special``) cannot be
changed; a token's secret is returned once, by the POST that creates it (or a PUT with ``regenerate``);
deleting a user or a role removes the ACL entries that name it. A created token authenticates
(``PVEAPIToken=user@realm!name=secret``) and holds what the ACL grants: a token without privilege
separation (``privsep 0``) its user's privileges, a separated one those granted to both.
"""
import uuid

from fakepve.model import PveError
from fakepve.routing import split_list
from fakepve.shapes import PRIVILEGES, ROLES

REALMS = ('pam', 'pve')


def _die(message):
    return PveError(500, message)


def _flag(value, default):
    return default if value is None else (1 if value in (1, True, '1', 'true') else 0)


class AccessStore(object):
    """Mixin of FakePve: the /access objects, stored, and the privileges they grant."""

    def _access_init(self):
        if not hasattr(self, 'access_roles'):
            self.access_roles = {}      # custom roles: roleid -> set of privileges
            self.access_users = {}      # userid -> {enable, expire, comment, ..., 'tokens': {name: info}}
            self.access_acl = []        # {path, type (user|token), ugid, roleid, propagate}

    def seed_access(self, tokens, auditor):
        """The users and tokens the lab seeds, and the auditor's ACL entries, as PVE would list them."""
        self._access_init()
        for tokenid in tokens:
            userid, _sep, name = tokenid.partition('!')
            user = self.access_users.setdefault(userid, {'enable': 1, 'expire': 0, 'tokens': {}})
            # The auditor's token is privilege-separated (it holds its own ACL entry); root's is not.
            user['tokens'][name] = {'privsep': 1 if userid == auditor else 0, 'expire': 0}
        self.access_acl += [{'path': '/', 'type': 'user', 'ugid': auditor, 'roleid': 'PVEAuditor', 'propagate': 1}]
        self.access_acl += [{'path': '/', 'type': 'token', 'ugid': t, 'roleid': 'PVEAuditor', 'propagate': 1}
                            for t in tokens if t.startswith(auditor + '!')]

    def _routes_access_store(self):
        role = '/access/roles/{roleid}'
        user = '/access/users/{userid}'
        token = user + '/token/{tokenid}'
        return [('GET', '/access/roles', self._roles_list), ('POST', '/access/roles', self._role_create),
                ('GET', role, self._role_read), ('PUT', role, self._role_update), ('DELETE', role, self._role_delete),
                ('GET', '/access/users', self._users_list), ('POST', '/access/users', self._user_create),
                ('GET', user, self._user_read), ('PUT', user, self._user_update), ('DELETE', user, self._user_delete),
                ('GET', '/access/acl', self._acl_list), ('PUT', '/access/acl', self._acl_update),
                ('GET', user + '/token', self._tokens_list), ('GET', token, self._token_read),
                ('POST', token, self._token_create), ('PUT', token, self._token_update),
                ('DELETE', token, self._token_delete)]

    # ---------------------------------------------------------------- roles

    def _role_privs(self, roleid):
        self._access_init()
        if roleid in ROLES:
            return set(ROLES[roleid])
        if roleid in self.access_roles:
            return self.access_roles[roleid]
        raise _die("role '{0}' does not exist".format(roleid))

    @staticmethod
    def _parse_privs(text):
        privs = set(split_list(text))
        for priv in sorted(privs):
            if priv not in PRIVILEGES:
                raise _die("invalid privilege '{0}'".format(priv))
        return privs

    async def _roles_list(self, v, user):
        self._access_init()
        found = [{'roleid': name, 'special': 1, 'privs': ','.join(sorted(privs))} for name, privs in ROLES.items()]
        found += [{'roleid': name, 'special': 0, 'privs': ','.join(sorted(privs))} for name, privs in self.access_roles.items()]
        return sorted(found, key=lambda r: r['roleid'])

    async def _role_create(self, v, user):
        self._access_init()
        roleid = v['roleid']
        if roleid in ROLES or roleid in self.access_roles:
            raise _die("role '{0}' already exists".format(roleid))
        self.access_roles[roleid] = self._parse_privs(v.get('privs'))

    async def _role_read(self, v, user):
        return dict((priv, 1) for priv in sorted(self._role_privs(v['roleid'])))

    async def _role_update(self, v, user):
        roleid = v['roleid']
        self._role_privs(roleid)
        if roleid in ROLES:
            raise _die("auto-generated role '{0}' cannot be modified".format(roleid))
        privs = self._parse_privs(v.get('privs'))
        self.access_roles[roleid] = (self.access_roles[roleid] | privs) if _flag(v.get('append'), 0) else privs

    async def _role_delete(self, v, user):
        roleid = v['roleid']
        self._role_privs(roleid)
        if roleid in ROLES:
            raise _die("auto-generated role '{0}' cannot be deleted".format(roleid))
        del self.access_roles[roleid]
        self.access_acl = [e for e in self.access_acl if e['roleid'] != roleid]

    # ---------------------------------------------------------------- users

    def _user(self, userid):
        self._access_init()
        found = self.access_users.get(userid)
        if found is None:
            raise _die("no such user ('{0}')".format(userid))
        return found

    @staticmethod
    def _user_view(userid, entry, full):
        view = dict((k, v) for k, v in entry.items() if k != 'tokens')
        view.update(userid=userid, **{'realm-type': userid.rpartition('@')[2]})
        if full:
            view['tokens'] = [dict(info, tokenid=name) for name, info in sorted(entry['tokens'].items())]
        return view

    async def _users_list(self, v, user):
        self._access_init()
        full = _flag(v.get('full'), 0)
        return [self._user_view(u, e, full) for u, e in sorted(self.access_users.items())
                if v.get('enabled') is None or e.get('enable', 1) == _flag(v.get('enabled'), 1)]

    async def _user_create(self, v, user):
        self._access_init()
        userid = v['userid']
        realm = userid.rpartition('@')[2] if '@' in userid else None
        if realm is None:
            raise _die('no auth domain specified')
        if realm not in REALMS:
            raise _die("auth domain '{0}' does not exist".format(realm))
        if userid in self.access_users:
            raise _die("user '{0}' already exists".format(userid))
        entry = {'enable': _flag(v.get('enable'), 1), 'expire': int(v.get('expire') or 0), 'tokens': {}}
        entry.update((k, v[k]) for k in ('comment', 'email', 'firstname', 'lastname') if v.get(k) is not None)
        self.access_users[userid] = entry

    async def _user_read(self, v, user):
        entry = self._user(v['userid'])
        view = dict((k, val) for k, val in entry.items() if k != 'tokens')
        view['groups'] = []
        view['tokens'] = dict((name, dict(info)) for name, info in entry['tokens'].items())
        return view

    async def _user_update(self, v, user):
        entry = self._user(v['userid'])
        for key in ('comment', 'email', 'firstname', 'lastname'):
            if v.get(key) is not None:
                entry[key] = v[key]
        if v.get('enable') is not None:
            entry['enable'] = _flag(v['enable'], 1)
        if v.get('expire') is not None:
            entry['expire'] = int(v['expire'])

    async def _user_delete(self, v, user):
        userid = v['userid']
        entry = self._user(userid)
        for name in entry['tokens']:
            self.apitokens.pop('{0}!{1}'.format(userid, name), None)
        del self.access_users[userid]
        self.access_acl = [e for e in self.access_acl if e['ugid'].partition('!')[0] != userid]

    # ---------------------------------------------------------------- ACL

    async def _acl_list(self, v, user):
        self._access_init()
        return [dict(e) for e in self.access_acl]

    async def _acl_update(self, v, user):
        self._access_init()
        path = '/' + v['path'].strip('/') if v['path'].strip('/') else '/'
        roles = split_list(v['roles'])
        for roleid in roles:
            self._role_privs(roleid)
        subjects = []
        for userid in split_list(v.get('users')):
            if userid not in self.access_users:
                raise _die("user '{0}' does not exist".format(userid))
            subjects.append(('user', userid))
        for tokenid in split_list(v.get('tokens')):
            userid, sep, name = tokenid.partition('!')
            if not sep:
                raise _die("'{0}' is not a valid token ID - not able to split into user and token parts".format(tokenid))
            if name not in self._user(userid)['tokens']:
                raise _die("no such token '{0}' for user '{1}'".format(name, userid))
            subjects.append(('token', tokenid))
        if split_list(v.get('groups')):
            raise _die("group '{0}' does not exist".format(split_list(v['groups'])[0]))
        delete = _flag(v.get('delete'), 0)
        for kind, ugid in subjects:
            for roleid in roles:
                self.access_acl = [e for e in self.access_acl
                                   if (e['path'], e['type'], e['ugid'], e['roleid']) != (path, kind, ugid, roleid)]
                if not delete:
                    self.access_acl.append({'path': path, 'type': kind, 'ugid': ugid, 'roleid': roleid,
                                            'propagate': _flag(v.get('propagate'), 1)})

    # ---------------------------------------------------------------- tokens

    def _token(self, v):
        entry = self._user(v['userid'])
        info = entry['tokens'].get(v['tokenid'])
        if info is None:
            raise _die("no such token '{0}' for user '{1}'".format(v['tokenid'], v['userid']))
        return entry, info

    async def _tokens_list(self, v, user):
        entry = self._user(v['userid'])
        return [dict(info, tokenid=name) for name, info in sorted(entry['tokens'].items())]

    async def _token_read(self, v, user):
        return dict(self._token(v)[1])

    async def _token_create(self, v, user):
        entry = self._user(v['userid'])
        if v['tokenid'] in entry['tokens']:
            raise _die('Token already exists.')
        info = {'privsep': _flag(v.get('privsep'), 1), 'expire': int(v.get('expire') or entry.get('expire') or 0)}
        if v.get('comment') is not None:
            info['comment'] = v['comment']
        entry['tokens'][v['tokenid']] = info
        full = '{0}!{1}'.format(v['userid'], v['tokenid'])
        secret = str(uuid.uuid4())
        self.apitokens[full] = secret
        return {'full-tokenid': full, 'info': dict(info), 'value': secret}

    async def _token_update(self, v, user):
        _entry, info = self._token(v)
        for key in ('privsep', 'expire'):
            if v.get(key) is not None:
                info[key] = _flag(v[key], 1) if key == 'privsep' else int(v[key])
        if v.get('comment') is not None:
            info['comment'] = v['comment']
        answer = dict(info)
        if _flag(v.get('regenerate'), 0):
            full = '{0}!{1}'.format(v['userid'], v['tokenid'])
            self.apitokens[full] = answer['value'] = str(uuid.uuid4())
            answer['full-tokenid'] = full
        return answer

    async def _token_delete(self, v, user):
        entry, _info = self._token(v)
        del entry['tokens'][v['tokenid']]
        self.apitokens.pop('{0}!{1}'.format(v['userid'], v['tokenid']), None)
        self.access_acl = [e for e in self.access_acl if e['ugid'] != '{0}!{1}'.format(v['userid'], v['tokenid'])]

    # ---------------------------------------------------------------- privileges

    def _acl_privs(self, kind, ugid, paths):
        held = set()
        for entry in self.access_acl:
            if entry['type'] != kind or entry['ugid'] != ugid:
                continue
            granted = entry['path']
            if any(p == granted or (entry['propagate'] and (granted == '/' or p.startswith(granted + '/'))) for p in paths):
                held |= self._role_privs(entry['roleid'])
        return held

    def granted(self, who, path):
        """The privileges the stored ACL entries give ``who`` (a user or a token) on ``path``."""
        self._access_init()
        paths = [path] + (['/vms'] if path.startswith('/vms/') else [])
        userid, sep, name = who.partition('!')
        mine = self._acl_privs('user', userid, paths)
        if not sep:
            return mine
        info = (self.access_users.get(userid) or {}).get('tokens', {}).get(name)
        if info is None:
            return set()
        return mine if not info.get('privsep') else mine & self._acl_privs('token', who, paths)

    def allowed(self, user, path, priv):
        # The seed's direct grants (fakepve's own ACL) still count; the stored entries add to them.
        return super().allowed(user, path, priv) or priv in self.granted(user, path)
