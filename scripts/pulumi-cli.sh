#!/usr/bin/env bash
# Print the path of a Pulumi CLI, installing a pinned one into the project when
# none is on PATH. `make up` runs this first, before any other set-up, so a
# machine that cannot get the CLI learns it in one line, not after a minute of
# installing Python packages.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${PULUMI_CLI_VERSION:-3.272.0}   # the CLI matching the pinned pulumi SDK
ROOT_DIR=.pulumi-cli
LOCAL="$ROOT_DIR/bin/pulumi"

if command -v pulumi >/dev/null 2>&1; then
  command -v pulumi
  exit 0
fi
if [ -x "$LOCAL" ]; then
  echo "$PWD/$LOCAL"
  exit 0
fi
echo "pulumi-cli: no Pulumi CLI on PATH; installing pulumi v$VERSION into $ROOT_DIR/ with Pulumi's official installer" >&2
if ! command -v curl >/dev/null 2>&1; then
  echo "pulumi-cli: curl is not installed, so the CLI cannot be downloaded; install curl or the Pulumi CLI (https://www.pulumi.com/docs/install/) and run make up again" >&2
  exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! installer=$(curl -fsSL --max-time 30 https://get.pulumi.com 2>"$log") \
  || ! sh -c "$installer" sh --version "$VERSION" --install-root "$ROOT_DIR" --no-edit-path >"$log" 2>&1; then
  reason=$(tail -n 1 "$log")
  echo "pulumi-cli: could not download the Pulumi CLI (${reason:-no answer}); install it (https://www.pulumi.com/docs/install/) and run make up again" >&2
  exit 1
fi
echo "$PWD/$LOCAL"
