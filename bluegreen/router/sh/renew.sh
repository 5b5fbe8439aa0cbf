# shellcheck shell=sh
# Args: DIR TOKEN TTL OWNER. Extend the lease of the lock TOKEN holds (a long health gate).
lock_renew "$1" "$2" "$3" "$4"
