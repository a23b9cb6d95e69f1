"""``python -m lab.backup up|down|status`` (see __init__.py)."""
import argparse
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request

from .. import ROOT, pki, process
from . import backup_dir

ENV_KEYS = ('BACKUP_REMOTE', 'RCLONE_CONFIG', 'VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_CACERT', 'BACKUP_AGE_IDENTITY',
            'BACKUP_AGE_RECIPIENT', 'LAB_BACKUP_REMOTE_DIR', 'LAB_VAULT_CONTROL')
READY_TIMEOUT = 30


def _write(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(path, mode)


def _pid(directory):
    try:
        with open(os.path.join(directory, 'serve.pid'), encoding='ascii') as handle:
            pid = int(handle.read())
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return pid if b'lab.backup.serve' in handle.read() else None
    except (OSError, ValueError):
        return None


def read_env(directory):
    values = {}
    with open(os.path.join(directory, 'env'), encoding='utf-8') as handle:
        for line in handle:
            key, sep, value = line.strip().partition('=')
            if sep and not key.startswith('#'):
                values[key] = value
    return values


def _ready(env, remote_dir):
    context = ssl.create_default_context(cafile=env['VAULT_CACERT'])
    with urllib.request.urlopen(env['VAULT_ADDR'] + '/v1/sys/health', timeout=2, context=context) as response:
        response.read()
    subprocess.run(['rclone', '--config', env['RCLONE_CONFIG'], 'lsjson', env['BACKUP_REMOTE']], check=True, capture_output=True,
                   timeout=10)
    return os.path.isdir(remote_dir)


def up(args):
    directory = backup_dir()
    if _pid(directory):
        print('lab backup services already running; env in %s' % os.path.join(directory, 'env'))
        return 0
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, mode=0o700)
    remote_dir = os.path.join(directory, 'remote')
    os.makedirs(os.path.join(remote_dir, 'backups'), mode=0o700)
    ca_crt, ca_key = pki.make_ca(directory, 'hybridops lab backup CA')
    pki.issue(directory, 'vault', (args.host, 'localhost'), ca_crt, ca_key)
    identity = os.path.join(directory, 'age-identity.txt')
    subprocess.run(['age-keygen', '-o', identity], check=True, capture_output=True)
    os.chmod(identity, 0o600)
    recipient = subprocess.run(['age-keygen', '-y', identity], check=True, capture_output=True, text=True).stdout.strip()
    user, password = 'lab', secrets.token_urlsafe(18)
    obscured = subprocess.run(['rclone', 'obscure', '-'], input=password, check=True, capture_output=True, text=True).stdout.strip()
    rclone_config = os.path.join(directory, 'rclone.conf')
    _write(rclone_config, '[labdav]\ntype = webdav\nurl = http://%s:%d\nvendor = other\nuser = %s\npass = %s\n'
           % (args.host, args.webdav_port, user, obscured))
    config = dict(dir=directory, host=args.host, remote_dir=remote_dir, webdav_port=args.webdav_port, webdav_user=user,
                  webdav_pass=password, vault_port=args.vault_port, vault_token='hvs.' + secrets.token_urlsafe(24),
                  vault_cert=os.path.join(directory, 'vault.crt'), vault_key=os.path.join(directory, 'vault.key'),
                  vault_state_size=args.vault_state_size)
    config_path = os.path.join(directory, 'serve.json')
    _write(config_path, json.dumps(config, indent=2))
    env = dict(BACKUP_REMOTE='labdav:backups', RCLONE_CONFIG=rclone_config, VAULT_ADDR='https://%s:%d' % (args.host, args.vault_port),
               VAULT_TOKEN=config['vault_token'], VAULT_CACERT=ca_crt, BACKUP_AGE_IDENTITY=identity, BACKUP_AGE_RECIPIENT=recipient,
               LAB_BACKUP_REMOTE_DIR=os.path.join(remote_dir, 'backups'),
               LAB_VAULT_CONTROL='https://%s:%d/__lab__' % (args.host, args.vault_port))
    _write(os.path.join(directory, 'env'), '# Written by `python -m lab.backup up`.\n'
           + ''.join('%s=%s\n' % (key, env[key]) for key in ENV_KEYS))
    log = os.open(os.path.join(directory, 'serve.log'), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    proc = subprocess.Popen([sys.executable, '-m', 'lab.backup.serve', config_path], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log, start_new_session=True)
    os.close(log)
    _write(os.path.join(directory, 'serve.pid'), '%d\n' % proc.pid)
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            print('lab: the backup services exited while starting; see %s' % os.path.join(directory, 'serve.log'), file=sys.stderr)
            return 1
        try:
            _ready(env, remote_dir)
            break
        except (OSError, subprocess.SubprocessError):
            if time.monotonic() > deadline:
                process.stop_group(proc.pid, 5)
                print('lab: the backup services did not answer within %d s' % READY_TIMEOUT, file=sys.stderr)
                return 1
            time.sleep(0.2)
    print('lab backup services up: remote %s (rclone serve webdav on %s:%d), Vault stand-in %s; env in %s'
          % (env['BACKUP_REMOTE'], args.host, args.webdav_port, env['VAULT_ADDR'], os.path.join(directory, 'env')))
    return 0


def down(_args):
    directory = backup_dir()
    pid = _pid(directory)
    if pid:
        process.stop_group(pid, 10)
    shutil.rmtree(directory, ignore_errors=True)
    print('lab backup services down%s' % (' (pid %d stopped)' % pid if pid else ''))
    return 0


def status(_args):
    pid = _pid(backup_dir())
    print('backup services %s' % ('running, pid %d' % pid if pid else 'stopped'))
    return 0 if pid else 3


def main(argv=None):
    top = argparse.ArgumentParser(prog='python -m lab.backup', description='The lab backup remote (rclone serve webdav) and Vault stand-in.')
    commands = top.add_subparsers(dest='command', required=True)
    start = commands.add_parser('up', help='start them and write <lab state>/backup/env')
    start.add_argument('--host', default='127.0.0.1')
    start.add_argument('--webdav-port', type=int, default=int(os.environ.get('LAB_WEBDAV_PORT') or 18090))
    start.add_argument('--vault-port', type=int, default=int(os.environ.get('LAB_VAULT_PORT') or 18200))
    start.add_argument('--vault-state-size', type=int, default=256 * 1024, help='bytes of state in each Vault snapshot')
    commands.add_parser('down', help='stop them and remove <lab state>/backup')
    commands.add_parser('status', help='say whether they run')
    args = top.parse_args(argv)
    return {'up': up, 'down': down, 'status': status}[args.command](args)
