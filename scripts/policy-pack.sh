#!/usr/bin/env bash
# Assemble the CrossGuard pack as one self-contained folder, ready for
#   cd build/policy-pack && pulumi policy publish [org]
# The rules read bluegreen/conventions.py (the one copy of labels, the pin rule
# and the traffic rule) and bluegreen/hardening.py (what least privilege means);
# in the repository they import them from the project, a published pack
# carries its own copies. Nothing else of the project goes in.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/build/policy-pack"}
rm -rf "$out"
mkdir -p "$out/bluegreen"
cp "$root"/policies/__main__.py "$root"/policies/rules.py "$root"/policies/requirements.txt "$out"/
cp "$root"/policies/config.*.json "$out"/
cp "$root"/bluegreen/__init__.py "$root"/bluegreen/conventions.py "$root"/bluegreen/hardening.py "$out/bluegreen/"
# The published pack gets its own virtualenv from requirements.txt, not the project's .venv.
sed 's#virtualenv: ../.venv#virtualenv: venv#' "$root/policies/PulumiPolicy.yaml" > "$out/PulumiPolicy.yaml"
echo "policy pack assembled in $out (publish: cd $out && pulumi policy publish)"
