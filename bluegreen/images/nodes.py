"""An image on every node of a swarm without a registry: `docker save` here, `docker load` there, checked by id.

Swarm starts a task on whichever node it places it, and that node's engine
must already hold the image: an image built here or pulled from the S3 store
exists only on this engine. The archive streams from this engine into each
node's (never a file, never whole in memory), one node per thread; a node
that has the image already costs one inspect. The id is checked afterwards:
the node now holds the very image the colour runs, not merely one by that name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bluegreen.engine.client import DockerClient
from bluegreen.errors import DockerError, ImageStoreError


@dataclass(frozen=True)
class Copied:
    """What one node got: `had` when it held the image before."""

    node: str
    image_id: str
    had: bool
    megabytes: float = 0.0

    def line(self) -> str:
        done = "had it" if self.had else f"loaded ({self.megabytes:.1f} MB)"
        return f"{self.node}: {self.image_id[:19]} {done}"


def _counted(chunks: Iterator[bytes], sizes: list[int]) -> Iterator[bytes]:
    for chunk in chunks:
        sizes.append(len(chunk))
        yield chunk


def copy_to_node(image_id: str, node: str, source: DockerClient) -> Copied:
    """One node; a client of its own for each side, so threads share no connection."""
    target = DockerClient(node, timeout=600, cert_path=source.cert_path)
    reader = DockerClient(source.host, timeout=600, cert_path=source.cert_path)
    try:
        if target.image_id(image_id) == image_id:
            return Copied(node, image_id, had=True)
        sizes: list[int] = []
        target.load_image(_counted(reader.save_image(image_id), sizes))
        found = target.image_id(image_id)
    except DockerError as exc:
        raise ImageStoreError(f"{node}: {exc}; the colour's image is not there, so nothing was released") from exc
    finally:
        target.close()
        reader.close()
    if found != image_id:
        raise ImageStoreError(f"{node}: after the load it holds {found or 'no image'} by that id, not {image_id}")
    return Copied(node, image_id, had=False, megabytes=sum(sizes) / 1e6)


def copy_to_nodes(image_id: str, nodes: Sequence[str], source: DockerClient | None = None) -> list[Copied]:
    """Every node holds `image_id` afterwards, or this raises naming each node that does not (and why)."""
    source = source or DockerClient()
    if source.image_id(image_id) != image_id:
        raise ImageStoreError(f"{image_id}: not on the deploying engine ({source.host}); nothing to copy from")
    with ThreadPoolExecutor(max_workers=min(4, max(len(nodes), 1))) as pool:
        futures = [pool.submit(copy_to_node, image_id, node, source) for node in nodes]
    copied, failed = [], []
    for future in futures:
        try:
            copied.append(future.result())
        except ImageStoreError as exc:
            failed.append(str(exc))
    if failed:
        raise ImageStoreError("; ".join(failed))
    return copied
