# shellcheck shell=sh
# Args: DIR TOKEN [GENERATION]. Release the lock when TOKEN holds it (a switch that ends without publishing),
# and remove GENERATION, staged but never published (a write that failed halfway: a full volume).
lock_drop "$1" "$2"
case "${3:-}" in
  g[0-9]*) rm -rf "${1:?}/$3" ;;
esac
