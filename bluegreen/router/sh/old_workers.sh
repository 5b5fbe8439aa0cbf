# shellcheck shell=sh
# How many nginx workers are still finishing requests under an older config.
# "dow[n]": the pattern must not match this script's own command line.
cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\000' '\n' | grep -c '^nginx: worker process is shutting dow[n]' || true
