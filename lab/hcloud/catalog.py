"""The read-only catalog of the Hetzner stand-in: locations, datacenters, server types and images.

Server types follow the 2025 line-up: CX Gen 2 (cx22 ...) and CPX Gen 1 (cpx11 ...) are still
listed but flagged the way the real API flags types announced for removal (``deprecated: true``
plus a ``deprecation`` object, also per location), so tooling can refuse them and name the
current generation instead.
"""
CREATED = '2016-01-30T23:55:00+00:00'
DEPRECATION = {'announced': '2025-10-16T06:00:00+00:00', 'unavailable_after': '2027-01-01T00:00:00+00:00'}

LOCATIONS = [
    # id, name, description, country, city, latitude, longitude, network zone, datacenter
    (1, 'fsn1', 'Falkenstein DC Park 1', 'DE', 'Falkenstein', 50.47612, 12.370071, 'eu-central', 'fsn1-dc14'),
    (2, 'nbg1', 'Nuremberg DC Park 1', 'DE', 'Nuremberg', 49.452102, 11.076665, 'eu-central', 'nbg1-dc3'),
    (3, 'hel1', 'Helsinki DC Park 1', 'FI', 'Helsinki', 60.169855, 24.938379, 'eu-central', 'hel1-dc2'),
    (4, 'ash', 'Ashburn, VA', 'US', 'Ashburn, VA', 39.045821, -77.487073, 'us-east', 'ash-dc1'),
    (5, 'hil', 'Hillsboro, OR', 'US', 'Hillsboro, OR', 45.54222, -122.95133, 'us-west', 'hil-dc1'),
    (6, 'sin', 'Singapore', 'SG', 'Singapore', 1.283333, 103.833333, 'ap-southeast', 'sin-dc1'),
]

SERVER_TYPES = [
    # id, name, cores, memory GB, disk GB, cpu type, architecture, category, deprecated, monthly EUR net
    (22, 'cx22', 2, 4.0, 40, 'shared', 'x86', 'cost_optimized', True, '3.79'),
    (23, 'cx32', 4, 8.0, 80, 'shared', 'x86', 'cost_optimized', True, '6.80'),
    (24, 'cx42', 8, 16.0, 160, 'shared', 'x86', 'cost_optimized', True, '16.40'),
    (25, 'cx52', 16, 32.0, 320, 'shared', 'x86', 'cost_optimized', True, '32.40'),
    (104, 'cx23', 2, 4.0, 40, 'shared', 'x86', 'cost_optimized', False, '2.99'),
    (105, 'cx33', 4, 8.0, 80, 'shared', 'x86', 'cost_optimized', False, '4.99'),
    (106, 'cx43', 8, 16.0, 160, 'shared', 'x86', 'cost_optimized', False, '8.99'),
    (107, 'cx53', 16, 32.0, 320, 'shared', 'x86', 'cost_optimized', False, '16.99'),
    (1, 'cpx11', 2, 2.0, 40, 'shared', 'x86', 'regular_purpose', True, '4.35'),
    (2, 'cpx21', 3, 4.0, 80, 'shared', 'x86', 'regular_purpose', True, '7.55'),
    (3, 'cpx31', 4, 8.0, 160, 'shared', 'x86', 'regular_purpose', True, '13.60'),
    (4, 'cpx41', 8, 16.0, 240, 'shared', 'x86', 'regular_purpose', True, '25.20'),
    (5, 'cpx51', 16, 32.0, 360, 'shared', 'x86', 'regular_purpose', True, '54.90'),
    (108, 'cpx22', 2, 4.0, 80, 'shared', 'x86', 'regular_purpose', False, '5.99'),
    (109, 'cpx32', 4, 8.0, 160, 'shared', 'x86', 'regular_purpose', False, '10.49'),
    (110, 'cpx42', 8, 16.0, 320, 'shared', 'x86', 'regular_purpose', False, '19.49'),
    (111, 'cpx52', 12, 24.0, 480, 'shared', 'x86', 'regular_purpose', False, '28.49'),
    (112, 'cpx62', 16, 32.0, 640, 'shared', 'x86', 'regular_purpose', False, '38.99'),
    (45, 'cax11', 2, 4.0, 40, 'shared', 'arm', 'cost_optimized', False, '3.79'),
    (93, 'cax21', 4, 8.0, 80, 'shared', 'arm', 'cost_optimized', False, '6.49'),
    (94, 'cax31', 8, 16.0, 160, 'shared', 'arm', 'cost_optimized', False, '12.49'),
    (95, 'cax41', 16, 32.0, 320, 'shared', 'arm', 'cost_optimized', False, '24.49'),
    (96, 'ccx13', 2, 8.0, 80, 'dedicated', 'x86', 'general_purpose', False, '12.49'),
    (97, 'ccx23', 4, 16.0, 160, 'dedicated', 'x86', 'general_purpose', False, '24.49'),
    (98, 'ccx33', 8, 32.0, 240, 'dedicated', 'x86', 'general_purpose', False, '48.49'),
]

IMAGES = [
    # id, name, description, os flavor, os version, type, architecture, labels
    (114690387, 'debian-12', 'Debian 12', 'debian', '12', 'system', 'x86', {}),
    (114690389, 'debian-12', 'Debian 12', 'debian', '12', 'system', 'arm', {}),
    (202151234, 'debian-13', 'Debian 13', 'debian', '13', 'system', 'x86', {}),
    (161547269, 'ubuntu-24.04', 'Ubuntu 24.04', 'ubuntu', '24.04', 'system', 'x86', {}),
    (161547270, 'ubuntu-24.04', 'Ubuntu 24.04', 'ubuntu', '24.04', 'system', 'arm', {}),
    (67794396, 'ubuntu-22.04', 'Ubuntu 22.04', 'ubuntu', '22.04', 'system', 'x86', {}),
    (76766499, 'rocky-9', 'Rocky Linux 9', 'rocky', '9', 'system', 'x86', {}),
    # Talos is installed on Hetzner from a snapshot made of its raw image: snapshots have no name.
    (300000001, None, 'talos-v1.9.6', 'unknown', None, 'snapshot', 'x86',
     {'os': 'talos', 'talos-version': 'v1.9.6'}),
]


def location(entry):
    lid, name, description, country, city, latitude, longitude, zone, _dc = entry
    return {'id': lid, 'name': name, 'description': description, 'country': country, 'city': city,
            'latitude': latitude, 'longitude': longitude, 'network_zone': zone}


def _price(location_name, monthly):
    net = float(monthly)
    hourly = round(net / 730.0, 4)
    return {'location': location_name, 'included_traffic': 21990232555520,
            'price_hourly': {'net': '%.4f' % hourly, 'gross': '%.4f' % (hourly * 1.19)},
            'price_monthly': {'net': '%.4f' % net, 'gross': '%.4f' % (net * 1.19)},
            'price_per_tb_traffic': {'net': '1.0000', 'gross': '1.1900'}}


def _type_locations(entry):
    arch = entry[6]
    # Arm servers only exist in the EU locations, as in the real catalog.
    return [loc for loc in LOCATIONS if arch == 'x86' or loc[7] == 'eu-central']


def server_type(entry):
    tid, name, cores, memory, disk, cpu_type, arch, category, deprecated, monthly = entry
    locations = _type_locations(entry)
    return {
        'id': tid, 'name': name, 'description': name.upper(), 'cores': cores, 'memory': memory, 'disk': disk,
        'cpu_type': cpu_type, 'architecture': arch, 'category': category, 'storage_type': 'local',
        'deprecated': deprecated, 'deprecation': dict(DEPRECATION) if deprecated else None,
        'prices': [_price(loc[1], monthly) for loc in locations],
        # available/recommended per location are newer than the published description; clients read them.
        'locations': [{'id': loc[0], 'name': loc[1], 'deprecation': dict(DEPRECATION) if deprecated else None,
                       'available': True, 'recommended': not deprecated} for loc in locations],
    }


def image(entry):
    iid, name, description, flavor, version, kind, arch, labels = entry
    return {
        'id': iid, 'name': name, 'description': description, 'os_flavor': flavor, 'os_version': version,
        'type': kind, 'architecture': arch, 'labels': dict(labels), 'status': 'available', 'created': CREATED,
        'deprecated': None, 'deleted': None, 'bound_to': None, 'created_from': None, 'rapid_deploy': kind == 'system',
        'disk_size': 5 if kind == 'system' else 1, 'image_size': None if kind == 'system' else 0.2,
        'protection': {'delete': False},
    }


def datacenter(entry, types):
    available = [t['id'] for t in types if entry[1] in [loc['name'] for loc in t['locations']]]
    return {'id': entry[0], 'name': entry[8], 'description': '%s virtual DC 1' % entry[5],
            'location': location(entry),
            'server_types': {'supported': available, 'available': available, 'available_for_migration': available}}


def build():
    """Return the catalog as ``{collection: [objects]}``."""
    types = [server_type(e) for e in SERVER_TYPES]
    return {
        'locations': [location(e) for e in LOCATIONS],
        'datacenters': [datacenter(e, types) for e in LOCATIONS],
        'server_types': types,
        'images': [image(e) for e in IMAGES],
    }
