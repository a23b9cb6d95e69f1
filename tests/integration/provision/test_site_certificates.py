"""playbooks/certificates.yml on the cluster site.yml built from nothing: every certificate's expiry read through the
real APIs (Talos' apid on each node over mTLS, the Kubernetes API server), nothing changed, nothing secret shown.

The file sorts after test_provision.py on purpose: pytest runs the folder's files in name order, and the first tests
there need the lab still empty (the shared cluster is built by the first test that asks for it)."""
# pylint: disable=redefined-outer-name  # pytest fixtures as arguments
import os

import pytest

from provision_lab import ROOT, once, run

pytestmark = pytest.mark.lab

CERTIFICATES = os.path.join(ROOT, 'playbooks', 'certificates.yml')


def test_the_certificate_report_reads_every_node_and_the_api_server_and_changes_nothing(run_playbook, empty_lab, built_cluster):
    built, secrets_dir = built_cluster
    assert built.rc == 0, built
    result = run(run_playbook, CERTIFICATES, empty_lab, secrets_dir)
    assert result.rc == 0, result
    report = once(result, 'Read when the cluster\'s certificates expire')
    assert not report['changed'] and report['unreachable'] == {}, report
    kinds = {}
    for cert in report['certificates']:
        kinds.setdefault((cert['name'], cert['kind']), []).append(cert['where'])
    nodes = {n['address'] for n in empty_lab.nodes().values()}
    assert set(kinds[('Talos API', 'serving')]) == nodes  # every node's apid, over mTLS with the reader talosconfig
    assert len(kinds[('Kubernetes API server', 'serving')]) == 1
    assert {name for name, kind in kinds if kind == 'ca'} == {'os CA', 'k8s CA', 'k8saggregator CA', 'etcd CA'}
    assert ('Talos client', 'client') in kinds and ('Kubernetes client', 'client') in kinds
    assert report['expired'] == []
    shown = once(result, 'Show when the certificates expire')['msg']
    assert 'os CA' in shown and 'days left' in shown
    with open(os.path.join(secrets_dir, 'secrets.yaml'), encoding='utf-8') as handle:
        bundle = handle.read()
    key_line = next(line for line in bundle.splitlines() if line.strip().startswith('key:'))
    assert key_line.split(':', 1)[1].strip() not in result.stdout
