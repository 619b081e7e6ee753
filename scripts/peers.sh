# Starts the peers that tests and benchmarks talk to, all on 127.0.0.1, and stops them on exit:
# the Python peers' virtualenv ($ARSHJUL_TEST_PYTHON), the run's certificate authority
# ($ARSHJUL_TEST_CA), a throwaway PostgreSQL cluster with TLS ($pg_port),
# an OpenID provider ($ARSHJUL_TEST_OIDC_ISSUER, $ARSHJUL_TEST_OIDC_GATEWAY), Dovecot
# ($ARSHJUL_TEST_IMAP_URL, $ARSHJUL_TEST_IMAPS_URL, and a mailbox that takes only OAuth tokens:
# $ARSHJUL_TEST_OAUTH_IMAP_URL) and Synapse ($ARSHJUL_TEST_MATRIX_URL,
# $ARSHJUL_TEST_MATRIX_SECRET). Installs what is missing.
# Sourced by scripts/test and scripts/bench from the repository root.

peers=$(mktemp -d /tmp/arshjul-peers.XXXXXX)
chmod 755 "$peers"
pg_ctl_cmd=()
synapse_pid=
dovecot_pid=
oidc_pid=
# The processes started under the marker ARSHJUL_TEST_RUN=$peers: the suite and whatever it
# started, Chromium included (the marker is inherited through any depth of children).
marked_processes() {
    grep -lsaz -x "ARSHJUL_TEST_RUN=$peers" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true
}
cleanup() {
    # shellcheck disable=SC2046
    kill -KILL $(marked_processes) 2>/dev/null || true
    if [ -n "$synapse_pid" ]; then kill "$synapse_pid" 2>/dev/null || true; wait "$synapse_pid" 2>/dev/null || true; fi
    if [ -n "$dovecot_pid" ]; then kill "$dovecot_pid" 2>/dev/null || true; wait "$dovecot_pid" 2>/dev/null || true; fi
    if [ -n "$oidc_pid" ]; then kill "$oidc_pid" 2>/dev/null || true; wait "$oidc_pid" 2>/dev/null || true; fi
    if [ ${#pg_ctl_cmd[@]} -gt 0 ]; then "${pg_ctl_cmd[@]}" -D "$peers/pgdata" -m fast -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$peers"
}
trap cleanup EXIT

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- Python peers: aiosmtpd for the SMTP server, cryptography for the certificates ---------
venv=target/test-peers/venv
if ! "$venv/bin/python" -c 'import aiosmtpd, cryptography' >/dev/null 2>&1; then
    echo "== installing aiosmtpd and cryptography into $venv"
    python3 -m venv "$venv" 2>/dev/null || { as_root apt-get update -qq && as_root apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q aiosmtpd cryptography
fi
export ARSHJUL_TEST_PYTHON="$PWD/$venv/bin/python"

# --- TLS: the test run's certificate authority, and a certificate for 127.0.0.1 it signed ----
"$ARSHJUL_TEST_PYTHON" tests/peers/make_certs.py "$peers/tls"
export ARSHJUL_TEST_CA="$peers/tls/ca.pem"
export ARSHJUL_TEST_OTHER_CA="$peers/tls/other-ca.pem"

# --- PostgreSQL ---------------------------------------------------------------------------
pg_bindir() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then pg_config --bindir; return; fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$found" ] && [ -x "$found/initdb" ]; then echo "$found"; fi
}
pgbin=$(pg_bindir)
if [ -z "$pgbin" ]; then
    echo "== installing PostgreSQL from apt"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pgbin=$(pg_bindir)
fi
# initdb refuses to run as root: run the cluster as the `postgres` system user then.
run_pg=()
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    run_pg=(runuser -u postgres --)
fi
mkdir -p "$peers/pgdata"
[ ${#run_pg[@]} -gt 0 ] && chown postgres "$peers/pgdata"
chmod 700 "$peers/pgdata"
"${run_pg[@]}" "$pgbin/initdb" -D "$peers/pgdata" -U postgres --auth=trust -E UTF8 --no-locale --no-sync >/dev/null
# TLS on, plain connections still taken: the suite connects both ways.
install -m 600 "$peers/tls/server.pem" "$peers/tls/server.key" "$peers/pgdata/"
[ ${#run_pg[@]} -gt 0 ] && chown postgres "$peers/pgdata/server.pem" "$peers/pgdata/server.key"
pg_port=$(free_port)
pg_ctl_cmd=("${run_pg[@]}" "$pgbin/pg_ctl")
"${pg_ctl_cmd[@]}" -D "$peers/pgdata" -l "$peers/pgdata/log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $pg_port -k $peers/pgdata -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c ssl=on -c ssl_cert_file=server.pem -c ssl_key_file=server.key" \
    start >/dev/null
echo "== PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
# Tests of PostgreSQL faults use the cluster in both passes of the suite.
export ARSHJUL_TEST_PG_SERVER="postgres://postgres@127.0.0.1:$pg_port/postgres"

# --- An OpenID provider standing in for Entra ID: npm's oidc-provider (tests/peers/oidc_provider.mjs)
oidc_dir=target/test-peers/oidc
oidc_version=9.13.3
if [ "$(node -p "try { require('./$oidc_dir/node_modules/oidc-provider/package.json').version } catch { '' }" 2>/dev/null)" != "$oidc_version" ]; then
    echo "== installing oidc-provider $oidc_version from npm into $oidc_dir"
    mkdir -p "$oidc_dir"
    npm install --silent --no-audit --no-fund --prefix "$oidc_dir" "oidc-provider@$oidc_version" >/dev/null
fi
oidc_port=$(free_port)
oidc_gateway_secret=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
mkdir -p "$peers/oidc"
cp tests/peers/oidc_provider.mjs "$oidc_dir/"
# On a moved wall clock (ARSHJUL_TEST_AS_OF, see scripts/test) the provider runs on it too: it
# and arshjul must agree on when an ID token expires, as NTP makes them agree in life.
oidc_clock=()
if [ -n "${ARSHJUL_TEST_AS_OF:-}" ]; then
    if ! command -v faketime >/dev/null 2>&1; then
        echo "== installing libfaketime from apt"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null
    fi
    oidc_clock=(env FAKETIME_DONT_FAKE_MONOTONIC=1 faketime "$ARSHJUL_TEST_AS_OF")
fi
"${oidc_clock[@]}" node "$oidc_dir/oidc_provider.mjs" "$oidc_port" "$oidc_gateway_secret" >"$peers/oidc/log" 2>&1 &
oidc_pid=$!
for _ in $(seq 1 100); do
    grep -qx ready "$peers/oidc/log" && break
    kill -0 "$oidc_pid" 2>/dev/null || { cat "$peers/oidc/log"; echo "the OpenID provider did not start"; exit 1; }
    sleep 0.05
done
export ARSHJUL_TEST_OIDC_ISSUER="http://127.0.0.1:$oidc_port"
# The client that the mail servers introspect tokens with: ID:SECRET.
export ARSHJUL_TEST_OIDC_GATEWAY="mail-gateway:$oidc_gateway_secret"
echo "== oidc-provider $oidc_version on 127.0.0.1:$oidc_port"

# --- Dovecot, a real IMAP server: one mail user with a password, one that takes only OAuth
# tokens (XOAUTH2, checked at the OpenID provider), plain IMAP and IMAP over TLS on loopback --
if ! command -v dovecot >/dev/null 2>&1; then
    echo "== installing Dovecot from apt"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
fi
imap_port=$(free_port)
imaps_port=$(free_port)
imap_password=$(python3 -c 'import secrets; print(secrets.token_hex(8))')
mkdir -p "$peers/dovecot/mail"
mail_owner=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    # Dovecot does not deliver mail as root.
    id arshjulmail >/dev/null 2>&1 || useradd --system --no-create-home arshjulmail
    mail_owner=arshjulmail
    chown arshjulmail "$peers/dovecot/mail"
fi
printf 'arshjul:{PLAIN}%s\n' "$imap_password" > "$peers/dovecot/users"
sed -e "s|@DIR@|$peers/dovecot|g" -e "s|@PORT@|$imap_port|g" -e "s|@OWNER@|$mail_owner|g" \
    -e "s|@TLSPORT@|$imaps_port|g" -e "s|@TLS@|$peers/tls|g" \
    tests/peers/dovecot.conf > "$peers/dovecot/dovecot.conf"
cat > "$peers/dovecot/oauth2.conf.ext" <<EOF
introspection_mode = post
introspection_url = http://$ARSHJUL_TEST_OIDC_GATEWAY@127.0.0.1:$oidc_port/token/introspection
force_introspection = yes
username_attribute = mailbox
active_attribute = active
active_value = true
EOF
dovecot -F -c "$peers/dovecot/dovecot.conf" >"$peers/dovecot/stdout" 2>&1 &
dovecot_pid=$!
for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $imap_port), 0.2)" 2>/dev/null && break
    kill -0 "$dovecot_pid" 2>/dev/null || { cat "$peers/dovecot/stdout" "$peers/dovecot/dovecot.log" 2>/dev/null; echo "Dovecot did not start"; exit 1; }
    sleep 0.05
done
export ARSHJUL_TEST_IMAP_URL="imap://arshjul:$imap_password@127.0.0.1:$imap_port"
export ARSHJUL_TEST_IMAPS_URL="imaps://arshjul:$imap_password@127.0.0.1:$imaps_port"
# The user only: the mailbox that an application opens with a token, as in Exchange Online.
export ARSHJUL_TEST_OAUTH_IMAP_URL="imaps://arshjul%40m365.test@127.0.0.1:$imaps_port"
echo "== Dovecot $(dovecot --version | cut -d' ' -f1) on 127.0.0.1:$imap_port, with TLS on $imaps_port"

# --- Synapse, a real Matrix homeserver: SQLite, loopback, shared-secret registration -------
synapse_venv=target/test-peers/venv-synapse
synapse_version=1.163.2
if ! "$synapse_venv/bin/python" -c "import synapse, sys; sys.exit(not synapse.__version__.startswith('$synapse_version'))" >/dev/null 2>&1; then
    echo "== installing Synapse $synapse_version into $synapse_venv"
    python3 -m venv "$synapse_venv"
    "$synapse_venv/bin/pip" install -q "matrix-synapse==$synapse_version"
fi
synapse_port=$(free_port)
synapse_secret=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
mkdir -p "$peers/synapse"
sed -e "s|@DIR@|$peers/synapse|g" -e "s|@PORT@|$synapse_port|g" -e "s|@SECRET@|$synapse_secret|g" \
    tests/peers/synapse.yaml > "$peers/synapse/homeserver.yaml"
sed -e "s|@DIR@|$peers/synapse|g" tests/peers/synapse.log.yaml > "$peers/synapse/log.yaml"
"$synapse_venv/bin/python" -m synapse.app.homeserver -c "$peers/synapse/homeserver.yaml" --generate-keys >/dev/null
"$synapse_venv/bin/python" -m synapse.app.homeserver -c "$peers/synapse/homeserver.yaml" >"$peers/synapse/stdout" 2>&1 &
synapse_pid=$!
for _ in $(seq 1 300); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$synapse_port/_matrix/client/versions')" 2>/dev/null && break
    kill -0 "$synapse_pid" 2>/dev/null || { cat "$peers/synapse/stdout" "$peers/synapse/homeserver.log" 2>/dev/null; echo "Synapse did not start"; exit 1; }
    sleep 0.1
done
export ARSHJUL_TEST_MATRIX_URL="http://127.0.0.1:$synapse_port"
export ARSHJUL_TEST_MATRIX_SECRET="$synapse_secret"
echo "== Synapse $synapse_version on 127.0.0.1:$synapse_port"


# --- Headless Chromium for the dashboard's browser tests, and axe-core to check accessibility -
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "== installing Chromium and ChromeDriver from apt"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
export ARSHJUL_TEST_CHROMIUM="$(command -v chromium)"
export ARSHJUL_TEST_CHROMEDRIVER="$(command -v chromedriver)"
axe_dir=target/test-peers/axe
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
    echo "== installing axe-core from npm into $axe_dir"
    mkdir -p "$axe_dir"
    npm install --silent --no-audit --no-fund --prefix "$axe_dir" axe-core@4 >/dev/null
fi
export ARSHJUL_TEST_AXE="$PWD/$axe_dir/node_modules/axe-core/axe.min.js"
echo "== $("$ARSHJUL_TEST_CHROMIUM" --version 2>/dev/null | head -n 1), axe-core $(node -p "require('./$axe_dir/node_modules/axe-core/package.json').version")"
