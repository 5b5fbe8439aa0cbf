#!/usr/bin/env bash
# Assemble the CrossGuard pack as one self-contained folder, ready for
#   cd build/policy-pack && pulumi policy publish [org]
# The rules read the project's own copies of the labels, the pin rule, the
# traffic rule and what least privilege means (bluegreen/engine/names.py,
# images/pinning.py, plan/traffic.py, engine/hardening.py, ...); in the
# repository they import them from the project, a published pack carries its
# own copies: exactly the bluegreen modules rules.py imports, followed
# transitively, with their packages' __init__.py. Nothing else of the project goes in.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/build/policy-pack"}
rm -rf "$out"
mkdir -p "$out"
cp "$root"/policies/__main__.py "$root"/policies/rules.py "$root"/policies/requirements.txt "$out"/
cp "$root"/policies/config.*.json "$out"/
python3 - "$root" "$out" <<'PY'
import re, shutil, sys
from pathlib import Path

root, out = Path(sys.argv[1]), Path(sys.argv[2])
todo, done = [root / "policies" / "rules.py"], set()
while todo:
    text = todo.pop().read_text()
    for module in re.findall(r"^\s*from (bluegreen(?:\.\w+)*) import", text, flags=re.M):
        if module in done:
            continue
        done.add(module)
        parts = module.split(".")
        for depth in range(1, len(parts)):
            init = Path(*parts[:depth], "__init__.py")
            (out / init).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / init, out / init)
        source = root / Path(*parts).with_suffix(".py")
        (out / source.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, out / source.relative_to(root))
        todo.append(source)
PY
# The published pack gets its own virtualenv from requirements.txt, not the project's .venv.
sed 's#virtualenv: ../.venv#virtualenv: venv#' "$root/policies/PulumiPolicy.yaml" > "$out/PulumiPolicy.yaml"
echo "policy pack assembled in $out (publish: cd $out && pulumi policy publish)"
