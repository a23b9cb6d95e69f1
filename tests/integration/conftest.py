"""Run real ``ansible-playbook`` processes against localhost (and later the lab).

``run_playbook`` writes the given plays to a temporary file, runs them with this checkout as
``hybridops.talos`` and the venv's Python as interpreter, and parses the ``ansible.posix.json``
callback output, so tests can look at every task result and at the play recap.
"""
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    data: dict = field(default_factory=dict)

    @property
    def stats(self):
        return self.data.get('stats', {})

    def changed(self, host='localhost'):
        return self.stats.get(host, {}).get('changed')

    def results(self, task_name, host='localhost'):
        """The results of every task called ``task_name`` (with or without its role's prefix) for ``host``, in run order."""
        found = []
        for play in self.data.get('plays', []):
            for task in play.get('tasks', []):
                name = task['task']['name']  # a role's task is named 'role : task' when the play lists the role
                if (name == task_name or name.endswith(' : ' + task_name)) and host in task['hosts']:
                    found.append(task['hosts'][host])
        if not found:
            ran = [task['task']['name'] for play in self.data.get('plays', []) for task in play.get('tasks', [])]
            raise AssertionError('no task named %r ran on %s; rc=%s; tasks that ran: %s\n%s'
                                 % (task_name, host, self.rc, ran, self.stderr[-2000:]))
        return found

    def result(self, task_name, host='localhost'):
        return self.results(task_name, host)[-1]

    def failures(self):
        """``host: task: msg`` of every failed or unreachable task result, for assertion messages."""
        lines = []
        for play in self.data.get('plays', []):
            for task in play.get('tasks', []):
                for host, result in task['hosts'].items():
                    if result.get('failed') or result.get('unreachable'):
                        lines.append('%s: %s: %s' % (host, task['task']['name'], str(result.get('msg'))[:1500]))
        return lines

    def __repr__(self):
        # What pytest prints for a failed assertion on a run: the failed tasks say more than the JSON's first lines.
        return 'PlaybookRun(rc=%s, failures=%s, stderr=%r)' % (self.rc, self.failures(), self.stderr[-1000:])


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.venv', 'collections'),
        'ANSIBLE_ROLES_PATH': os.path.join(ROOT, 'roles'),
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'PATH': VENV_BIN + os.pathsep + env.get('PATH', ''),
    })
    env.update(extra or {})
    return env


def make_runner(tmp_path):
    """``run(plays, *args, inventory=None, env=None, json_output=True)`` working in ``tmp_path``.

    ``plays`` is a list of plays (Python data) or a path to a playbook file.
    """
    def run(plays, *args, inventory=None, env=None, json_output=True, timeout=600):
        if isinstance(plays, str):
            path = plays
        else:
            path = str(tmp_path / 'playbook.yml')
            with open(path, 'w') as handle:
                yaml.safe_dump(plays, handle, sort_keys=False)
        extra = dict(env or {})
        if json_output:
            extra['ANSIBLE_STDOUT_CALLBACK'] = 'ansible.posix.json'
        command = [os.path.join(VENV_BIN, 'ansible-playbook'), path]
        command += ['-i', inventory or 'localhost,', '-c', 'local'] if inventory is None else ['-i', inventory]
        command += list(args)
        proc = subprocess.run(command, cwd=str(tmp_path), env=ansible_env(extra), capture_output=True,
                              text=True, timeout=timeout, check=False)
        data = {}
        if json_output:
            try:
                data = json.loads(proc.stdout[proc.stdout.index('{'):])
            except ValueError:
                data = {}
        return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, data)

    return run


@pytest.fixture
def run_playbook(tmp_path):
    """Run playbooks with ansible-playbook; see ``make_runner``."""
    return make_runner(tmp_path)


@pytest.fixture(scope='module')
def run_playbook_module(tmp_path_factory):
    """``run_playbook`` for module-scoped fixtures (a state that several tests build on)."""
    return make_runner(tmp_path_factory.mktemp('playbooks'))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """Stop the labs of a folder whose last test just ran (lab_fixtures.stop_with_directory)."""
    from lab_fixtures import stop_finished_labs  # pylint: disable=import-outside-toplevel
    stop_finished_labs(item, nextitem)
