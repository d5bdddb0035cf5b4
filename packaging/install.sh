#!/usr/bin/env bash
# Installs stellad from a build tree onto a Debian host: binaries, the unit, its defaults, a system user.
# Run as root after `make build`. It never creates keys: see docs/runbooks/key-ceremony.md.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
install -D -m 0755 "$here/bin/stellad" /usr/bin/stellad
install -D -m 0755 "$here/bin/stellactl" /usr/bin/stellactl
install -D -m 0644 "$here/systemd/stellad.service" /lib/systemd/system/stellad.service
[ -f /etc/default/stellad ] || install -D -m 0644 "$here/packaging/stellad.default" /etc/default/stellad
getent group stellad >/dev/null || groupadd --system stellad
getent passwd stellad >/dev/null || useradd --system --gid stellad --home-dir /var/lib/stellad --shell /usr/sbin/nologin stellad
install -d -m 0750 -o root -g stellad /etc/stellad
install -d -m 0750 -o root -g stellad /etc/stellad/tls /etc/stellad/trust /etc/stellad/trust/licence-keys /etc/stellad/trust/scanner-keys
install -D -m 0644 "$here/README.md" /usr/share/doc/stellad/README.md
systemctl daemon-reload
echo "installed. Before starting: put the HSM PIN in /etc/stellad/hsm-pin (mode 0600) and run the key ceremony"
echo "(docs/runbooks/key-ceremony.md); put the TLS certificate and key under /etc/stellad/tls, the Authority's JWKS in"
echo "/etc/stellad/trust/authorities.json (docs/tokens.md) and the vendor's licensing key in /etc/stellad/trust/licence-keys;"
echo "then: systemctl enable --now stellad, and import a licence: stellactl --admin-socket /run/stellad/stellad.sock license import FILE"
