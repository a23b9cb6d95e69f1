"""Write the Talos config schemas the collection validates against to talos_schemas/<contract>.json.

Source: Talos' published JSON schemas in ../shared/oracles/talos/<tag>/config.schema.json (MPL-2.0,
siderolabs/talos). The copies drop the human documentation (descriptions, titles) that validation
does not read, and record the Talos tag they come from. talos_schemas/ is generated, never committed;
`make setup` runs this script and the collection artifact ships the result.
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


def main(argv):
    source = argv[1] if len(argv) > 1 else os.path.join(ROOT, '..', 'shared', 'oracles', 'talos')
    dest = argv[2] if len(argv) > 2 else os.path.join(ROOT, 'talos_schemas')
    os.makedirs(dest, exist_ok=True)
    for contract, tag in sorted(CONTRACTS.items()):
        path = os.path.join(source, tag, 'config.schema.json')
        if not os.path.isfile(path):
            sys.exit('derive_talos_schemas: %s is missing' % path)
        with open(path, encoding='utf-8') as handle:
            schema = strip_docs(json.load(handle))
        schema['x-hybridops-source'] = 'siderolabs/talos %s config.schema.json (MPL-2.0), documentation removed' % tag
        target = os.path.join(dest, '%s.json' % contract)
        text = json.dumps(schema, sort_keys=True, separators=(',', ':')) + '\n'
        current = None
        if os.path.exists(target):
            with open(target, encoding='utf-8') as handle:
                current = handle.read()
        if current != text:  # atomic: parallel test workers may read it meanwhile
            tmp = '%s.%d.tmp' % (target, os.getpid())
            with open(tmp, 'w', encoding='utf-8') as handle:
                handle.write(text)
            os.replace(tmp, target)
        print('derive_talos_schemas: %s <- %s (%d bytes)' % (target, tag, len(text)))


if __name__ == '__main__':
    main(sys.argv)
