#!/usr/bin/env bash
# `pulumi preview --policy-pack policies` for every shipped stack, on a throwaway
# file:// backend, against this machine's Docker engine (docker.host removed: the
# stand-in setting). What CI's docker job runs after installing the Pulumi CLI:
# the real engine, real providers and the real analyzer see the real program.
#
#   bash scripts/preview-stacks.sh [stack ...]     (default: dev staging prod)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
command -v pulumi >/dev/null || { echo "preview-stacks: the Pulumi CLI is not installed (make pulumi-cli)" >&2; exit 1; }
[ -x "$root/.venv/bin/python" ] || { echo "preview-stacks: no .venv; run make venv first" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A copy, so `pulumi stack init` and the stand-in settings never touch the checkout's stack files.
cp -r "$root"/Pulumi.yaml "$root"/Pulumi.*.yaml "$root"/__main__.py "$root"/requirements.txt "$work"/
cp -r "$root"/components "$root"/bluegreen "$root"/app "$root"/policies "$work"/
ln -s "$root/.venv" "$work/.venv"
mkdir -p "$work/.state"
export PULUMI_BACKEND_URL="file://$work/.state"
export PULUMI_CONFIG_PASSPHRASE="preview-only"
export PULUMI_SKIP_UPDATE_CHECK=1

cd "$work"
for stack in "${@:-dev staging prod}"; do
  for name in $stack; do
    echo "== pulumi preview -s $name (policy pack, file backend, local engine)"
    pulumi stack init "$name" --non-interactive >/dev/null
    pulumi config rm --path docker.host -s "$name" >/dev/null 2>&1 || true
    pulumi config set --path docker.local true -s "$name" >/dev/null  # this machine's engine, on purpose
    pulumi preview -s "$name" --non-interactive --diff \
      --policy-pack policies --policy-pack-config "policies/config.$name.json"
  done
done
