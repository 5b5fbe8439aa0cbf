# shellcheck shell=sh
# The bridge router's command (bluegreen/router/handover.py): the router's config without what only
# the router binds (its loopback status and check listeners, marked $BG_ROUTER_ONLY), then nginx in
# the foreground. Its public listeners join the router's (SO_REUSEPORT) in the shared namespace.
# Args: DIR (the routing volume)
dir=$1 out=${TMPDIR:-/tmp}/bridge
mkdir -p "$out" || exit 10
# http*.conf are stubs that include a generation's file, or (before the first switch) the routing itself.
for f in "$dir"/http*.conf; do
  first=$(head -n 1 "$f")
  case $first in
    "include "*";") target=${first#include }; cat "${target%;}" ;;
    *) cat "$f" ;;
  esac
done | sed -e "/$BG_ROUTER_ONLY begin/,/$BG_ROUTER_ONLY end/d" -e "/$BG_ROUTER_ONLY\$/d" > "$out/$BG_HTTP_CONF" || exit 10
# A bridge without the router's public listeners would accept nothing: refuse to start instead.
grep -q "reuseport;" "$out/$BG_HTTP_CONF" || { echo "bridge: no public listener in $dir/http*.conf" >&2; exit 10; }
sed "s#include $dir/http\*\.conf;#include $out/$BG_HTTP_CONF;#" "$dir/$BG_BASE_CONFIG" > "$out/$BG_BASE_CONFIG" || exit 10
exec nginx -c "$out/$BG_BASE_CONFIG" -g 'daemon off;'
