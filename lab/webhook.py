"""A webhook that misbehaves on purpose, chosen by its path: what a rollout must survive.

`/truncate` promises 1,000 bytes and sends a few, `/drip` sends its answer a
byte every 0.2 s (each read is quick, the whole takes 20 s), `/redirect`
answers 307, anything else a garbage status line. Shared by the unit tests,
the end-to-end rollout and the bench's bad canary.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator

KINDS = ("truncate", "drip", "refuse")  # refuse: nothing listens at all


class Misbehaving(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.startswith("/truncate"):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"only a part")
            self.wfile.flush()
            self.connection.shutdown(2)
        elif self.path.startswith("/drip"):
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b".")
                self.wfile.flush()
                time.sleep(0.2)
        elif self.path.startswith("/redirect"):
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.end_headers()
        else:
            self.wfile.write(b"HTTP/1.1 nonsense\r\n\r\n")

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def misbehaving_webhook(host: str = "127.0.0.1") -> Iterator[str]:
    """The server's base URL (http://HOST:PORT) while the block runs."""
    server = http.server.ThreadingHTTPServer((host, 0), Misbehaving)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def webhook_url(base: str, kind: str) -> str:
    """The URL of one misbehaviour; `refuse` is a port where nothing listens."""
    return "http://127.0.0.1:9/refused" if kind == "refuse" else f"{base}/{kind}/T000/B000/secret-path"
