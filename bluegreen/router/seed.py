"""The routing volume's first files, written before the router ever starts."""

from __future__ import annotations

from collections.abc import Mapping

from bluegreen.engine.client import DockerClient, tar_files
from bluegreen.engine.names import ROLE_LABEL, ROLE_SEED
from bluegreen.router.layout import ROUTING_DIR


def seed_routing_volume(client: DockerClient, image: str, volume: str, user: str, files: Mapping[str, str]) -> None:
    """Files into the routing volume (names relative to it), the volume and they owned by `user` (uid:gid).

    Through a container of the router's image that is created and never
    started: a fresh volume belongs to root, the router's root filesystem is
    read-only (Docker takes an archive only into a volume there), and the
    router itself runs without the capabilities to change either. No process
    runs, as root or otherwise; the archive API writes while it is mounted.
    """
    uid, gid = (int(x) for x in user.split(":"))
    helper = f"{volume}-seed"
    body = {
        "Image": image, "Cmd": ["true"], "Entrypoint": [], "NetworkDisabled": True,
        "Labels": {ROLE_LABEL: ROLE_SEED},
        "HostConfig": {"Mounts": [{"Type": "volume", "Source": volume, "Target": ROUTING_DIR}]},
    }  # fmt: skip
    client.request("DELETE", f"/containers/{helper}?force=1", allow=(404,))
    client.request("POST", f"/containers/create?name={helper}", body)
    try:
        archive = tar_files(files, uid, gid, directory=ROUTING_DIR)
        client.put_archive(helper, ROUTING_DIR.rsplit("/", 1)[0], archive)
    finally:
        client.request("DELETE", f"/containers/{helper}?force=1", allow=(404,))
