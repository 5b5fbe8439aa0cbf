# shellcheck shell=sh
# The first exec of a switch: take the lock, read what is live, probe the
# first gate round, all in one round trip.
# Args: DIR STATUS_PORT STATUS_PATH TOKEN TTL OWNER [HOST PORT PATH ...]
# TOKEN "-" reads without locking (status). Exit 7: DIR is not writable yet
# (a fresh, root-owned volume); the caller hands it to the router's user.
dir=$1 status_port=$2 status_path=$3 token=$4 ttl=$5 owner=$6
shift 6
if [ "$token" != "-" ]; then
  [ -w "$dir" ] || exit 7
  printf '@@bluegreen:lock\n'
  lock_take "$dir" "$token" "$ttl" "$owner"
fi
printf '\n@@bluegreen:status\n'
fetch 127.0.0.1 "$status_port" "$status_path" || true
printf '\n@@bluegreen:live\n'
cat "$dir/current/plan.json" 2>/dev/null || cat "$dir/plan.json" 2>/dev/null || true
printf '\n@@bluegreen:program\n'
cat "$dir/current/program-plan.json" 2>/dev/null || cat "$dir/program-plan.json" 2>/dev/null || true
printf '\n@@bluegreen:holder\n'
cat "$dir/lock.d/info" 2>/dev/null || true
printf '\n@@bluegreen:rollout\n'
cat "$dir/rollout.json" 2>/dev/null || true
printf '\n@@bluegreen:certificate\n'
cat "$dir/tls/current/cert.pem" 2>/dev/null || true
printf '\n@@bluegreen-probes\n'
probe_all "$@"
