"""Derive the Talos config schemas the collection validates against: talos_schemas/<contract>.json.

Source: Talos' published JSON schemas, ../shared/oracles/talos/<tag>/config.schema.json (MPL-2.0,
siderolabs/talos). The copies drop the human documentation (descriptions, titles) that validation
does not read, and record the Talos tag they come from. The result is committed (talos_schemas/,
see docs/decisions/0004-talos-schemas-committed.md): run this script after adding a contract or
moving a tag, and commit what it writes. A test checks that the committed files equal its output
whenever ../shared is present.
Usage: derive_talos_schemas.py [SOURCE_DIR [DEST_DIR]]
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTRACTS = {'v1.9': 'v1.9.6', 'v1.13': 'v1.13.9'}  # keep in step with _talos/contracts.py
DOC_KEYS = ('description', 'markdownDescription', 'x-intellij-html-description', 'title')


def strip_docs(node):
    if isinstance(node, dict):
        return {k: strip_docs(v) for k, v in node.items() if not (k in DOC_KEYS and isinstance(v, str))}
    if isinstance(node, list):
        return [strip_docs(v) for v in node]
    return node


def derive(path, tag):
    """The committed text for the published schema at ``path`` (Talos ``tag``)."""
    with open(path, encoding='utf-8') as handle:
        schema = strip_docs(json.load(handle))
    schema['x-hybridops-source'] = 'siderolabs/talos %s config.schema.json (MPL-2.0), documentation removed' % tag
    # One key per line: a reviewable diff when a tag moves.
    return json.dumps(schema, sort_keys=True, indent=1) + '\n'


def main(argv):
    source = argv[1] if len(argv) > 1 else os.path.join(ROOT, '..', 'shared', 'oracles', 'talos')
    dest = argv[2] if len(argv) > 2 else os.path.join(ROOT, 'talos_schemas')
    os.makedirs(dest, exist_ok=True)
    for contract, tag in sorted(CONTRACTS.items()):
        path = os.path.join(source, tag, 'config.schema.json')
        if not os.path.isfile(path):
            sys.exit('derive_talos_schemas: %s is missing' % path)
        text = derive(path, tag)
        target = os.path.join(dest, '%s.json' % contract)
        with open(target, 'w', encoding='utf-8') as handle:
            handle.write(text)
        print('derive_talos_schemas: %s <- %s (%d bytes)' % (target, tag, len(text)))


if __name__ == '__main__':
    main(sys.argv)
