"""Run a job template of extensions/awx the way AWX runs it: credentials injected, then ansible-runner.

Injection follows AWX's ``CredentialType.inject_credential`` (awx/main/models/credential.py) and the
checks of its ``CredentialTypeInjectorField`` (awx/main/fields.py):

* the template namespace holds the credential's input fields that have a value (booleans always, missing
  ones False), and ``tower.filename`` (or ``tower.filename.<name>`` for ``template.<name>``) for the files;
* every ``file`` injector is rendered with Jinja's ImmutableSandboxedEnvironment into a new file (mkstemp)
  in ``<private_data_dir>/env``, mode 0600;
* every ``env`` injector is rendered into the job's environment, except names starting with ``ANSIBLE_`` or
  in AWX's ENV_BLOCKLIST; ``extra_vars`` injectors become a ``-e @file`` of the job;
* a credential type is refused, as AWX refuses it, when an injector name breaks the schema or a template
  uses an undefined field (rendered with StrictUndefined and every field set).

Each run gets a fresh private data dir (AWX's is new for every job): the project is a copy of
extensions/awx/project with the operator's group_vars beside the inventory source, the inventory a static copy of what the project's
inventory source finds with the inventory credential (an AWX inventory sync), the job template's extra vars
and survey defaults are the extra vars, its job tags and skip tags the tags.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

import ansible_runner
import yaml
from jinja2 import StrictUndefined, sandbox

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
AWX = os.path.join(ROOT, 'extensions', 'awx')
ENV_BLOCKLIST = frozenset((
    'VIRTUAL_ENV', 'PATH', 'PYTHONPATH', 'JOB_ID', 'INVENTORY_ID', 'INVENTORY_SOURCE_ID', 'INVENTORY_UPDATE_ID',
    'AD_HOC_COMMAND_ID', 'REST_API_URL', 'REST_API_TOKEN', 'MAX_EVENT_RES', 'CALLBACK_QUEUE', 'CALLBACK_CONNECTION',
    'CACHE', 'JOB_CALLBACK_DEBUG', 'INVENTORY_HOSTVARS', 'AWX_HOST', 'PROJECT_REVISION', 'SUPERVISOR_CONFIG_PATH'))
INVENTORY_CREDENTIAL = 'Hybrid inventory (hybridops.talos)'
FILE_KEY = re.compile(r'^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$')
ENV_KEY = re.compile(r'^[a-zA-Z_]+[a-zA-Z0-9_]*$')

sys.path.insert(0, os.path.join(AWX, 'filter_plugins'))
from awx_survey import awx_survey  # noqa: E402  pylint: disable=wrong-import-position,import-error


def load(name):
    with open(os.path.join(AWX, name), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def credential_types():
    return {t['name']: t for t in load('credential_types.yml')['credential_types']}


def job_templates():
    return {t['name']: t for t in load('job_templates.yml')['job_templates']}


class _Namespace:
    pass


def validate(ctype):
    """Refuse a credential type as AWX does when it is saved; returns the type."""
    injectors = ctype.get('injectors') or {}
    assert set(injectors) <= {'file', 'env', 'extra_vars'}, injectors
    assert all(FILE_KEY.match(k) for k in injectors.get('file', {})), injectors['file']
    for key, value in injectors.get('env', {}).items():
        assert ENV_KEY.match(key) and not key.startswith('ANSIBLE_') and key not in ENV_BLOCKLIST, key
        assert value.isascii(), key
    names = list(injectors.get('file', {}))
    assert not ('template' in names and len(names) > 1), 'single and multi-file syntax mixed'
    tower = _Namespace()
    tower.filename = 'EXAMPLE_FILENAME' if 'template' in names else _Namespace()
    for name in names:
        if '.' in name:
            setattr(tower.filename, name.split('.')[1], 'EXAMPLE_FILENAME')
    namespace = {field['id']: 'EXAMPLE' for field in ctype['inputs']['fields']}
    namespace['tower'] = tower
    strict = sandbox.ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for kind in ('file', 'env', 'extra_vars'):
        for template in injectors.get(kind, {}).values():
            strict.from_string(template).render(namespace)
    return ctype


def inject(ctype, inputs, private_data_dir, env, extra_vars):
    """Add what AWX injects for one credential of type ``ctype`` with ``inputs`` to ``env`` and ``extra_vars``."""
    missing = [name for name in ctype['inputs'].get('required', []) if not inputs.get(name)]
    assert not missing, 'credential %s lacks %s' % (ctype['name'], missing)
    tower = _Namespace()
    namespace = {'tower': tower}
    for name, value in inputs.items():
        if isinstance(value, bool) or len(value):
            namespace[name] = value
    for field in ctype['inputs']['fields']:
        if field['type'] == 'boolean' and field['id'] not in inputs:
            namespace[field['id']] = False
    render = sandbox.ImmutableSandboxedEnvironment()
    injectors = ctype.get('injectors') or {}
    for label, template in injectors.get('file', {}).items():
        data = render.from_string(template).render(**namespace)
        _fd, path = tempfile.mkstemp(dir=os.path.join(private_data_dir, 'env'))
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(data)
        os.close(_fd)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if '.' not in label:
            tower.filename = path
        else:
            if not hasattr(tower, 'filename'):
                tower.filename = _Namespace()
            setattr(tower.filename, label.split('.')[1], path)
    for name, template in injectors.get('env', {}).items():
        if name.startswith('ANSIBLE_') or name in ENV_BLOCKLIST:
            continue
        env[name] = render.from_string(template).render(**namespace)
    for name, template in injectors.get('extra_vars', {}).items():
        extra_vars[name] = render.from_string(template).render(**namespace)


def survey_defaults(template):
    survey = template.get('survey')
    if not survey:
        return {}
    with open(os.path.join(ROOT, 'roles', survey['role'], 'meta', 'argument_specs.yml'), encoding='utf-8') as handle:
        spec = awx_survey(yaml.safe_load(handle), survey['entry_point'], survey['variables'])
    return {q['variable']: q['default'] for q in spec['spec'] if q.get('default') not in (None, '')}


def _plain(value):
    """A value of ``ansible-inventory --list`` without its unsafe marks."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def sync_inventory(project, credentials, private_data_dir):
    """What an AWX inventory sync does: run the project's inventory source with the inventory credential injected,
    keep the hosts, groups and variables, and give the job a static copy (AWX gives jobs its database's copy)."""
    env, extra = {}, {}
    inject(validate(credential_types()[INVENTORY_CREDENTIAL]), credentials[INVENTORY_CREDENTIAL], private_data_dir, env, extra)
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-inventory'), '-i',
                           os.path.join(project, 'inventory', 'talos.hybrid.yml'), '--list', '--export'],
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.venv', 'collections'), **env),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    listing = _plain(json.loads(proc.stdout))
    hostvars = listing.get('_meta', {}).get('hostvars', {})
    groups = {name: {'hosts': {host: hostvars.get(host, {}) for host in body.get('hosts', [])}, 'vars': body.get('vars', {})}
              for name, body in listing.items() if name not in ('_meta', 'all') and isinstance(body, dict)}
    path = os.path.join(private_data_dir, 'inventory.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        # The inventory's own variables (group_vars/all.yml beside the source) stay the `all` group's, as in AWX.
        yaml.safe_dump({'all': {'children': groups, 'vars': listing.get('all', {}).get('vars', {})}}, handle)
    return path


def run_job(template_name, credentials, group_vars, workdir, timeout=900):
    """Run the job template with ``credentials`` ({type name: inputs}) in a fresh folder under ``workdir``,
    on a fresh sync of the inventory (``credentials`` holds the inventory source's credential too)."""
    template = job_templates()[template_name]
    types = credential_types()
    private_data_dir = tempfile.mkdtemp(dir=workdir, prefix='awx-job-')
    os.makedirs(os.path.join(private_data_dir, 'env'), mode=0o700)
    project = os.path.join(private_data_dir, 'project')
    shutil.copytree(os.path.join(AWX, 'project'), project)
    # The job's own folder holds whatever it writes (AWX's is thrown away afterwards): nothing outlives the job.
    group_vars = dict(group_vars, talos_cluster_secrets_dir=os.path.join(private_data_dir, 'secrets'))
    with open(os.path.join(project, 'inventory', 'group_vars', 'all.yml'), 'w', encoding='utf-8') as handle:
        yaml.safe_dump(group_vars, handle)
    inventory = sync_inventory(project, credentials, private_data_dir)
    env, extra_vars = {}, {}
    for type_name in template['credentials']:
        inject(validate(types[type_name]), credentials[type_name], private_data_dir, env, extra_vars)
    extra_vars.update(survey_defaults(template))
    extra_vars.update(template.get('extra_vars') or {})
    venv_bin = os.path.dirname(sys.executable)
    env.update({'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.venv', 'collections'),
                'ANSIBLE_PYTHON_INTERPRETER': sys.executable, 'ANSIBLE_NOCOLOR': '1',
                'PATH': venv_bin + os.pathsep + os.environ.get('PATH', '')})
    result = ansible_runner.run(
        private_data_dir=private_data_dir, playbook=template['playbook'],
        inventory=inventory, envvars=env, extravars=extra_vars,
        tags=template.get('job_tags'), skip_tags=template.get('skip_tags'), quiet=True, timeout=timeout)
    return result, env


def failures(result):
    lines = []
    for event in result.events:
        if event.get('event') in ('runner_on_failed', 'runner_on_unreachable') and not event['event_data'].get('ignore_errors'):
            data = event['event_data']
            lines.append('%s / %s: %s' % (data.get('host'), data.get('task'), str(data.get('res', {}).get('msg'))[:1500]))
    return lines or [result.stdout.read()[-3000:]]


def changed(result):
    return sum((result.stats or {}).get('changed', {}).values())


def changed_tasks(result):
    return ['%s / %s' % (e['event_data'].get('host'), e['event_data'].get('task')) for e in result.events
            if e.get('event') == 'runner_on_ok' and e['event_data'].get('res', {}).get('changed')]


def ok_results(result, task_suffix):
    """{host: result} of the task whose name ends with ``task_suffix``, where it ran (skipped ones left out)."""
    return {e['event_data']['host']: e['event_data']['res'] for e in result.events
            if e.get('event') == 'runner_on_ok' and e['event_data'].get('task', '').endswith(task_suffix)}
