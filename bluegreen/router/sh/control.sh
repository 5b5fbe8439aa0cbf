# shellcheck shell=sh
# The router's control loop: PID 1's child in the router's control container
# (bluegreen/router/channel.py), which shares the router's network namespace and
# routing volume. A switch attaches to its stdin and stdout and has a router
# script run here by a process this loop starts, instead of an exec: starting a
# process in a running container costs the runtime about 100 ms on a busy host.
#
# Requests in, each a line "ID KIND [REST]" (ID: lower-case hex, one per request),
# two of them followed by a part of SIZE bytes (a script, or a call):
#   ID have HASH        "ID have yes NOW" when the script HASH is here, else "ID have no NOW"
#                       (NOW: this host's uptime in centiseconds, the clock of NOT_AFTER)
#   ID script HASH SUM SIZE  the part becomes the script HASH: "ID script ok"
#   ID call NOT_AFTER SUM SIZE  read by NOT_AFTER, the part runs with sh: "ID started", then
#                       "ID out LINE"... (a long one as "ID more PIECE"... then "ID out REST"),
#                       "ID err LINE"..., "ID exit CODE LINES BYTES" (LINES,
#                       BYTES: of the out lines); read later, "ID late" and nothing runs (the
#                       switch has given up on it and uses an exec)
# A part whose sha256 is not SUM was garbled (two writers at once can tear a request),
# and so is one over PART_BYTES: "ID garbled", and nothing of it runs.
#
# A part is read by `head -c`, which reads no further than SIZE: the shell's `read`
# takes one byte per system call, and a switch's call carries its generation's
# files (about 20 KB: 10-20 ms on a busy host that way). `timeout`: a size torn by
# another writer may ask for more bytes than will come.
at=${TMPDIR:-/tmp}/bluegreen-control
mkdir -p "$at" || exit 1
export BLUEGREEN_CONTROL="$at"  # a call sources its script from here
PART_BYTES=1048576  # channel.PART_BYTES
set -f  # a request's words are split, never expanded

# now: this host's uptime in centiseconds into $now (the shell's own read: no process).
now() {
  read -r now _ < /proc/uptime
  now=${now%.*}${now#*.}
  now=${now#0}
}

# whole PART SUM: the part arrived as it was sent.
whole() {
  [ "$(sha256sum < "$1" 2>/dev/null)" = "$2  -" ]
}

# take ID SIZE: the SIZE bytes that follow the request line, as ID's part.
take() {
  case $2 in '' | *[!0-9]*) return 1 ;; esac
  [ "$2" -le "$PART_BYTES" ] && timeout 2 head -c "$2" > "$at/part.$1"
}

# run ID SUM: run ID's part and print what it printed, each line tagged with ID.
run() {
  part=$at/part.$1
  if ! whole "$part" "$2"; then
    rm -f "$part"
    printf '%s garbled\n' "$1"
    return
  fi
  { sh "$part" 2> "$part.err"; echo "$?" > "$part.code"; } | {
    lines=0 bytes=0
    while IFS= read -r line || [ -n "$line" ]; do
      lines=$((lines + 1)) bytes=$((bytes + ${#line}))
      # A write up to 4 KiB reaches the pipe whole; a longer line goes in pieces ("more"), so another
      # call's lines never land inside one.
      while [ "${#line}" -gt 3000 ]; do
        piece=$(printf '%.3000s' "$line")
        printf '%s more %s\n' "$1" "$piece"
        line=${line#"$piece"}
      done
      printf '%s out %s\n' "$1" "$line"
    done
    while IFS= read -r line || [ -n "$line" ]; do
      printf '%s err %s\n' "$1" "$line"
    done < "$part.err"
    code=
    read -r code < "$part.code"
    printf '%s exit %s %s %s\n' "$1" "${code:-255}" "$lines" "$bytes"
  }
  rm -f "$part" "$part.err" "$part.code"
}

while IFS= read -r request; do
  id=${request%% *}
  case $id in '' | *[!0-9a-f]*) continue ;; esac
  rest=${request#* }
  kind=${rest%% *}
  body=${rest#"$kind"}
  body=${body# }
  case $kind in
    have)
      case $body in '' | *[!0-9a-f]*) continue ;; esac
      now
      if [ -f "$at/script.$body" ]; then printf '%s have yes %s\n' "$id" "$now"; else printf '%s have no %s\n' "$id" "$now"; fi
      ;;
    script)
      # shellcheck disable=SC2086 # split into its words
      set -- $body
      case $1 in '' | *[!0-9a-f]*) continue ;; esac
      if take "$id" "$3" && whole "$at/part.$id" "$2" && mv -f "$at/part.$id" "$at/script.$1"; then
        printf '%s script ok\n' "$id"
      else
        rm -f "$at/part.$id"
        printf '%s garbled\n' "$id"
      fi
      ;;
    call)
      # shellcheck disable=SC2086 # split into its words
      set -- $body
      not_after=$1 sum=$2
      case $not_after in '' | *[!0-9]*) not_after=0 ;; esac
      if ! take "$id" "$3"; then
        rm -f "$at/part.$id"
        printf '%s garbled\n' "$id"
        continue
      fi
      now
      if [ "$now" -gt "$not_after" ]; then
        rm -f "$at/part.$id"
        printf '%s late\n' "$id"
      else
        printf '%s started\n' "$id"
        (run "$id" "$sum" &)
      fi
      ;;
  esac
done
