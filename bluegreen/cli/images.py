"""`bluegreen image ...`: images without a registry, through an S3 bucket, and onto a swarm's other nodes."""

from __future__ import annotations

import argparse
from typing import TextIO

from bluegreen.cli.args import Subparsers, add_store_args, check_endpoint, docker_host, image_id
from bluegreen.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, BluegreenError, ImageStoreError
from bluegreen.images.store import ImageStore


def _image_store(args: argparse.Namespace) -> ImageStore:
    import boto3  # only the image commands need it; switch and rollback start faster without it

    return ImageStore(boto3.client("s3", endpoint_url=args.endpoint_url), args.bucket, args.prefix)


def cmd_image(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    refused = check_endpoint(args)
    if refused:
        err.write(f"image {args.image_command}: {refused}\n")
        return EXIT_BAD_INPUT
    try:
        store = _image_store(args)
        if args.image_command == "push":
            result = store.push(args.ref)
            out.write(f"pushed {result.ref}: {result.size / 1e6:.1f} MB gzip, sha256 {result.sha256}; image id "
                      f"{result.image_id} (pin it: COLOR.imageId in the stack file)\n")  # fmt: skip
        elif args.image_command == "promote":
            pointer = store.promote(args.ref, args.env)
            before = pointer["history"][0]["tag"] if pointer["history"] else "nothing"
            out.write(f"{args.env} -> {args.ref} (was {before})\n")
        elif args.image_command == "pull":
            out.write(store.pull(args.ref, args.env, pinned_id=args.image_id) + "\n")
        elif args.image_command == "list":
            for meta in store.tags(args.name):
                out.write(f"{meta['tag']:<24} {meta['sha256'][:12]} {meta['size'] / 1e6:8.1f} MB  {meta['pushedAt']}\n")
        elif args.image_command == "history":
            for entry in store.history(args.name, args.env):
                out.write(f"{entry['promotedAt']}  {entry['tag']:<24} {entry['sha256'][:12]}\n")
    except ImageStoreError as exc:
        err.write(f"image {args.image_command}: {exc}\n")
        return exc.exit_code
    except ValueError as exc:  # botocore refuses a malformed endpoint before any request
        err.write(f"image {args.image_command}: --endpoint-url: {exc}\n")
        return EXIT_BAD_INPUT
    except (BotoCoreError, ClientError) as exc:
        err.write(f"image {args.image_command}: s3://{args.bucket}/{args.prefix}: {exc}\n")
        return EXIT_FAILED
    return EXIT_OK


def cmd_image_copy(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The program runs this before a swarm colour's service: its image on every other node (docs/swarm.md)."""
    from bluegreen.images.nodes import copy_to_nodes

    try:
        for copied in copy_to_nodes(args.image, args.nodes):
            out.write(copied.line() + "\n")
    except BluegreenError as exc:
        err.write(f"image copy: {exc}\n")
        return exc.exit_code
    return EXIT_OK


def register(sub: Subparsers) -> None:
    image = sub.add_parser(
        "image",
        help="images without a registry: push, promote, pull via S3",
        description="Images as gzip'd docker-save tarballs in an S3-compatible bucket (docs/images.md).",
    )
    image_sub = image.add_subparsers(dest="image_command", required=True, metavar="IMAGE_COMMAND")
    push = image_sub.add_parser("push", help="stream docker save NAME:TAG into the bucket (tags are immutable)")
    push.add_argument("ref", metavar="NAME:TAG")
    promote = image_sub.add_parser("promote", help="point an environment at NAME:TAG (atomic, with history)")
    promote.add_argument("ref", metavar="NAME:TAG")
    promote.add_argument("--env", required=True)
    pull = image_sub.add_parser("pull", help="download, verify sha256, docker load; prints NAME:TAG last")
    pull.add_argument("ref", metavar="NAME|NAME:TAG", help="NAME with --env (the pointer), or NAME:TAG")
    pull.add_argument("--env", help="pull what this environment points at")
    pull.add_argument(
        "--image-id", type=image_id, metavar="sha256:HEX",
        help="the image id the stack file pins: the bucket's record and the archive must both be that image",
    )  # fmt: skip
    listing = image_sub.add_parser("list", help="the tags of an image")
    listing.add_argument("name", metavar="NAME")
    history = image_sub.add_parser("history", help="what an environment pointed at, newest first")
    history.add_argument("name", metavar="NAME")
    history.add_argument("--env", required=True)
    for each in (push, promote, pull, listing, history):
        add_store_args(each)
    image.set_defaults(func=cmd_image)
    copy = image_sub.add_parser(
        "copy", help="copy an image by id from this engine to other engines (a swarm's nodes), checked by id"
    )
    copy.add_argument("image", type=image_id, metavar="sha256:HEX")
    copy.add_argument(
        "--to", dest="nodes", action="append", required=True, type=docker_host, metavar="ENGINE",
        help="a node's engine (ssh://user@node, tcp://node:2376, unix:///PATH); repeat for each node",
    )  # fmt: skip
    copy.set_defaults(func=cmd_image_copy)
