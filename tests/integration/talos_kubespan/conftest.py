"""A lab of its own for the KubeSpan tests: prefix ``lks-``, networks remapped to ranges no other lab uses,
five seed nodes configured with KubeSpan (the oracle configs enable it), short refresh intervals."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SIM_TESTS = os.path.join(ROOT, 'tests', 'integration', 'talos_sim')
for _path in (ROOT, SIM_TESTS, os.path.dirname(os.path.abspath(__file__))):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from talos_lab import Cluster  # noqa: E402  pylint: disable=wrong-import-position
from sim_support import Sim, configure  # noqa: E402  pylint: disable=wrong-import-position
from kubespan_lab import ROLES, Mesh, lab, lab_env  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope='session')
def mesh():
    if os.geteuid() != 0:
        pytest.skip('the KubeSpan lab needs root (network namespaces)')
    state_dir = tempfile.mkdtemp(prefix='talos-kubespan-')
    os.chmod(state_dir, 0o700)
    try:
        lab(state_dir, 'up')
        with open(os.path.join(state_dir, 'talos-nodes.json'), encoding='utf-8') as handle:
            record = json.load(handle)
        assert sorted(n['name'] for n in record['nodes']) == sorted(ROLES), record
        probe = Sim(state_dir, record)
        cluster = Cluster(endpoint='https://%s:6443' % probe.address('vps-0'))
        result = Mesh(state_dir, record, cluster)
        for name, role in ROLES.items():
            configure(result, cluster, name, role)
        yield result
    finally:
        subprocess.run([sys.executable, '-m', 'lab.talos', 'down'], cwd=ROOT, env=lab_env(state_dir),
                       capture_output=True, timeout=120, check=False)
        if not os.environ.get('TALOS_SIM_KEEP'):
            shutil.rmtree(state_dir, ignore_errors=True)
