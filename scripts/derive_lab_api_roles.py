"""Derive the Talos simulator's per-call role rules: lab/talos/api_roles.json.

Source: the interface facts ../shared/reference/talos-api-facts.json (``services.*.rpcs.*.allowed_roles``
per Talos tag). The result is the project's own data file, committed: the simulator reads it at run
time and never needs ../shared. A test checks that the committed file equals this script's output
whenever ../shared is present; after the facts change, run the script and commit what it writes.
An entry such as "os:reader (handler then requires os:admin ...)" keeps its role: the simulator lets
the call through its gate and the handler makes the narrower check. Prose entries are dropped.
Usage: derive_lab_api_roles.py [FACTS_FILE [DEST_FILE]]
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def derive(facts):
    """The committed text: {"roles": {tag: {full method: [roles]}}} with its source noted."""
    roles = {}
    for tag in facts['talos_tags']:
        table = roles.setdefault(tag, {})
        for service in facts['services'].values():
            for rpc in service['rpcs'].values():
                allowed = rpc['allowed_roles']
                allowed = allowed[tag] if isinstance(allowed, dict) else allowed
                table[rpc['full_method']] = sorted({role.split(' ')[0] for role in allowed if role.startswith('os:')})
    data = {'x-hybridops-source': 'derived from the Talos interface facts (talos-api-facts.json) by '
                                  'scripts/derive_lab_api_roles.py; the roles each call allows, per Talos tag',
            'roles': roles}
    return json.dumps(data, sort_keys=True, indent=1) + '\n'


def main(argv):
    source = argv[1] if len(argv) > 1 else os.path.join(ROOT, '..', 'shared', 'reference', 'talos-api-facts.json')
    dest = argv[2] if len(argv) > 2 else os.path.join(ROOT, 'lab', 'talos', 'api_roles.json')
    if not os.path.isfile(source):
        sys.exit('derive_lab_api_roles: %s is missing' % source)
    with open(source, encoding='utf-8') as handle:
        text = derive(json.load(handle))
    with open(dest, 'w', encoding='utf-8') as handle:
        handle.write(text)
    print('derive_lab_api_roles: %s (%d bytes)' % (dest, len(text)))


if __name__ == '__main__':
    main(sys.argv)
