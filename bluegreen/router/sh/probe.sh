# shellcheck shell=sh
# A gate round after the first.
# Args: COUNT [HOST PORT PATH]*COUNT [DIR TOKEN STATUS_PORT STATUS_PATH GEN RELOAD CONFIG PLAN TRIES [NAME TEXT]...]
# DIR and the rest: the round closes the gate if every answer is 200, and
# this generation is published then, as sh/publish.sh publishes it
# (bluegreen/release/express.py). It is staged while the probes run, only
# while TOKEN holds the lock, and removed unless published. The
# "@@bluegreen-expressed CODE" line says how publishing ended; without the
# "@@bluegreen-express" line nothing was published.
count=$1
shift
probe_start "$count" "$@"
while [ "$count" -gt 0 ] && [ "$#" -ge 3 ]; do
  shift 3
  count=$((count - 1))
done
staged=
if [ "$#" -ge 9 ]; then
  dir=$1 token=$2 status_port=$3 status_path=$4 gen=$5 reload=$6 config=$7 plan=$8 tries=$9
  shift 9
  lock_ours "$dir" "$token" && gen_write "$dir" "$gen" "$@" >/dev/null && staged=1 &&
    stage_link "$dir" "$gen"
fi
all_200=
probe_report && all_200=1
if [ -n "$staged" ] && [ -n "$all_200" ]; then
  publish_staged "$dir" "$gen" "$reload" "$config" "$plan" "$tries" "$token" "$status_port" "$status_path"
elif [ -n "$staged" ]; then
  rm -rf "${dir:?}/$gen" "$dir/.next-current.$gen"
fi
probe_clean
exit 0
