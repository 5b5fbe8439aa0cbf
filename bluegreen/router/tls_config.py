"""The HTTPS half of the router's config: certificates read per handshake, the redirect's host, ACME's answers."""

from __future__ import annotations

import re

from bluegreen.config.router import TlsListener
from bluegreen.router.layout import ACME_CHALLENGE_PATH, ACME_CHALLENGES, CERTIFICATE_FILE, KEY_FILE, ROUTING_DIR


def tls_config(tls: TlsListener) -> str:
    """Certificates are read on every handshake from the generation `tls/current` names, never cached.

    That makes a rotation one symlink rename with no reload (bluegreen/router/sh/tls.sh).
    router.js resolves the symlink once per handshake, so the certificate and
    its key always come from one generation, even when a rotation lands between
    the two reads. nginx cannot staple OCSP for certificates loaded this way.
    """
    protocols = "TLSv1.3" if tls.min_version == "TLSv1.3" else "TLSv1.2 TLSv1.3"
    return "\n".join(
        [
            "js_set $bg_tls_dir bg.tlsDir;",
            f"ssl_certificate $bg_tls_dir/{CERTIFICATE_FILE};",
            f"ssl_certificate_key $bg_tls_dir/{KEY_FILE};",
            f"ssl_protocols {protocols};",
            "ssl_session_cache shared:bg_tls:10m;",
            "ssl_session_timeout 1h;",
            # Ticket keys would live as long as the router (it never reloads for a rotation): a key read off one
            # host decrypts every recorded session. Resumption keeps working through the server-side cache.
            "ssl_session_tickets off;",
            *_redirect_map(tls),
        ]
    )


# ACME's HTTP-01 answers (tls.acme), on the plain listener before any redirect: files `tls renew` writes into
# the routing volume while an order is validated, so a challenge needs no reload. Nothing else is served there.
ACME_LOCATION = f"""\
    location ^~ {ACME_CHALLENGE_PATH} {{
        alias {ROUTING_DIR}/{ACME_CHALLENGES}/;
        default_type text/plain;
        add_header Cache-Control no-store always;
    }}
"""


def _redirect_map(tls: TlsListener) -> list[str]:
    """The host the HTTP to HTTPS redirect names: the client's, only when it is one of the certificate's names.

    Otherwise the first of them: a Host header never chooses where a redirect sends anyone."""
    if not tls.host_names:
        return ["map $host $bg_redirect_host {\n    default $host;\n}"]
    lines = ["map $host $bg_redirect_host {", f'    default "{tls.host_names[0]}";']
    for name in tls.host_names:
        if name.startswith("*."):
            lines.append(f'    "~^[^.]+{re.escape(name[1:])}$" $host;')
        else:
            lines.append(f'    "{name.lower()}" $host;')
    return ["\n".join([*lines, "}"])]
