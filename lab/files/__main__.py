"""Serve the lab's release downloads: ``python -m lab.files CONFIG.json`` (the lab CLI writes the file)."""
import http.server
import json
import sys

from . import path_of


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = 'lab-files/1'

    def _send(self, status, body, content_type='text/plain; charset=utf-8'):
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's names)
        path = self.path.split('?', 1)[0]
        if path == '/__lab__/health':
            self._send(200, b'ok\n')
            return
        found = path_of(path)
        if found is None:
            self._send(404, b'Not Found')
            return
        with open(found, 'rb') as handle:
            self._send(200, handle.read(), 'application/octet-stream')

    do_HEAD = do_GET

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        sys.stdout.write('%s %s\n' % (self.address_string(), format % args))
        sys.stdout.flush()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: python -m lab.files CONFIG.json')
    with open(argv[0], encoding='utf-8') as handle:
        config = json.load(handle)
    server = http.server.ThreadingHTTPServer((config.get('host', '127.0.0.1'), config['port']), Handler)
    print('file server listening on http://%s:%d' % server.server_address[:2], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
