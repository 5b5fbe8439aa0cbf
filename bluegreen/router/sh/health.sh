# shellcheck shell=sh
# The router's Docker healthcheck. Args: PORT PATH of its own status listener.
# Healthy when nginx answers there with 200: it runs and has loaded a routing.
fetch 127.0.0.1 "$1" "$2" 2>/dev/null | grep -m 1 'HTTP/' | grep -q ' 200'
