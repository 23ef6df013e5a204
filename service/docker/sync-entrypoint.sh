#!/bin/sh
# A scheduled sync: root copies the secrets it names into a tmpfs, then sync-cli runs as the owner of the
# synced directory, so what a pull writes belongs to whoever owns that directory on the host.
set -eu
[ -d "${SYNC_LOCAL:-}" ] || { echo "coffer: configuration: SYNC_LOCAL (${SYNC_LOCAL:-unset}) is not a mounted directory" >&2; exit 78; }
uid=$(stat -c %u "$SYNC_LOCAL")
gid=$(stat -c %g "$SYNC_LOCAL")
run=/run/coffer-sync
mkdir -p "$run/secrets" "$run/home"
for var in CREDENTIALS_FILE CA_FILE; do
  eval "src=\${$var:-}"
  [ -n "$src" ] && [ -r "$src" ] || { echo "coffer: configuration: $var (${src:-unset}) cannot be read" >&2; exit 78; }
  dst="$run/secrets/$(basename "$src")"
  cp "$src" "$dst"
  chmod 0400 "$dst"
  export "$var=$dst"
done
mkdir -p "$SYNC_STATE_DIR"
chown -R "$uid:$gid" "$run" "$SYNC_STATE_DIR"
# rclone's own config and cache go to the tmpfs; its remotes come from the environment.
export HOME="$run/home" RCLONE_CONFIG="$run/home/rclone.conf"
: > "$RCLONE_CONFIG"
chown "$uid:$gid" "$RCLONE_CONFIG"
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups node /opt/coffer/dist/sync-cli.js
