# shellcheck shell=bash
# The shell `make up` works in, for the commands the docs give after it:
#
#   source scripts/env.sh [STACK]     # STACK defaults to dev
#
# puts the pinned Pulumi CLI (.pulumi-cli/bin, when `make up` installed it there) and .venv/bin on PATH,
# points Pulumi at the local file backend (.pulumi-state/, unless PULUMI_BACKEND_URL is set), and for
# the dev stack sets its public passphrase (dev holds no secrets). Every other stack keeps the
# PULUMI_CONFIG_PASSPHRASE its operator gives. It selects no stack: the commands say `-s STACK`.
_bg_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
_bg_stack=${1:-dev}
export PATH="$_bg_root/.pulumi-cli/bin:$_bg_root/.venv/bin:$PATH"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$_bg_root/.pulumi-state}"
if [ "$_bg_stack" = dev ]; then
  export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-bluegreen-dev-not-secret}"
fi
unset _bg_root _bg_stack
