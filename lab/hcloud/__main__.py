"""Serve the Hetzner stand-in: ``python -m lab.hcloud CONFIG.json`` (the lab CLI writes the file).

The config holds the tokens, so it is read from a 0600 file rather than the command line, where
any local user could see it in the process list.
"""
import json
import sys

from .seed import seed
from .service import Lab, make_server


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: python -m lab.hcloud CONFIG.json')
    with open(argv[0], encoding='utf-8') as handle:
        config = json.load(handle)
    lab = Lab(tokens=config['tokens'], action_seconds=config.get('action_seconds', 0.5),
              capacity=config.get('rate_limit', 3600), refill=config.get('refill', 1.0),
              validate=config.get('validate', False), ipv4_pool=config.get('ipv4_pool'))
    if not config.get('empty'):
        seed(lab.store, config.get('servers', 0))
    host = config.get('host', '127.0.0.1')
    server = make_server(lab, config.get('listen') or host, config['port'])
    print('hcloud stand-in listening on http://%s:%d/v1 (%s)' % (host, config['port'], server.server_address[0]), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
