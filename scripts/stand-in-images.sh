#!/usr/bin/env bash
# Build the stand-in base images that local tests and CI use instead of pulled ones.
#
# Nothing can be pulled on the machines this project is built on, so the two
# base images the Dockerfiles name are made here from Debian packages:
#   bluegreen-local/python:3.11  python3 + venv + pip  (app/Dockerfile BASE_IMAGE)
#   bluegreen-local/nginx:1.22   nginx-light + njs, uid 101  (router image, like nginx-unprivileged)
# Idempotent: an image that exists is left alone, so a second run takes a second.
# Needs root (debootstrap) and a running Docker engine.
set -euo pipefail

SUITE=${SUITE:-bookworm}
WORK=${STAND_IN_WORKDIR:-${TMPDIR:-/tmp}/bluegreen-stand-in}

log() { printf 'stand-in-images: %s\n' "$*" >&2; }

NJS_MODULE=/usr/lib/nginx/modules/ngx_http_js_module.so

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Remove what a container never needs; keeps the import small and fast.
trim_rootfs() {
  local root=$1
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/log/* "$root"/tmp/*
}

bootstrap() {
  local root=$1 include=$2
  rm -rf "$root"
  mkdir -p "$root"
  log "debootstrap $SUITE into $root (+ $include)"
  if ! debootstrap --variant=minbase --include="$include" "$SUITE" "$root" >"$root.log" 2>&1; then
    tail -n 20 "$root.log" >&2
    log "debootstrap failed; full log: $root.log"
    exit 1
  fi
}

import() {
  local root=$1 name=$2
  shift 2
  log "docker import $name"
  tar -C "$root" -c . | docker import "$@" - "$name" >/dev/null
  rm -rf "$root"
}

build_python() {
  local name=bluegreen-local/python:3.11 root=$WORK/python
  if have_image "$name"; then log "$name exists"; return; fi
  bootstrap "$root" python3,python3-venv,python3-pip,ca-certificates
  ln -sf python3 "$root/usr/bin/python"
  trim_rootfs "$root"
  import "$root" "$name" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]'
}

build_nginx() {
  local name=bluegreen-local/nginx:1.22 root=$WORK/nginx
  # The router decides every request in njs (bluegreen/router.js); an image without it is rebuilt.
  if have_image "$name" && docker run --rm --entrypoint test "$name" -e "$NJS_MODULE"; then
    log "$name exists"
    return
  fi
  bootstrap "$root" nginx-light,libnginx-mod-http-js
  # Same identity and writable paths as the nginx-unprivileged image: uid/gid 101,
  # pid and temp files under /tmp, config owned by the server user.
  chroot "$root" groupadd --system --gid 101 nginx
  chroot "$root" useradd --system --uid 101 --gid 101 --home-dir /nonexistent \
    --no-create-home --shell /usr/sbin/nologin nginx
  rm -f "$root"/etc/nginx/sites-enabled/* "$root"/etc/nginx/conf.d/*
  mkdir -p "$root"/var/cache/nginx
  chroot "$root" chown -R 101:101 /var/lib/nginx /var/log/nginx /var/cache/nginx /etc/nginx/conf.d
  trim_rootfs "$root"
  mkdir -p "$root"/var/log/nginx
  ln -sf /dev/stdout "$root"/var/log/nginx/access.log
  ln -sf /dev/stderr "$root"/var/log/nginx/error.log
  chroot "$root" chown -R 101:101 /var/log/nginx
  import "$root" "$name" \
    --change 'USER 101' \
    --change 'EXPOSE 8080' \
    --change 'CMD ["nginx", "-g", "daemon off;"]'
}

main() {
  command -v docker >/dev/null || { log "docker CLI not found"; exit 1; }
  docker info >/dev/null 2>&1 || { log "no Docker engine answers (is dockerd running?)"; exit 1; }
  if ! have_image bluegreen-local/python:3.11 || ! have_image bluegreen-local/nginx:1.22; then
    command -v debootstrap >/dev/null || { log "debootstrap not found: apt-get install debootstrap"; exit 1; }
    [ "$(id -u)" = 0 ] || { log "debootstrap needs root"; exit 1; }
  fi
  mkdir -p "$WORK"
  build_python
  build_nginx
}

main "$@"
