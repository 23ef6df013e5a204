#!/bin/sh
# Secret files are bind-mounted with the host's owner and mode (0600). Root copies the ones the
# gateway names into a tmpfs it alone can read, then the gateway runs unprivileged as `coffer`.
set -eu
secret_dir=/run/coffer/secrets
mkdir -p "$secret_dir"
for var in DATABASE_URL_FILE CREDENTIALS_FILE MASTER_KEY_FILE ADMIN_FILE ARCHIVE_CREDENTIALS_FILE TLS_CERT_FILE BLOB_S3_CREDENTIALS_FILE WEBHOOKS_FILE; do
  eval "src=\${$var:-}"
  [ -n "$src" ] || continue
  [ -r "$src" ] || { echo "coffer: configuration: $var points at $src, which cannot be read" >&2; exit 78; }
  dst="$secret_dir/$(basename "$src")"
  cp "$src" "$dst"
  chown coffer:coffer "$dst"
  chmod 0400 "$dst"
  export "$var=$dst"
done
chown coffer:coffer /var/lib/coffer
exec setpriv --reuid=coffer --regid=coffer --clear-groups "$@"
