# Starts a throwaway Pebble CA and pebble-challtestsrv on loopback, for the quickstart.
# Source it; it defines start_pebble and stop_pebble and sets:
#   PEBBLE_DIR        the state directory (TLS certs, config, logs)
#   PEBBLE_DIRECTORY  the ACME directory URL
#   PEBBLE_TLS_ROOT   the root that signs Pebble's own HTTPS listener (pass as --ca-cert)
#   PEBBLE_MGMT       the management API base URL (issuing roots at /roots/0)
# Every name resolves to 127.0.0.1 through challtestsrv, so HTTP-01 is validated against
# 127.0.0.1:$PEBBLE_HTTP_PORT.

PEBBLE_HTTP_PORT=${PEBBLE_HTTP_PORT:-5002}
PEBBLE_TLS_PORT=${PEBBLE_TLS_PORT:-5001}
PEBBLE_PIDS=()

start_pebble() {
  local port
  for port in 14000 15000 8053 8055 "$PEBBLE_HTTP_PORT" "$PEBBLE_TLS_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port 127.0.0.1:$port is already in use (an earlier Pebble?); stop that process first" >&2
      return 1
    fi
  done
  PEBBLE_DIR=$(mktemp -d /tmp/certsmith-pebble.XXXXXX)
  local d=$PEBBLE_DIR
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=certsmith quickstart TLS root" -keyout "$d/root.key" -out "$d/root.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$d/localhost.key" -out "$d/localhost.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$d/san.ext"
  openssl x509 -req -in "$d/localhost.csr" -CA "$d/root.pem" -CAkey "$d/root.key" \
    -CAcreateserial -days 2 -extfile "$d/san.ext" -out "$d/localhost.pem" 2>/dev/null
  cat > "$d/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$d/localhost.pem", "privateKey": "$d/localhost.key",
  "httpPort": $PEBBLE_HTTP_PORT, "tlsPort": $PEBBLE_TLS_PORT, "ocspResponderURL": "",
  "externalAccountBindingRequired": false}}
JSON
  pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 127.0.0.1:8053 \
    -management 127.0.0.1:8055 -http01 "" -https01 "" -tlsalpn01 "" >"$d/challtestsrv.log" 2>&1 &
  PEBBLE_PIDS+=($!)
  PEBBLE_VA_NOSLEEP=1 pebble -config "$d/pebble.json" -dnsserver 127.0.0.1:8053 >"$d/pebble.log" 2>&1 &
  PEBBLE_PIDS+=($!)
  PEBBLE_DIRECTORY=https://localhost:14000/dir
  PEBBLE_TLS_ROOT=$d/root.pem
  PEBBLE_MGMT=https://localhost:15000
  local i
  for i in $(seq 1 100); do
    curl -fsS --cacert "$PEBBLE_TLS_ROOT" "$PEBBLE_DIRECTORY" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "Pebble did not start within 10 s; its log:" >&2
  cat "$d/pebble.log" >&2
  return 1
}

stop_pebble() {
  local pid
  for pid in "${PEBBLE_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PEBBLE_PIDS=()
  [ -n "${PEBBLE_DIR:-}" ] && rm -rf "$PEBBLE_DIR"
}
