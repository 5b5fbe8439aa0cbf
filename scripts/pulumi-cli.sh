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
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
  Darwin-x86_64) platform=darwin-x64 ;;
  Darwin-arm64) platform=darwin-arm64 ;;
  *) echo "pulumi-cli: no Pulumi CLI build for $(uname -s) $(uname -m); install it (https://www.pulumi.com/docs/install/) and run make up again" >&2; exit 1 ;;
esac
echo "pulumi-cli: no Pulumi CLI on PATH; installing pulumi v$VERSION ($platform) into $ROOT_DIR/, checked against the release's published sha256" >&2
if ! command -v curl >/dev/null 2>&1; then
  echo "pulumi-cli: curl is not installed, so the CLI cannot be downloaded; install curl or the Pulumi CLI (https://www.pulumi.com/docs/install/) and run make up again" >&2
  exit 1
fi
# The release archive and the checksums Pulumi publishes with it (goreleaser: pulumi-VERSION-checksums.txt);
# nothing downloaded is run before its sha256 matches.
RELEASES=${PULUMI_CLI_RELEASES:-https://github.com/pulumi/pulumi/releases/download}
archive="pulumi-v$VERSION-$platform.tar.gz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch() { curl -fsSL --max-time 120 -o "$work/$1" "$RELEASES/v$VERSION/$1" 2>"$work/log"; }
if ! fetch "$archive" || ! fetch "pulumi-$VERSION-checksums.txt"; then
  reason=$(tail -n 1 "$work/log")
  echo "pulumi-cli: could not download the Pulumi CLI (${reason:-no answer}); install it (https://www.pulumi.com/docs/install/) and run make up again" >&2
  exit 1
fi
expected=$(awk -v name="$archive" '$2 == name {print $1}' "$work/pulumi-$VERSION-checksums.txt")
actual=$(sha256sum "$work/$archive" 2>/dev/null || shasum -a 256 "$work/$archive")
actual=${actual%% *}
if [ -z "$expected" ] || [ "$expected" != "$actual" ]; then
  echo "pulumi-cli: $archive has sha256 $actual, the release publishes '${expected:-nothing}' for it; refused, nothing was installed" >&2
  exit 1
fi
mkdir -p "$ROOT_DIR/bin"
tar -xzf "$work/$archive" -C "$work"
cp "$work"/pulumi/* "$ROOT_DIR/bin/"
echo "$PWD/$LOCAL"
