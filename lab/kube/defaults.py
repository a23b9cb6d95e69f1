"""The defaults kube-apiserver sets on the built-in kinds our code and the controller stand-ins read
(a subset of kube's defaulting funcs: pod specs and templates, workloads, services, namespaces, jobs, volumes and
claims)."""
import ipaddress
import random

SERVICE_CIDR = ipaddress.ip_network('10.96.0.0/12')


def _set(obj, key, value):
    if obj.get(key) is None:
        obj[key] = value


def _container(container):
    _set(container, 'terminationMessagePath', '/dev/termination-log')
    _set(container, 'terminationMessagePolicy', 'File')
    image = container.get('image') or ''
    tag = image.rsplit('/', 1)[-1]
    _set(container, 'imagePullPolicy', 'Always' if ('@' not in image and (':' not in tag or tag.endswith(':latest'))) else 'IfNotPresent')
    _set(container, 'resources', {})
    for port in container.get('ports') or ():
        _set(port, 'protocol', 'TCP')
    for env in container.get('env') or ():
        field_ref = (env.get('valueFrom') or {}).get('fieldRef')
        if field_ref is not None:
            _set(field_ref, 'apiVersion', 'v1')


def pod_spec(spec):
    _set(spec, 'restartPolicy', 'Always')
    _set(spec, 'terminationGracePeriodSeconds', 30)
    _set(spec, 'dnsPolicy', 'ClusterFirst')
    _set(spec, 'schedulerName', 'default-scheduler')
    _set(spec, 'securityContext', {})
    for container in (spec.get('initContainers') or []) + (spec.get('containers') or []):
        _container(container)


def _template(obj):
    template = (obj.get('spec') or {}).get('template')
    if isinstance(template, dict):
        template.setdefault('metadata', {})
        pod_spec(template.setdefault('spec', {}))


def apply(obj, resource, uid):
    """Set the defaults of ``obj`` (a new or updated object) in place."""
    kind = (resource.group, resource.kind)
    spec = obj.get('spec') if isinstance(obj.get('spec'), dict) else None
    if kind == ('', 'Pod') and spec is not None:
        pod_spec(spec)
        spec.setdefault('serviceAccountName', 'default')
        spec.setdefault('serviceAccount', spec['serviceAccountName'])
        spec.setdefault('enableServiceLinks', True)
        spec.setdefault('priority', 0)
        spec.setdefault('preemptionPolicy', 'PreemptLowerPriority')
        obj.setdefault('status', {}).setdefault('phase', 'Pending')
    elif kind in (('', 'PersistentVolumeClaim'), ('', 'PersistentVolume')) and spec is not None:
        # SetDefaults_PersistentVolume(Claim): phase Pending, Filesystem volumes; a PV's reclaim policy Retain.
        spec.setdefault('volumeMode', 'Filesystem')
        if kind == ('', 'PersistentVolume'):
            spec.setdefault('persistentVolumeReclaimPolicy', 'Retain')
        obj.setdefault('status', {}).setdefault('phase', 'Pending')
    elif kind == ('apps', 'Deployment') and spec is not None:
        _set(spec, 'replicas', 1)
        _set(spec, 'strategy', {'type': 'RollingUpdate', 'rollingUpdate': {'maxUnavailable': '25%', 'maxSurge': '25%'}})
        _set(spec, 'revisionHistoryLimit', 10)
        _set(spec, 'progressDeadlineSeconds', 600)
        _template(obj)
    elif kind == ('apps', 'DaemonSet') and spec is not None:
        _set(spec, 'updateStrategy', {'type': 'RollingUpdate', 'rollingUpdate': {'maxUnavailable': 1, 'maxSurge': 0}})
        _set(spec, 'revisionHistoryLimit', 10)
        _template(obj)
    elif kind in (('apps', 'ReplicaSet'), ('apps', 'StatefulSet')) and spec is not None:
        _set(spec, 'replicas', 1)
        _template(obj)
    elif kind == ('batch', 'Job') and spec is not None:
        _set(spec, 'parallelism', 1)
        _set(spec, 'completions', 1)
        _set(spec, 'backoffLimit', 6)
        _set(spec, 'completionMode', 'NonIndexed')
        _set(spec, 'suspend', False)
        _set(spec, 'podReplacementPolicy', 'TerminatingOrFailed')
        if not spec.get('manualSelector') and uid:
            labels = {'batch.kubernetes.io/controller-uid': uid}
            _set(spec, 'selector', {'matchLabels': dict(labels)})
            template = spec.setdefault('template', {})
            template_labels = template.setdefault('metadata', {}).setdefault('labels', {})
            template_labels.update(labels)
            template_labels.setdefault('controller-uid', uid)
            template_labels.setdefault('batch.kubernetes.io/job-name', obj['metadata'].get('name', ''))
            template_labels.setdefault('job-name', obj['metadata'].get('name', ''))
        _template(obj)
    elif kind == ('batch', 'CronJob') and spec is not None:
        _set(spec, 'concurrencyPolicy', 'Allow')
        _set(spec, 'suspend', False)
        job_template = spec.get('jobTemplate') or {}
        if isinstance(job_template.get('spec', {}).get('template'), dict):
            pod_spec(job_template['spec']['template'].setdefault('spec', {}))
    elif kind == ('', 'Service') and spec is not None:
        _set(spec, 'type', 'ClusterIP')
        _set(spec, 'sessionAffinity', 'None')
        if spec.get('clusterIP') is None and spec['type'] != 'ExternalName':
            spec['clusterIP'] = str(SERVICE_CIDR.network_address + random.randint(11, SERVICE_CIDR.num_addresses - 2))
        if spec.get('clusterIP') and spec['clusterIP'] != 'None':
            _set(spec, 'clusterIPs', [spec['clusterIP']])
        _set(spec, 'ipFamilies', ['IPv4'])
        _set(spec, 'ipFamilyPolicy', 'SingleStack')
        _set(spec, 'internalTrafficPolicy', 'Cluster')
        for port in spec.get('ports') or ():
            _set(port, 'protocol', 'TCP')
            _set(port, 'targetPort', port.get('port'))
    elif kind == ('', 'Namespace'):
        obj.setdefault('spec', {}).setdefault('finalizers', ['kubernetes'])
        obj.setdefault('status', {}).setdefault('phase', 'Active')
        obj['metadata'].setdefault('labels', {})['kubernetes.io/metadata.name'] = obj['metadata'].get('name', '')
    elif kind == ('', 'Secret'):
        if not obj.get('type'):
            obj['type'] = 'Opaque'
    elif kind == ('apiextensions.k8s.io', 'CustomResourceDefinition') and spec is not None:
        _set(spec, 'conversion', {'strategy': 'None'})
        names = spec.get('names') or {}
        if names.get('kind'):
            _set(names, 'listKind', names['kind'] + 'List')
            _set(names, 'singular', names['kind'].lower())
