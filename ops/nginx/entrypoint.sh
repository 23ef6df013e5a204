#!/bin/sh
# Renders the configuration from the environment, checks it, then runs nginx in the foreground.
set -eu
: "${PUBLIC_HTTPS_PORT:=443}"
: "${GATEWAY_UPSTREAM:=gateway:3000}"
: "${S3_DOMAIN:=localhost}"
: "${SERVER_NAMES:=$S3_DOMAIN *.$S3_DOMAIN}"
case "$SERVER_NAMES" in
  *[!A-Za-z0-9.*:\ -]*) echo "nginx: SERVER_NAMES may hold only host names and addresses (got $SERVER_NAMES)" >&2; exit 78 ;;
esac
: "${TLS_MIN_VERSION:=1.2}"
case "$TLS_MIN_VERSION" in
  1.2) ssl_protocols="TLSv1.2 TLSv1.3" ;;
  1.3) ssl_protocols="TLSv1.3" ;;
  *) echo "nginx: TLS_MIN_VERSION must be 1.2 or 1.3 (got $TLS_MIN_VERSION)" >&2; exit 78 ;;
esac
for f in /run/secrets/server_crt /run/secrets/server_key; do
  [ -r "$f" ] || { echo "nginx: secret $f is missing; run scripts/setup-credentials" >&2; exit 78; }
done
if [ "$PUBLIC_HTTPS_PORT" = "443" ]; then https_suffix=""; else https_suffix=":$PUBLIC_HTTPS_PORT"; fi
# A browser that trusts root.crt would otherwise force HTTPS on every *.localhost dev server for a year.
case "$S3_DOMAIN" in
  localhost|*.localhost) hsts="max-age=31536000" ;;
  *) hsts="max-age=31536000; includeSubDomains" ;;
esac
sed -e "s|@HTTPS_SUFFIX@|$https_suffix|g" \
    -e "s|@GATEWAY_UPSTREAM@|$GATEWAY_UPSTREAM|g" \
    -e "s|@S3_DOMAIN@|$S3_DOMAIN|g" \
    -e "s|@SERVER_NAMES@|$SERVER_NAMES|g" \
    -e "s|@SSL_PROTOCOLS@|$ssl_protocols|g" \
    -e "s|@HSTS@|$hsts|g" \
    /etc/nginx/nginx.conf.template > /etc/nginx/nginx.conf
nginx -t -q
exec nginx -g 'daemon off;'
