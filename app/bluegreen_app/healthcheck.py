"""Docker HEALTHCHECK: GET the readiness path on loopback, exit 0 only on 200.

Plain sockets, no urllib: it runs every few seconds in every container, so
its start-up cost is CPU the app does not get.
"""

import os
import socket
import sys


def main() -> int:
    port = int(os.environ.get("APP_PORT", "8000"))
    path = os.environ.get("APP_HEALTH_PATH", "/health/ready")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            status_line = conn.recv(64).split(b"\r\n", 1)[0]
    except OSError as exc:
        print(f"unhealthy: {exc}")
        return 1
    parts = status_line.split()
    if len(parts) >= 2 and parts[1] == b"200":
        return 0
    print(f"unhealthy: {status_line.decode(errors='replace')}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
