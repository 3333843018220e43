"""An HTTP server on 127.0.0.1 in a thread, for the stand-ins the tests run (the Kubernetes API
server, Grafana's API, a webhook receiver): started and stopped by the test that needs it."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = "127.0.0.1"


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0, host: str = LOOPBACK):
        """`host`: another loopback address (127.0.0.2, ...) stands for another machine."""
        self._server = ThreadingHTTPServer((host, port), handler)
        self.url = f"http://{host}:{self._server.server_address[1]}"
        # serve_forever checks for shutdown every poll interval (0.5 s by default): every stop() waited that long.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    """Answers without logging each request to stderr."""

    def send(self, status: int, data: bytes, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status: int, body: dict) -> None:
        self.send(status, json.dumps(body).encode())

    def log_message(self, *args) -> None:
        pass


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (now): for a server to start on, or to find closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
