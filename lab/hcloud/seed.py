"""The seed topology of the Hetzner side: the two VPS control planes and what they stand in.

Always: network ``lab-net`` (10.0.0.0/16, cloud subnet 10.0.0.0/20 in eu-central), spread placement
group ``lab-controlplane``, firewall ``lab-talos`` (the Talos ports, applied by label selector
``cluster=lab``), SSH key ``lab``, and servers ``vps-0`` (fsn1) and ``vps-1`` (nbg1) running the
Talos snapshot with ``talos-role=controlplane``. ``extra`` more servers ``lab-hc-001`` ... follow the
same conventions as workers, for scale tests.
"""
import base64

from . import firewalls, networks, servers

SERVER_TYPE = 'cpx32'
TALOS_IMAGE = 300000001
LOCATIONS = ('fsn1', 'nbg1', 'hel1')
TALOS_RULES = [
    {'direction': 'in', 'protocol': 'tcp', 'port': '50000', 'source_ips': ['0.0.0.0/0', '::/0'], 'description': 'apid'},
    {'direction': 'in', 'protocol': 'tcp', 'port': '50001', 'source_ips': ['0.0.0.0/0', '::/0'], 'description': 'trustd'},
    {'direction': 'in', 'protocol': 'tcp', 'port': '6443', 'source_ips': ['0.0.0.0/0', '::/0'],
     'description': 'kube-apiserver'},
    {'direction': 'in', 'protocol': 'udp', 'port': '51820', 'source_ips': ['0.0.0.0/0', '::/0'], 'description': 'KubeSpan'},
    {'direction': 'in', 'protocol': 'icmp', 'port': None, 'source_ips': ['0.0.0.0/0', '::/0'], 'description': 'ICMP'},
]


def _public_key():
    """An Ed25519 public key in OpenSSH form; its private half is thrown away at once."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives import serialization
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    blob = b''.join(len(part).to_bytes(4, 'big') + part for part in (b'ssh-ed25519', raw))
    return 'ssh-ed25519 %s lab' % base64.b64encode(blob).decode()


def seed(store, extra=0):
    saved, store.action_seconds = store.action_seconds, 0
    try:
        network = networks.create_network(store, {
            'name': 'lab-net', 'ip_range': '10.0.0.0/16', 'labels': {'cluster': 'lab'},
            'subnets': [{'type': 'cloud', 'ip_range': '10.0.0.0/20', 'network_zone': 'eu-central'}]})
        pg = {'id': store.new_id(), 'name': 'lab-controlplane', 'type': 'spread', 'labels': {'cluster': 'lab'},
              'created': store.now()}
        store.placement_groups[pg['id']] = pg
        from .misc import fingerprint
        key = _public_key()
        ssh_key = {'id': store.new_id(), 'name': 'lab', 'public_key': key, 'fingerprint': fingerprint(key),
                   'labels': {'cluster': 'lab'}, 'created': store.now()}
        store.ssh_keys[ssh_key['id']] = ssh_key
        firewall = {'id': store.new_id(), 'name': 'lab-talos', 'labels': {'cluster': 'lab'}, 'created': store.now(),
                    'rules': firewalls.check_rules(TALOS_RULES),
                    'applied_to': [{'type': 'label_selector', 'label_selector': {'selector': 'cluster=lab'}}]}
        store.firewalls[firewall['id']] = firewall
        for index in range(2):
            servers.create_server(store, {
                'name': 'vps-%d' % index, 'server_type': SERVER_TYPE, 'image': TALOS_IMAGE,
                'location': LOCATIONS[index], 'labels': {'talos-role': 'controlplane', 'cluster': 'lab'},
                'networks': [network['id']], 'placement_group': pg['id'], 'ssh_keys': [ssh_key['id']]})
        for index in range(1, extra + 1):
            servers.create_server(store, {
                'name': 'lab-hc-%03d' % index, 'server_type': SERVER_TYPE, 'image': TALOS_IMAGE,
                'location': LOCATIONS[index % len(LOCATIONS)], 'labels': {'talos-role': 'worker', 'cluster': 'lab'},
                'networks': [network['id']], 'ssh_keys': [ssh_key['id']]})
    finally:
        store.action_seconds = saved
