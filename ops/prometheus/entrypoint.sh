#!/bin/sh
# The management API key is bind-mounted with the host's owner and mode (0600): root copies it where only
# the prometheus user reads it, writes the scrape target into the configuration, then drops privileges.
set -eu
key=/run/secrets/management_api_key
[ -r "$key" ] || { echo "prometheus: $key cannot be read" >&2; exit 78; }
install -o prometheus -g prometheus -m 0400 "$key" /run/prometheus/api_key
sed "s/@GATEWAY_NAME@/${GATEWAY_NAME:?}/" /etc/coffer-prometheus/prometheus.yml >/run/prometheus/prometheus.yml
chown prometheus:prometheus /run/prometheus/prometheus.yml /var/lib/prometheus
promtool check config /run/prometheus/prometheus.yml >/dev/null
exec setpriv --reuid=prometheus --regid=prometheus --clear-groups \
  prometheus --config.file=/run/prometheus/prometheus.yml \
  --storage.tsdb.path=/var/lib/prometheus \
  --storage.tsdb.retention.time="${RETENTION_TIME:-30d}" \
  --web.listen-address=:9090 "$@"
