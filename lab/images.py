"""The images the lab runs: the stand-ins `make images` builds, or real ones a runner that can pull names."""

from __future__ import annotations

import os

# Base images the Docker tests build and run. The stand-ins (make images) by
# default; a runner that can pull sets the real ones (see .github/workflows/ci.yml).
BASE_IMAGE = os.environ.get("BLUEGREEN_TEST_BASE_IMAGE", "bluegreen-local/python:3.11")
# The app image's final stage (RUNTIME_IMAGE): the same Python at the same path as BASE_IMAGE.
RUNTIME_IMAGE = os.environ.get("BLUEGREEN_TEST_RUNTIME_IMAGE", "bluegreen-local/python-runtime:3.11")
ROUTER_IMAGE = os.environ.get("BLUEGREEN_TEST_ROUTER_IMAGE", "bluegreen-local/nginx:1.30")
# PostgreSQL for database.mode container: the official image's contract, uid 999.
POSTGRES_IMAGE = os.environ.get("BLUEGREEN_TEST_POSTGRES_IMAGE", "bluegreen-local/postgres:15")
# The second sample app's base (samples/node-app): Node.js with a `node` on PATH, like node:18-bookworm-slim.
NODE_IMAGE = os.environ.get("BLUEGREEN_TEST_NODE_IMAGE", "bluegreen-local/node:18")
PULLS = os.environ.get("BLUEGREEN_TEST_PULL") == "1"
