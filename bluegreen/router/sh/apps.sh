# shellcheck shell=sh
# Join an app to this shared router, or take one out: its files in $BG_APPS/, checked, one reload, verified.
# Args: DIR TOKEN TTL OWNER ACTION NAME HOSTS CHECK_HOST UPSTREAM TRIES LOCAL_PORT [FILE TEXT]...
#   ACTION      join (write FILE TEXT pairs; HOSTS, space-separated, must be no other app's) or leave (remove NAME.*)
#   CHECK_HOST  a name of the app's; UPSTREAM its group: what the check path answers for it once the reload is live
# Exit codes (bluegreen/router/scripts.py: ScriptExit): 0 done; 3 nginx -t refused (nothing changed);
# 4 a host is another app's ("taken HOST APP"); 5 not served in time; 6 the lock is held ("held INFO");
# 8 this router is not shared; 10 DIR is unusable.
dir=$1 token=$2 ttl=$3 owner=$4 action=$5 name=$6 hosts=$7 host=$8 upstream=$9 tries=${10} local_port=${11}
shift 11
cd "$dir" || exit 10
grep -q "$dir/$BG_APPS/" "$BG_CURRENT/$BG_HTTP_CONF" 2>/dev/null || exit 8
lock_take "$dir" "$token" "$ttl" "$owner"
# shellcheck disable=SC2154 # set by lock_take (lib.sh)
case $lock_taken in
  acquired) ;;
  *) echo "$lock_taken"; exit 6 ;;
esac
mkdir -p "$BG_APPS" .apps-was || { lock_drop "$dir" "$token"; exit 10; }
rm -f .apps-was/*
for f in "$BG_APPS/$name".*; do [ -f "$f" ] && cp -p "$f" .apps-was/; done
# give_up CODE: the app's files as they were, the lock back, and CODE.
give_up() {
  rm -f "$BG_APPS/$name".*
  cp -p .apps-was/* "$BG_APPS"/ 2>/dev/null
  lock_drop "$dir" "$token"
  exit "$1"
}
if [ "$action" = join ]; then
  # The names file of every other app: a host of ours in one of them is that app's.
  for f in "$BG_APPS"/*.names; do
    [ -f "$f" ] || continue
    other=${f#"$BG_APPS"/}; other=${other%.names}
    [ "$other" = "$name" ] && continue
    # shellcheck disable=SC2013 # the names file is one line of words
    for h in $(sed -e 's/^server_name//' -e 's/;$//' "$f"); do
      case " $hosts " in *" $h "*) echo "taken $h $other"; lock_drop "$dir" "$token"; exit 4 ;; esac
    done
  done
  while [ "$#" -ge 2 ]; do
    if ! { printf '%s' "$2" > "$1.next" && mv -f "$1.next" "$1"; }; then
      rm -f "$1.next"
      give_up 10
    fi
    shift 2
  done
else
  rm -f "$BG_APPS/$name".*
fi
base=$dir/$BG_BASE_CONFIG
[ -f "$base" ] || base=$BG_IMAGE_CONFIG
if ! out=$(nginx -t -q -c "$base" 2>&1); then
  printf '%s\n' "$out"
  give_up 3
fi
nginx -c "$base" -s reload 2>/dev/null || true
i=0
while [ "$i" -lt "$tries" ]; do
  answer=$(fetch 127.0.0.1 "$local_port" "$BG_APP_CHECK_PATH" "$host" 2>/dev/null | tail -n 1)
  if { [ "$action" = join ] && [ "$answer" = "$upstream" ]; } || { [ "$action" = leave ] && [ "$answer" != "$upstream" ]; }; then
    lock_drop "$dir" "$token"
    exit 0
  fi
  sleep 0.05
  i=$((i + 1))
done
lock_drop "$dir" "$token"
exit 5
