#!/usr/bin/env bash
# Build the stand-in base images that local tests and CI use instead of pulled ones.
#
# Nothing can be pulled on the machines this project is built on, so the two
# base images the Dockerfiles name are made here from Debian packages:
#   bluegreen-local/python:3.11          python3 + venv + pip  (app/Dockerfile BASE_IMAGE, the builder)
#   bluegreen-local/python-runtime:3.11  only the interpreter, its stdlib and the shared libraries
#                                        they load: no shell, apt, pip or dpkg (RUNTIME_IMAGE)
#   bluegreen-local/nginx:1.30   nginx + njs from Debian's unstable suite, uid 101 (router image, like
#                                nginx-unprivileged 1.28: a resolving upstream with keep-alive needs 1.27.3)
#   bluegreen-local/postgres:15  Debian's postgresql, uid 999, the official image's entrypoint
#                                contract (POSTGRES_USER/PASSWORD/DB, PGDATA)  (database.image)
#   bluegreen-local/node:18      Debian's Node.js, like node:18-bookworm-slim (samples/node-app's BASE_IMAGE)
# Idempotent: an image that exists is left alone, so a second run takes a second.
# Needs root (debootstrap) and a running Docker engine.
set -euo pipefail

SUITE=${SUITE:-bookworm}
WORK=${STAND_IN_WORKDIR:-${TMPDIR:-/tmp}/bluegreen-stand-in}

log() { printf 'stand-in-images: %s\n' "$*" >&2; }

NJS_MODULE=/usr/lib/nginx/modules/ngx_http_js_module.so
# The router's nginx: `server NAME resolve` in an upstream with keep-alive came with 1.27.3, and
# bookworm ships 1.22. The unstable suite is pinned to one series: a different one fails the build.
NGINX_SUITE=${NGINX_SUITE:-sid}
NGINX_SERIES=1.30
NGINX_IMAGE=bluegreen-local/nginx:$NGINX_SERIES

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Remove what a container never needs; keeps the import small and fast.
trim_rootfs() {
  local root=$1
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/log/* "$root"/tmp/*
}

bootstrap() {
  local root=$1 include=$2 suite=${3:-$SUITE}
  rm -rf "$root"
  mkdir -p "$root"
  log "debootstrap $suite into $root (+ $include)"
  if ! debootstrap --variant=minbase --include="$include" "$suite" "$root" >"$root.log" 2>&1; then
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

# The runtime base is distroless in spirit: the files of the few packages the
# interpreter needs, copied out of a debootstrap root, nothing else. Stdlib
# parts an app server never imports go too (IDLE, tkinter, lib2to3, ensurepip,
# the test suite), and so do the iconv modules (Python has its own codecs).
RUNTIME_PACKAGES="libc6 libgcc-s1 python3-minimal python3.11-minimal libpython3.11-minimal libpython3.11-stdlib \
libssl3 zlib1g libexpat1 libffi8 libbz2-1.0 liblzma5 libuuid1 libcrypt1 media-types"

build_python_runtime() {
  local name=bluegreen-local/python-runtime:3.11 root=$WORK/python-runtime slim=$WORK/python-runtime.slim
  if have_image "$name"; then log "$name exists"; return; fi
  bootstrap "$root" python3-minimal,libpython3.11-stdlib,media-types
  rm -rf "$slim"
  mkdir -p "$slim/usr/bin" "$slim/usr/lib" "$slim/usr/lib64" "$slim/tmp" "$slim/etc"
  # Merged /usr, as in the packages' own paths (/lib/x86_64-linux-gnu/libc.so.6 ...).
  ln -s usr/bin "$slim/bin"
  ln -s usr/lib "$slim/lib"
  ln -s usr/lib64 "$slim/lib64"
  chmod 1777 "$slim/tmp"
  # shellcheck disable=SC2086 # one word per package
  chroot "$root" dpkg -L $RUNTIME_PACKAGES | sort -u | while read -r path; do
    if [ -L "$root$path" ] || [ -f "$root$path" ]; then printf '%s\n' "${path#/}"; fi
  done >"$slim.list"
  tar -C "$root" --no-recursion -cf - -T "$slim.list" | tar -C "$slim" --keep-directory-symlink -xf -
  # The byte-code Debian compiled at install time: starting without it costs seconds.
  (cd "$root" && find usr/lib/python3.11 -name '*.pyc') | tar -C "$root" -cf - -T - | tar -C "$slim" -xf -
  ln -sf python3 "$slim/usr/bin/python"
  rm -rf "$slim"/usr/lib/python3.11/{idlelib,tkinter,turtledemo,lib2to3,ensurepip,test,pydoc_data} \
    "$slim"/usr/lib/python3.11/turtle.py "$slim"/usr/lib/x86_64-linux-gnu/gconv \
    "$slim"/usr/share/doc "$slim"/usr/share/man "$slim"/usr/share/lintian "$slim"/usr/share/locale
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
    >"$slim/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$slim/etc/group"
  rm -rf "$root" "$slim.list"
  import "$slim" "$name" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'CMD ["python3"]'
}

build_nginx() {
  local name=$NGINX_IMAGE root=$WORK/nginx version
  # The router decides every request in njs (bluegreen/router/router.js); an image without it is rebuilt.
  if have_image "$name" && docker run --rm --entrypoint test "$name" -e "$NJS_MODULE"; then
    log "$name exists"
    return
  fi
  bootstrap "$root" nginx,libnginx-mod-http-js "$NGINX_SUITE"
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell variable
  version=$(chroot "$root" dpkg-query -W -f '${Version}' nginx)
  case $version in
    "$NGINX_SERIES".*) log "nginx $version" ;;
    *) log "the $NGINX_SUITE suite has nginx $version, not $NGINX_SERIES.x: set NGINX_SERIES in $0"; exit 1 ;;
  esac
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

# The official postgres image's contract, as far as this project uses it: on an empty PGDATA,
# initdb with POSTGRES_USER and POSTGRES_PASSWORD, create POSTGRES_DB, then run the server
# listening on every address with password (scram) authentication from the network.
# shellcheck disable=SC2016 # expanded by the container's sh, not here
POSTGRES_ENTRYPOINT='#!/bin/sh
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf "%s\n" "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '"'"'*'"'"'" >>"$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\";" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "postgres: initialised $PGDATA (user $user, database $db)"
fi
exec "$@"
'

build_postgres() {
  local name=bluegreen-local/postgres:15 root=$WORK/postgres
  if have_image "$name"; then log "$name exists"; return; fi
  bootstrap "$root" postgresql-15,locales
  # The official image's identity (uid/gid 999) and layout: binaries on PATH, PGDATA a volume path.
  chroot "$root" groupmod --gid 999 postgres
  chroot "$root" usermod --uid 999 --gid 999 postgres
  rm -rf "$root"/var/lib/postgresql/* "$root"/etc/postgresql/*
  mkdir -p "$root"/var/lib/postgresql/data "$root"/run/postgresql
  chown -R 999:999 "$root"/var/lib/postgresql "$root"/run/postgresql
  chmod 0700 "$root"/var/lib/postgresql/data
  chmod 2777 "$root"/run/postgresql
  printf '%s' "$POSTGRES_ENTRYPOINT" >"$root"/usr/local/bin/docker-entrypoint.sh
  chmod 0755 "$root"/usr/local/bin/docker-entrypoint.sh
  trim_rootfs "$root"
  import "$root" "$name" \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin' \
    --change 'ENV PGDATA=/var/lib/postgresql/data' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'USER 999:999' \
    --change 'EXPOSE 5432' \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    --change 'CMD ["postgres"]'
}

# The second sample app's base (samples/node-app): Debian's Node.js, as the official node:*-slim images hold it
# (node on PATH, a `node` user), nothing else.
build_node() {
  local name=bluegreen-local/node:18 root=$WORK/node
  if have_image "$name"; then log "$name exists"; return; fi
  bootstrap "$root" nodejs
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid 1000 --home-dir /home/node --create-home --shell /usr/sbin/nologin node
  trim_rootfs "$root"
  import "$root" "$name" \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'CMD ["node"]'
}

main() {
  command -v docker >/dev/null || { log "docker CLI not found"; exit 1; }
  docker info >/dev/null 2>&1 || { log "no Docker engine answers (is dockerd running?)"; exit 1; }
  if ! have_image bluegreen-local/python:3.11 || ! have_image bluegreen-local/python-runtime:3.11 \
    || ! have_image "$NGINX_IMAGE" || ! have_image bluegreen-local/postgres:15 || ! have_image bluegreen-local/node:18; then
    command -v debootstrap >/dev/null || { log "debootstrap not found: apt-get install debootstrap"; exit 1; }
    [ "$(id -u)" = 0 ] || { log "debootstrap needs root"; exit 1; }
  fi
  mkdir -p "$WORK"
  build_python
  build_python_runtime
  build_nginx
  build_postgres
  build_node
}

main "$@"
