# shellcheck shell=sh
# Publish a staged generation: check, then one atomic rename makes it live.
# Args: DIR GEN RELOAD EXPECT_CONFIG EXPECT_PLAN TRIES TOKEN STATUS_PORT STATUS_PATH [NAME TEXT]...
#   GEN     a directory in DIR holding main.conf, http.conf, router.js, state.json, records; written
#           here from the NAME TEXT pairs when they are given (else uploaded, or staged by sh/begin.sh, before)
#   RELOAD  1 when the config changed: `nginx -t` on the staged files first, reload after
# At every instant `current` names a generation that nginx -t accepted, so a
# router that restarts mid-publish loads checked config and a published state.
# Exit codes (bluegreen/router/scripts.py: ScriptExit): 0 live; 3 nginx -t refused
# (nothing published); 5 not live in time (previous generation restored);
# 6 the lock is not ours (nothing published); 7 the files could not be written (the lock
# released, the part written removed); 10 DIR is unusable.
dir=$1 gen=$2 reload=$3 expect_config=$4 expect_plan=$5 tries=$6 token=$7 status_port=$8 status_path=$9
shift 9
cd "$dir" || exit 10
lock_ours "$dir" "$token" || exit 6
if [ "$#" -ge 2 ] && ! gen_write "$dir" "$gen" "$@"; then
  lock_drop "$dir" "$token"
  exit 7
fi
[ -d "$gen" ] || exit 10
# The base config lives in the routing volume (read-only root); a router created
# before that still has it in /etc/nginx until its replacement.
base=$dir/$BG_BASE_CONFIG
[ -f "$base" ] || base=$BG_IMAGE_CONFIG

if [ "$reload" = 1 ]; then
  tmp=${TMPDIR:-/tmp}/bluegreen-check.$$
  mkdir -p "$tmp"
  sed "s#$dir/$BG_CURRENT/#$dir/$gen/#g" "$gen/$BG_MAIN_CONF" > "$tmp/$BG_MAIN_CONF"
  sed "s#$dir/$BG_CURRENT/#$dir/$gen/#g" "$gen/$BG_HTTP_CONF" > "$tmp/$BG_HTTP_CONF"
  # The staged files in place of the two stubs; any other file nginx.conf would include stays in.
  sed -e "s#include $dir/main\*\.conf;#include $tmp/$BG_MAIN_CONF; include $dir/main?*.conf;#" \
      -e "s#include $dir/http\*\.conf;#include $tmp/$BG_HTTP_CONF; include $dir/http?*.conf;#" \
      "$base" > "$tmp/$BG_BASE_CONFIG"
  if ! out=$(nginx -t -q -c "$tmp/$BG_BASE_CONFIG" 2>&1); then
    rm -rf "$tmp" "$gen"
    lock_drop "$dir" "$token"
    printf '%s\n' "$out"
    exit 3
  fi
  rm -rf "$tmp"
fi

# A gate round's exec that staged GEN made its link and read `current` while its probes ran (stage_link).
if [ "${staged_link:-}" = ".next-current.$gen" ] && [ -L "$staged_link" ]; then
  # shellcheck disable=SC2154 # set by stage_link (lib.sh)
  old=$staged_old
  mv -Tf "$staged_link" "$BG_CURRENT"
else
  old=$(readlink "$BG_CURRENT" 2>/dev/null || true)
  ln -sfn "$gen" .next-current && mv -Tf .next-current "$BG_CURRENT"
fi
if [ -n "$old" ] && [ "$old" != "$gen" ]; then
  ln -sfn "$old" .next-previous && mv -Tf .next-previous "$BG_PREVIOUS"
fi
# The files nginx.conf includes point into `current`; a first publish replaces
# the "no route yet" routing that came with the container.
for name in "$BG_MAIN_CONF" "$BG_HTTP_CONF"; do
  stub="include $dir/$BG_CURRENT/$name;"
  first_line "$name"
  # shellcheck disable=SC2154 # set by first_line (lib.sh)
  if [ "$file_line" != "$stub" ]; then
    printf '%s\n' "$stub" > ".next-$name" && mv -f ".next-$name" "$name"
    reload=1
  fi
done
rm -f "$BG_LIVE_PLAN" "$BG_PROGRAM_PLAN"

if [ "$reload" = 1 ]; then
  nginx -c "$base" -s reload 2>/dev/null || true
fi
# serving: the status listener reports both expected hashes (in any key order).
serving() {
  reports "$1" configHash "$expect_config" && reports "$1" planHash "$expect_plan"
}
i=0
while [ "$i" -lt "$tries" ]; do
  if serving "$(fetch 127.0.0.1 "$status_port" "$status_path" 2>/dev/null || true)"; then
    for g in g* .next-current.g*; do  # older generations, and links staged for ones never published
      case $g in "$gen" | "$old") continue ;; esac
      [ -e "$g" ] || [ -L "$g" ] || continue
      rm -rf "$g"
    done
    lock_drop "$dir" "$token"
    exit 0
  fi
  sleep 0.05
  i=$((i + 1))
done
if [ -n "$old" ] && [ "$old" != "$gen" ]; then
  ln -sfn "$old" .next-current && mv -Tf .next-current "$BG_CURRENT"
  if [ "$reload" = 1 ]; then nginx -c "$base" -s reload 2>/dev/null || true; fi
fi
lock_drop "$dir" "$token"
exit 5
