#!/bin/sh
# Renders the configuration from the environment, checks it, then runs nginx in the foreground.
set -eu
: "${PUBLIC_HTTPS_PORT:=443}"
: "${GATEWAY_UPSTREAM:=gateway:3000}"
: "${S3_DOMAIN:=localhost}"
for f in /run/secrets/server_crt /run/secrets/server_key; do
  [ -r "$f" ] || { echo "nginx: secret $f is missing; run scripts/setup-credentials" >&2; exit 78; }
done
if [ "$PUBLIC_HTTPS_PORT" = "443" ]; then https_suffix=""; else https_suffix=":$PUBLIC_HTTPS_PORT"; fi
sed -e "s|@HTTPS_SUFFIX@|$https_suffix|g" \
    -e "s|@GATEWAY_UPSTREAM@|$GATEWAY_UPSTREAM|g" \
    -e "s|@S3_DOMAIN@|$S3_DOMAIN|g" \
    /etc/nginx/nginx.conf.template > /etc/nginx/nginx.conf
nginx -t -q
exec nginx -g 'daemon off;'
