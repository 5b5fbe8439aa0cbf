"""Small helpers for tests that drive a real Docker engine through its CLI."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

TEST_LABEL = "bluegreen.test=1"


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


@dataclass
class Container:
    name: str

    def inspect(self) -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(docker("inspect", self.name).stdout)
        return data[0]

    def host_port(self, container_port: int) -> int:
        out = docker("port", self.name, f"{container_port}/tcp").stdout.strip().splitlines()[0]
        return int(out.rsplit(":", 1)[1])

    def url(self, path: str = "/", container_port: int = 8000) -> str:
        return f"http://127.0.0.1:{self.host_port(container_port)}{path}"

    def health(self) -> str:
        state = self.inspect()["State"]
        return str(state.get("Health", {}).get("Status", "none"))

    def wait_health(self, wanted: str = "healthy", timeout: float = 60) -> float:
        """Seconds until Docker reports `wanted`; fails with the last log lines otherwise."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            status = self.health()
            if status == wanted:
                return time.monotonic() - started
            if not self.inspect()["State"]["Running"]:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not {wanted} (is {self.health()}); logs:\n{self.logs()[-2000:]}")

    def logs(self) -> str:
        done = docker("logs", self.name, check=False)
        return done.stdout + done.stderr

    def wait_exit(self, timeout: float = 60) -> int:
        return int(docker("wait", self.name, timeout=timeout).stdout.strip())


def run(image: str, name: str, *args: str, env: dict[str, str] | None = None) -> Container:
    env_args = [item for k, v in (env or {}).items() for item in ("-e", f"{k}={v}")]
    docker("run", "-d", "--name", name, "--label", TEST_LABEL, *env_args, *args, image)
    return Container(name)


def get(url: str, timeout: float = 10, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET; `headers`: e.g. {"Host": "shop.test"} for an app behind a shared router."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def remove_test_containers() -> None:
    names = docker("ps", "-aq", "--filter", f"label={TEST_LABEL}").stdout.split()
    if names:
        docker("rm", "-f", *names, check=False)
