"""The docker SDK, imported on first use and without what this project does not use.

Every engine call goes through the SDK (bluegreen.engine.client); `bluegreen
validate`, `reference` and the program's pure parts never import it.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import cast


def sdk(ssh: bool = False) -> ModuleType:
    """The docker SDK, imported on the first call rather than with this module.

    docker.transport imports paramiko whenever it is installed (65 ms, half the
    SDK's import, measured), though with `use_ssh_client` only the ssh adapter
    needs it. A process whose first engine is not ssh:// imports the SDK
    without it (the SDK treats paramiko as optional); should an ssh:// engine
    follow in the same process (tests do), its adapter is loaded then.
    """
    if "docker" not in sys.modules and not ssh and "paramiko" not in sys.modules:
        sys.modules["paramiko"] = None  # type: ignore[assignment]  # an ImportError for `import paramiko`
        try:
            import docker
        finally:
            del sys.modules["paramiko"]
    import docker
    import docker.api.client

    if ssh and not hasattr(docker.api.client, "SSHHTTPAdapter"):
        from docker.transport.sshconn import SSHHTTPAdapter

        docker.api.client.SSHHTTPAdapter = SSHHTTPAdapter
    return cast(ModuleType, docker)
