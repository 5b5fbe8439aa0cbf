# shellcheck shell=sh
# The first exec of a switch: take the lock, read what is live, probe the
# first gate round, all in one round trip; and, for an express switch, publish.
# Args: DIR STATUS_PORT STATUS_PATH TOKEN TTL OWNER ARMED COUNT [HOST PORT PATH]*COUNT
#       [GEN CONFIG PLAN TRIES [NAME TEXT]...]
# TOKEN "-" reads without locking (status). ARMED ",A,B," also probes those of
# the targets the live generation's gate probed whose address is A or B (what
# Docker says serves now: an address nobody holds would hang its probe); "-"
# none. A switch whose plan derives from the live one learns its targets only
# from this read. Exit 7: DIR is not writable yet (a fresh, root-owned
# volume); the caller hands it to the router's user.
# GEN and the rest: an express switch's staged generation (bluegreen/release/express.py).
# It is published here, as sh/publish.sh publishes, only when the lock was
# taken, every target answered 200, the live config is CONFIG (no reload) and
# the live plan is not PLAN; the program's record is carried over. The
# "@@bluegreen-expressed CODE" line then says how publishing ended; without it
# nothing was published and the lock is still held.
dir=$1 status_port=$2 status_path=$3 token=$4 ttl=$5 owner=$6 armed=$7 count=$8
shift 8
[ "$token" = "-" ] || [ -w "$dir" ] || exit 7
probe_start "$count" "$@"  # the probes run while the lock is taken and what is live is read
taken=
if [ "$token" != "-" ]; then
  printf '@@bluegreen:lock\n'
  lock_take "$dir" "$token" "$ttl" "$owner"
  # shellcheck disable=SC2154 # set by lock_take (lib.sh)
  taken=$lock_taken
  printf '%s\n' "$taken"
  [ "$taken" = acquired ] || armed=-  # a held lock: its holder may change what is live; probe nothing
fi
# The status is read once the lock is ours: what is live cannot change under it from then on.
# shellcheck disable=SC2154 # probe_at: set by probe_start (lib.sh)
fetch 127.0.0.1 "$status_port" "$status_path" > "$probe_at.status" 2>/dev/null &
# The armed targets are probed from here too, all at once: each is a busy app's answer (20-60 ms one after
# another under load, most of a rollback's first call).
armed_list=
if [ "$armed" != - ] && [ -f "$dir/$BG_CURRENT/$BG_ARMED_PROBES" ]; then
  armed_n=0
  while read -r a_host a_port a_path; do
    [ -n "$a_path" ] || continue
    case "$armed" in *",$a_host,"*) ;; *) continue ;; esac
    armed_n=$((armed_n + 1))
    armed_list="$armed_list$a_host $a_port $a_path
"
    fetch "$a_host" "$a_port" "$a_path" > "$probe_at.armed.$armed_n" 2>/dev/null </dev/null &
  done < "$dir/$BG_CURRENT/$BG_ARMED_PROBES"
fi
while [ "$count" -gt 0 ] && [ "$#" -ge 3 ]; do
  shift 3
  count=$((count - 1))
done
printf '\n@@bluegreen:live\n'
show "$dir/$BG_CURRENT/$BG_LIVE_PLAN" || show "$dir/$BG_LIVE_PLAN" || true
printf '\n@@bluegreen:program\n'
program=$dir/$BG_CURRENT/$BG_PROGRAM_PLAN
[ -f "$program" ] || program=$dir/$BG_PROGRAM_PLAN
show "$program" || program=
printf '\n@@bluegreen:holder\n'
show "$dir/$BG_LOCK_DIR/$BG_LOCK_INFO" || true
printf '\n@@bluegreen:rollout\n'
show "$dir/$BG_ROLLOUT_PROGRESS" || true
printf '\n@@bluegreen:certificate\n'
show "$dir/$BG_TLS/$BG_CURRENT/$BG_CERTIFICATE" || true
printf '\n@@bluegreen:joined\n'
# The stacks joined to a shared router: "<deployment> server_name <hosts>;" per app.
for f in "$dir/$BG_APPS"/*.names; do
  [ -f "$f" ] || continue
  app=${f##*/}
  printf '%s %s\n' "${app%.names}" "$(cat "$f")"
done
# An express generation is staged under the lock while the probes run: nothing
# else publishes meanwhile, and it is removed unless it is published here.
staged=
if [ "$#" -ge 4 ] && [ "$taken" = acquired ]; then
  gen=$1 config=$2 plan=$3 tries=$4
  shift 4
  [ -z "$program" ] || set -- "$@" "$BG_PROGRAM_PLAN" "$(show "$program")"
  gen_write "$dir" "$gen" "$@" >/dev/null && staged=1 && stage_link "$dir" "$gen"
fi
wait  # the probes and the status
slurp "$probe_at.status" || file_text=$(fetch 127.0.0.1 "$status_port" "$status_path" || true)
status=$file_text
printf '\n@@bluegreen:status\n%s\n' "$status"
printf '\n@@bluegreen-probes\n'
all_200=
probe_report && all_200=1
printf '\n@@bluegreen-armed\n'
probe_answers armed. '\n@@bluegreen-target %s %s %s\n' <<ARMED || true
$armed_list
ARMED
# Published only when no reload is needed (else the switch's own exec, after nginx -t) and it is not live yet.
if [ -n "$staged" ] && [ -n "$all_200" ] && reports "$status" configHash "$config" &&
  ! reports "$status" planHash "$plan"; then
  publish_staged "$dir" "$gen" 0 "$config" "$plan" "$tries" "$token" "$status_port" "$status_path"
elif [ -n "$staged" ]; then
  rm -rf "${dir:?}/$gen" "$dir/.next-current.$gen"
fi
probe_clean
exit 0
