# shellcheck shell=sh
# Args: DIR. Break the switch lock, whoever holds it (`--break-lock`); prints the record it broke.
lock_break "$1"
