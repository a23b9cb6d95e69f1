"""A small HTTPS forward proxy (HTTP CONNECT tunnels) that records what it tunnelled to, for the
inventory's proxy support: ``with ConnectProxy() as proxy: proxy.url, proxy.tunnels``."""
import select
import socket
import socketserver
import threading


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        request = self.rfile.readline().decode('latin-1').split()
        headers = {}
        while True:
            line = self.rfile.readline().decode('latin-1').strip()
            if not line:
                break
            key, _sep, value = line.partition(':')
            headers[key.strip().lower()] = value.strip()
        if len(request) != 3 or request[0] != 'CONNECT':
            self.wfile.write(b'HTTP/1.1 405 Method Not Allowed\r\n\r\n')
            return
        self.server.tunnels.append((request[1], headers.get('proxy-authorization')))
        host, _sep, port = request[1].rpartition(':')
        with socket.create_connection((host.strip('[]'), int(port)), timeout=10) as upstream:
            self.wfile.write(b'HTTP/1.1 200 Connection established\r\n\r\n')
            self.wfile.flush()
            sockets = [self.connection, upstream]
            while True:
                readable, _w, _x = select.select(sockets, [], [], 10)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.connection else self.connection).sendall(data)


class ConnectProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(('127.0.0.1', 0), _Handler)
        self.tunnels = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.server_address[1]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.shutdown()
        self.server_close()
