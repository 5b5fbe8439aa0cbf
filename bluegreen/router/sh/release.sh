# shellcheck shell=sh
# Args: DIR TOKEN. Release the lock when TOKEN holds it (a switch that ends without publishing).
lock_drop "$1" "$2"
