# shellcheck shell=sh
# The first exec of a switch: take the lock, read what is live, probe the
# first gate round, all in one round trip.
# Args: DIR STATUS_PORT STATUS_PATH TOKEN TTL OWNER ARMED [HOST PORT PATH ...]
# TOKEN "-" reads without locking (status). ARMED ",A,B," also probes those of
# the targets the live generation's gate probed whose address is A or B (what
# Docker says serves now: an address nobody holds would hang its probe); "-"
# none. A switch whose plan derives from the live one learns its targets only
# from this read. Exit 7: DIR is not writable yet (a fresh, root-owned
# volume); the caller hands it to the router's user.
dir=$1 status_port=$2 status_path=$3 token=$4 ttl=$5 owner=$6 armed=$7
shift 7
if [ "$token" != "-" ]; then
  [ -w "$dir" ] || exit 7
  printf '@@bluegreen:lock\n'
  taken=$(lock_take "$dir" "$token" "$ttl" "$owner")
  printf '%s\n' "$taken"
  [ "$taken" = acquired ] || armed=-  # a held lock: its holder may change what is live; probe nothing
fi
printf '\n@@bluegreen:status\n'
fetch 127.0.0.1 "$status_port" "$status_path" || true
printf '\n@@bluegreen:live\n'
cat "$dir/$BG_CURRENT/$BG_LIVE_PLAN" 2>/dev/null || cat "$dir/$BG_LIVE_PLAN" 2>/dev/null || true
printf '\n@@bluegreen:program\n'
cat "$dir/$BG_CURRENT/$BG_PROGRAM_PLAN" 2>/dev/null || cat "$dir/$BG_PROGRAM_PLAN" 2>/dev/null || true
printf '\n@@bluegreen:holder\n'
cat "$dir/$BG_LOCK_DIR/$BG_LOCK_INFO" 2>/dev/null || true
printf '\n@@bluegreen:rollout\n'
cat "$dir/$BG_ROLLOUT_PROGRESS" 2>/dev/null || true
printf '\n@@bluegreen:certificate\n'
cat "$dir/$BG_TLS/$BG_CURRENT/$BG_CERTIFICATE" 2>/dev/null || true
printf '\n@@bluegreen:joined\n'
# The stacks joined to a shared router: "<deployment> server_name <hosts>;" per app.
for f in "$dir/$BG_APPS"/*.names; do
  [ -f "$f" ] || continue
  app=${f##*/}
  printf '%s %s\n' "${app%.names}" "$(cat "$f")"
done
printf '\n@@bluegreen-probes\n'
probe_all "$@"
printf '\n@@bluegreen-armed\n'
if [ "$armed" != - ] && [ -f "$dir/$BG_CURRENT/$BG_ARMED_PROBES" ]; then
  while read -r a_host a_port a_path; do
    [ -n "$a_path" ] || continue
    case "$armed" in *",$a_host,"*) ;; *) continue ;; esac
    printf '\n@@bluegreen-target %s %s %s\n' "$a_host" "$a_port" "$a_path"
    fetch "$a_host" "$a_port" "$a_path" </dev/null || true
  done < "$dir/$BG_CURRENT/$BG_ARMED_PROBES"
fi
