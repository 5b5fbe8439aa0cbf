# shellcheck shell=sh
# Make a staged certificate the one served: one atomic rename, no reload.
# Args: DIR GEN   (DIR/tls/GEN holds cert.pem and key.pem, checked by bluegreen first)
# nginx reads DIR/tls/current/ on every handshake (bluegreen/router/render.py: _tls), so the
# next handshake serves GEN; one that already opened the previous files finishes
# with them, which stay until the rotation after this one.
# Exit codes (bluegreen/router/scripts.py: ScriptExit): 0 served; 10 DIR or GEN unusable.
dir=$1 gen=$2
cd "$dir/$BG_TLS" 2>/dev/null || exit 10
[ -s "$gen/$BG_CERTIFICATE" ] && [ -s "$gen/$BG_KEY" ] || exit 10
chmod 600 "$gen/$BG_KEY"
old=$(readlink "$BG_CURRENT" 2>/dev/null || true)
ln -sfn "$gen" .next-current && mv -Tf .next-current "$BG_CURRENT"
for g in g*; do
  [ "$g" = "$gen" ] || [ "$g" = "$old" ] || rm -rf "$g"
done
echo "served $gen (before it: ${old:-none})"
