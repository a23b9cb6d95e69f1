"""Through ansible-playbook: the Talos API modules, run by an interpreter without grpclib, fail with
Ansible's missing_required_lib message (the in-process cases are in tests/unit/plugins/modules).

The task's ``environment`` puts a ``grpclib`` package first on the module's PYTHONPATH whose import
fails, as on a controller or execution environment where grpclib was never installed.
"""

MODULE_ARGS = {
    'talos_bootstrap': {'node': '192.0.2.1'},
    'talos_etcd_info': {'nodes': ['192.0.2.1']},
    'talos_kubeconfig': {'node': '192.0.2.1', 'dest': '/nonexistent/kubeconfig'},
    'kubespan_verify': {'nodes': ['192.0.2.1', '192.0.2.2']},
    'talos_machineconfig': {'secrets': '/nonexistent', 'role': 'worker', 'cluster_name': 'c', 'cluster_endpoint': 'https://c:6443',
                            'talos_version': 'v1.9.6', 'kubernetes_version': '1.32.3', 'state': 'applied', 'node': '192.0.2.1'},
}


def test_every_talos_api_module_names_the_missing_library(run_playbook, tmp_path):
    shadow = tmp_path / 'no-grpclib' / 'grpclib'
    shadow.mkdir(parents=True)
    (shadow / '__init__.py').write_text("raise ImportError(\"No module named 'grpclib' (hidden by the test)\")\n")
    tasks = [{'name': module, 'hybridops.talos.%s' % module: args, 'ignore_errors': True,
              'environment': {'PYTHONPATH': str(shadow.parent)}} for module, args in MODULE_ARGS.items()]
    run = run_playbook([{'name': 'without grpclib', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}])
    for module in MODULE_ARGS:
        result = run.result(module)
        assert result['failed'] is True, (module, result)
        assert result['msg'].startswith('Failed to import the required Python library (grpclib) on '), (module, result['msg'])
        assert result['failure']['reason'] == 'missing_library', module
