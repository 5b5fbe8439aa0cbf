#!/usr/bin/env bash
# Give a CI job the ssh identity that reaches the stack's Docker host
# (docker.host: ssh://USER@HOST in the stack file). Reads two secrets of the
# job's GitHub environment, passed in through `env:`:
#   DEPLOY_SSH_KEY      the private key (its public half in USER's authorized_keys on the host)
#   DEPLOY_KNOWN_HOSTS  the host's line(s) for known_hosts (ssh-keyscan HOST, checked out of band)
# ssh runs in batch mode (BatchMode below; the docker SDK and pulumi-docker
# both call the system ssh): no prompt, so an unknown host key or a missing
# key fails at once instead of hanging the job.
set -euo pipefail

for name in DEPLOY_SSH_KEY DEPLOY_KNOWN_HOSTS; do
  if [ -z "${!name:-}" ]; then
    echo "ssh-setup: $name is empty; set it as a secret of this job's environment (docs/ci-cd.md)" >&2
    exit 2
  fi
done
install -d -m 700 "$HOME/.ssh"
umask 077
printf '%s\n' "$DEPLOY_SSH_KEY" > "$HOME/.ssh/bluegreen_deploy"
printf '%s\n' "$DEPLOY_KNOWN_HOSTS" >> "$HOME/.ssh/known_hosts"
cat >> "$HOME/.ssh/config" <<'CONFIG'
Host *
  IdentityFile ~/.ssh/bluegreen_deploy
  IdentitiesOnly yes
  BatchMode yes
  StrictHostKeyChecking yes
CONFIG
echo "ssh-setup: identity and known_hosts in place" >&2
