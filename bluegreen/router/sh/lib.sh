# shellcheck shell=sh
# Functions every router script starts with (bluegreen/router/adapter.py prepends
# this file). POSIX sh: the router images have dash or busybox, not bash.

# fetch HOST PORT PATH [VHOST]: an HTTP GET from inside the router with whatever client
# the image has (curl, busybox wget, or bash's /dev/tcp); prints status line,
# headers and body. VHOST: the Host header, when it is not HOST.
fetch() {
  fetch_host=${4:-$1}
  if command -v curl >/dev/null 2>&1; then
    curl -s -i --max-time 2 -H "Host: $fetch_host" "http://$1:$2$3"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -S -O - -T 2 --header "Host: $fetch_host" "http://$1:$2$3" 2>&1
  else
    # shellcheck disable=SC2016 # $0..$3 belong to the inner bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" &&
      printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$2" "$3" >&3 &&
      while IFS= read -r l <&3 || [ -n "$l" ]; do printf "%s\n" "$l"; done' "$1" "$2" "$3" "$fetch_host"
  fi
}

# A switch's time is mostly its processes' (an exec, then each command it
# starts: about 4 ms apiece on a busy host), so the hot path reads small files
# with the shell's own `read`, not `cat`.

# first_line FILE: its first line into $file_line ("" when there is none).
first_line() {
  file_line=
  IFS= read -r file_line 2>/dev/null < "$1" || true
}

# slurp FILE: a small text file into $file_text ("" when it cannot be read).
slurp() {
  file_text=
  [ -f "$1" ] && [ -r "$1" ] || return 1
  while IFS= read -r slurp_line || [ -n "$slurp_line" ]; do
    file_text="$file_text$slurp_line
"
  done < "$1"
}

# show FILE: print a small text file; false when it cannot be read.
show() {
  [ -f "$1" ] && [ -r "$1" ] || return 1
  while IFS= read -r show_line || [ -n "$show_line" ]; do
    printf '%s\n' "$show_line"
  done < "$1"
}

# probe_start COUNT HOST PORT PATH [HOST PORT PATH ...]: start probing the first
# COUNT targets, all at once, in the background (into files $probe_at.N);
# probe_report waits for them. A busy app answers a probe after the requests
# queued before it: a round then waits for its slowest target, not for the sum.
# Other background jobs started in between are waited for too. The files are
# removed by probe_clean, once nothing waits on the script any more.
probe_start() {
  probe_at=${TMPDIR:-/tmp}/bluegreen-probe.$$
  probe_list=
  probe_n=0
  probe_count=$1
  shift
  while [ "$probe_n" -lt "$probe_count" ] && [ "$#" -ge 3 ]; do
    probe_n=$((probe_n + 1))
    probe_list="$probe_list$1 $2 $3
"
    fetch "$1" "$2" "$3" > "$probe_at.$probe_n" 2>/dev/null &
    shift 3
  done
}

# probe_report: wait, then one marked section per target, in order; true when every answer is HTTP 200.
probe_report() {
  wait
  probe_answers "" '\n@@bluegreen %s:%s%s\n' <<PROBED
$probe_list
PROBED
}

# probe_answers KEY MARKER: for each "HOST PORT PATH" line on stdin, in order, the
# MARKER (a printf format of HOST PORT PATH), then the answer kept in
# $probe_at.KEY<N> (the Nth line's); true when every answer is HTTP 200. A target
# whose answer could not be kept (no writable TMPDIR) is asked again, here.
probe_answers() {
  probe_ok=0
  probe_i=0
  while read -r probe_host probe_port probe_path; do
    [ -n "$probe_path" ] || continue
    probe_i=$((probe_i + 1))
    # shellcheck disable=SC2059 # the marker is the format
    printf "$2" "$probe_host" "$probe_port" "$probe_path"
    slurp "$probe_at.$1$probe_i" || file_text=$(fetch "$probe_host" "$probe_port" "$probe_path" 2>/dev/null </dev/null || true)
    printf '%s\n' "$file_text"
    http_200 "$file_text" || probe_ok=1
  done
  return "$probe_ok"
}

# probe_clean: remove the answers probe_start kept (and the status begin.sh kept beside them).
probe_clean() {
  rm -f "$probe_at".*
}

# reports STATUS KEY VALUE: the status listener's answer says "KEY":"VALUE"
# (compact JSON, as router.js writes it).
reports() {
  case "$1" in *"\"$2\":\"$3\""*) return 0 ;; esac
  return 1
}

# publish_staged DIR GEN RELOAD CONFIG PLAN TRIES TOKEN STATUS_PORT STATUS_PATH:
# publish a generation a gate round's exec staged (bluegreen/release/express.py)
# as sh/publish.sh does (the scripts that call this run it as sh_publish),
# between the two marker lines Python reads.
publish_staged() {
  printf '\n@@bluegreen-express\n'
  sh_publish "$@"
  printf '\n@@bluegreen-expressed %s\n' "$?"
}

# gen_write DIR GEN [NAME TEXT]...: a new generation directory holding these
# files. On failure it removes what it wrote, prints why (dash's printf says
# "I/O error" for a full volume: how full it is says why) and is false.
gen_write() {
  gw_dir=$1 gw_gen=$2
  shift 2
  if ! gw_err=$( { mkdir "$gw_dir/$gw_gen" && while [ "$#" -ge 2 ]; do printf '%s' "$2" > "$gw_dir/$gw_gen/$1" || exit 1; shift 2; done; } 2>&1 ); then
    rm -rf "${gw_dir:?}/$gw_gen"
    printf '%s%s\n' "$(printf '%s' "${gw_err:-the files could not be written}" | head -n 1)" "$(volume_use "$gw_dir")"
    return 1
  fi
}

# stage_link DIR GEN: before a staged generation is published, the symlink
# that will name it `current` ($staged_link) and what `current` names now
# ($staged_old), made while the probes run: publishing then is one rename
# (sh/publish.sh). Removed with the generation when it is not published.
# shellcheck disable=SC2034 # staged_old: read by sh/publish.sh
stage_link() {
  staged_old=$(readlink "$1/$BG_CURRENT" 2>/dev/null || true)
  staged_link=.next-current.$2
  ln -sfn "$2" "$1/$staged_link" || staged_link=
}

# http_200 ANSWER: its first status line says 200, as HttpResult.ok reads it
# (bluegreen/router/seam.py); anything else, or no status line, is not.
http_200() {
  case "${1#*HTTP/}" in
    "$1") return 1 ;;
    [0-9]" 200"* | [0-9].[0-9]" 200"*) return 0 ;;
  esac
  return 1
}

# The lock: a directory $BG_LOCK_DIR whose $BG_LOCK_INFO holds "TOKEN EXPIRES OWNER...".
# The BG_* names come from bluegreen/router/layout.py, set before this file.
# It is built aside with its record already written, then renamed into place
# (rename is atomic, and fails onto a lock that holds a record): a taker killed
# at any instant, or a write that fails (a full disk), never leaves a lock
# without its record.
# volume_use DIR: "; the volume is N% used" (a shell says "I/O error" for a full tmpfs), or nothing.
volume_use() {
  volume_pct=$(df -P "$1" 2>/dev/null | tail -n 1 | tr -s ' ' | cut -d' ' -f5)
  [ -n "$volume_pct" ] && printf '; the volume is %s used' "$volume_pct"
  return 0
}

# lock_take DIR TOKEN TTL OWNER: sets $lock_taken to "acquired", "held <info>", or
# "unwritable <why>" (the record could not be written: nothing was taken); a
# variable, not output: no subshell on a switch's path.
# An expired lock, or one without a readable record that is older than
# $BG_LOCK_ORPHAN_SECONDS, is moved aside (rename: only one taker wins) and taken.
# shellcheck disable=SC2034 # lock_taken: the caller's
lock_take() {
  lock_now=$(date +%s)
  lock_expires=$((lock_now + $3))
  lock_new="$1/.lock-new.$2"  # per taker: its token
  [ ! -e "$lock_new" ] || rm -rf "$lock_new"
  if ! lock_err=$( { mkdir "$lock_new" && printf '%s %s %s\n' "$2" "$lock_expires" "$4" > "$lock_new/$BG_LOCK_INFO"; } 2>&1 ); then
    rm -rf "$lock_new"
    lock_taken="unwritable $(printf '%s' "${lock_err:-the lock record could not be written}" | head -n 1)$(volume_use "$1")"
    return 0
  fi
  if mv -T "$lock_new" "$1/$BG_LOCK_DIR" 2>/dev/null; then
    lock_taken=acquired
    return 0
  fi
  lock_info=$(cat "$1/$BG_LOCK_DIR/$BG_LOCK_INFO" 2>/dev/null || true)
  lock_until=$(printf '%s' "$lock_info" | cut -d' ' -f2)
  lock_stale=0
  case "$lock_until" in
    '' | *[!0-9]*)
      # No readable record: written by no switch of this version. Stale once it is old enough
      # that no taker of an older version can still be between its mkdir and its write.
      lock_born=$(stat -c %Y "$1/$BG_LOCK_DIR" 2>/dev/null || echo "$lock_now")
      [ $((lock_now - lock_born)) -ge "$BG_LOCK_ORPHAN_SECONDS" ] && lock_stale=1
      ;;
    *) [ "$lock_until" -lt "$lock_now" ] && lock_stale=1 ;;
  esac
  if [ "$lock_stale" = 1 ] && mv "$1/$BG_LOCK_DIR" "$1/.stale-lock.$2" 2>/dev/null; then
    rm -rf "$1/.stale-lock.$2"
    if mv -T "$lock_new" "$1/$BG_LOCK_DIR" 2>/dev/null; then
      lock_taken=acquired
      return 0
    fi
    lock_info=$(cat "$1/$BG_LOCK_DIR/$BG_LOCK_INFO" 2>/dev/null || true)
  fi
  rm -rf "$lock_new"
  lock_taken="held $lock_info"
}

# lock_break DIR: remove whatever lock there is; prints its record ("" when there was none).
lock_break() {
  lock_info=$(cat "$1/$BG_LOCK_DIR/$BG_LOCK_INFO" 2>/dev/null || true)
  if [ -d "$1/$BG_LOCK_DIR" ] && mv "$1/$BG_LOCK_DIR" "$1/.broken-lock.$$" 2>/dev/null; then
    rm -rf "$1/.broken-lock.$$"
    printf '%s\n' "${lock_info:-(a lock without its record)}"
  fi
}

# lock_ours DIR TOKEN: true while TOKEN holds the lock.
lock_ours() {
  first_line "$1/$BG_LOCK_DIR/$BG_LOCK_INFO"
  case "$file_line" in
    "$2 "*) return 0 ;;
  esac
  return 1
}

# lock_renew DIR TOKEN TTL OWNER: extend TOKEN's lease by TTL seconds from now.
# Prints "renewed", "lost" (another holds it, or none does) or "unwritable
# REASON". Works in the lock's own directory (cd keeps it even if a taker moves
# it away as stale), so a renewal never writes into another holder's lock; the
# inode check then says whether that directory is still the lock.
lock_renew() (
  cd "$1/$BG_LOCK_DIR" 2>/dev/null || { echo lost; exit 0; }
  case "$(cat "$BG_LOCK_INFO" 2>/dev/null)" in
    "$2 "*) ;;
    *) echo lost; exit 0 ;;
  esac
  renew_until=$(( $(date +%s) + $3 ))
  if ! renew_err=$( { printf '%s %s %s\n' "$2" "$renew_until" "$4" > ".renew.$2" && mv -f ".renew.$2" "$BG_LOCK_INFO"; } 2>&1 ); then
    rm -f ".renew.$2"
    echo "unwritable $(printf '%s' "${renew_err:-the lock record could not be written}" | head -n 1)$(volume_use "$1")"
    exit 0
  fi
  if [ "$(stat -c %i .)" = "$(stat -c %i "$1/$BG_LOCK_DIR" 2>/dev/null)" ]; then echo renewed; else echo lost; fi
)

# lock_drop DIR TOKEN: release the lock if TOKEN holds it.
lock_drop() {
  if lock_ours "$1" "$2" && mv "$1/$BG_LOCK_DIR" "$1/.released-lock.$$" 2>/dev/null; then
    rm -rf "$1/.released-lock.$$"
  fi
}
