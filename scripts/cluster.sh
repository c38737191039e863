#!/usr/bin/env bash
# `make cluster`: the demo tenant served by three Docket replicas that share one
# PostgreSQL database, behind HAProxy (deploy/haproxy.cfg), in the foreground.
# Ctrl-C stops HAProxy and the replicas. See docs/deploying.md.
#
# Run it through `make cluster`, which first builds the example actions and
# Docket (the same steps as `make run`). Settings, all optional:
#   LISTEN               HAProxy's address (default 127.0.0.1:8080)
#   REPLICA_PORTS        the three replicas' ports on 127.0.0.1 (default "8081 8082 8083")
#   DOCKET_DATABASE_URL  a PostgreSQL database to use as it is (default: the local
#                        server on 127.0.0.1:5432, database docket_cluster, created if missing)
#   DOCKET_SECRETS_KEY   the replicas' shared key (default: kept in data-cluster/secrets.hex)
#   DOCKET_API_KEY_DEMO  the demo tenant's webhook key (default: generated at the first start)
#   DOCKET_ADMIN_TOKEN_DEMO  the demo tenant's admin token, for `docket logs` (default: likewise)
#   DOCKET_ADMIN_TOKEN   the operator's admin token (default: operator routes off)
set -euo pipefail
cd "$(dirname "$0")/.."

LISTEN=${LISTEN:-127.0.0.1:8080}
read -r -a PORTS <<< "${REPLICA_PORTS:-8081 8082 8083}"
DATA=./data-cluster
DOCKET=./target/debug/docket
TEMPLATE=deploy/haproxy.cfg
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

say() { printf '%s\n' "$*"; }
die() { printf 'make cluster: %s\n' "$*" >&2; exit 1; }

[ "${#PORTS[@]}" = 3 ] || die "REPLICA_PORTS must name three ports (deploy/haproxy.cfg has three replicas)"
[ -x "$DOCKET" ] || die "$DOCKET is missing: run \`make cluster\`, which builds it"

# A URL for the banner: a wildcard address is not something curl can reach.
host=${LISTEN%:*}
case "$host" in "" | 0.0.0.0 | "[::]" | "*") host=127.0.0.1 ;; esac
PUBLIC_URL="http://$host:${LISTEN##*:}"

# True when something accepts connections on 127.0.0.1:$1.
listening() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
for port in "${PORTS[@]}" "${LISTEN##*:}"; do
	if listening "$port"; then
		die "port $port is in use (an earlier \`make cluster\` or \`make run\` still running?); stop it first"
	fi
done

## HAProxy, from Debian's package when it is missing.
find_haproxy() { command -v haproxy || { [ -x /usr/sbin/haproxy ] && echo /usr/sbin/haproxy; }; }
if ! HAPROXY=$(find_haproxy); then
	say "installing haproxy (Debian package)"
	$SUDO apt-get install -y -qq haproxy > /dev/null 2>&1 ||
		{ $SUDO apt-get update -qq > /dev/null 2>&1 && $SUDO apt-get install -y -qq haproxy > /dev/null 2>&1; } ||
		die "could not install haproxy; install it (apt-get install haproxy) and run make cluster again"
	HAPROXY=$(find_haproxy) || die "haproxy installed but not found on PATH or in /usr/sbin"
fi

## PostgreSQL: the one DOCKET_DATABASE_URL names, or the local server.
if [ -n "${DOCKET_DATABASE_URL:-}" ]; then
	DATABASE_URL=$DOCKET_DATABASE_URL
	say "database: $DATABASE_URL (DOCKET_DATABASE_URL)"
else
	pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2> /dev/null; }
	if ! command -v psql > /dev/null || ! command -v pg_isready > /dev/null; then
		die "PostgreSQL's client (psql) is not installed. Install PostgreSQL (apt-get install postgresql),
or set DOCKET_DATABASE_URL=postgres://user:password@host:5432/database to use a remote one."
	fi
	if ! pg_up; then
		version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2> /dev/null | sort -V | tail -n 1 || true)
		if [ -n "$version" ] && command -v pg_ctlcluster > /dev/null; then
			say "starting the local PostgreSQL $version (pg_ctlcluster)"
			$SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
				die "could not start PostgreSQL; start it with
  sudo pg_ctlcluster --skip-systemctl-redirect $version main start
or set DOCKET_DATABASE_URL=postgres://user:password@host:5432/database to use another server."
			for _ in $(seq 50); do pg_up && break; sleep 0.2; done
		fi
		pg_up || die "no PostgreSQL on 127.0.0.1:5432. Start it (Debian: sudo pg_ctlcluster --skip-systemctl-redirect <version> main start),
or set DOCKET_DATABASE_URL=postgres://user:password@host:5432/database to use another server."
	fi
	psql_test() { psql -h 127.0.0.1 -d "${PGDATABASE:-test}" -v ON_ERROR_STOP=1 -qtA "$@"; }
	exists=$(psql_test -c "SELECT 1 FROM pg_database WHERE datname = 'docket_cluster'") ||
		die "cannot connect to PostgreSQL on 127.0.0.1:5432 (database ${PGDATABASE:-test}; set PGDATABASE/PGUSER to choose)"
	if [ "$exists" != 1 ]; then
		psql_test -c "CREATE DATABASE docket_cluster" > /dev/null
		say "database: created docket_cluster on 127.0.0.1:5432"
	fi
	user=${PGUSER:-$(id -un)}
	DATABASE_URL="postgres://$user@127.0.0.1:5432/docket_cluster"
fi

## The key every replica shares: it seals tenant secrets and authenticates the
## compiled artifacts in the database. Keep it (and back it up): without it
## the database's secrets cannot be read.
mkdir -p "$DATA"
chmod 700 "$DATA"
if [ -z "${DOCKET_SECRETS_KEY:-}" ]; then
	if [ ! -s "$DATA/secrets.hex" ]; then
		(umask 077 && openssl rand -hex 32 > "$DATA/secrets.hex.tmp" && mv "$DATA/secrets.hex.tmp" "$DATA/secrets.hex")
		say "secrets key: generated into $DATA/secrets.hex"
	fi
	DOCKET_SECRETS_KEY=$(tr -d '[:space:]' < "$DATA/secrets.hex")
fi
export DOCKET_SECRETS_KEY DOCKET_DATABASE_URL=$DATABASE_URL

## The declarative tenants' webhook keys and admin tokens. Replicas on a
## shared database take them from DOCKET_API_KEY_<TENANT> and
## DOCKET_ADMIN_TOKEN_<TENANT>, never from ones a replica generated: unless
## set, each is generated once and kept in data-cluster/api-key-<tenant> and
## data-cluster/admin-token-<tenant>.
KEPT_KEYS=()
for dir in manifests/*/; do
	[ -d "$dir" ] || continue
	tenant=$(basename "$dir")
	suffix=$(printf '%s' "$tenant" | tr '[:lower:]-' '[:upper:]_')
	for kept in "DOCKET_API_KEY_$suffix:api-key:dk_" "DOCKET_ADMIN_TOKEN_$suffix:admin-token:dka_"; do
		IFS=: read -r var name prefix <<< "$kept"
		[ -n "${!var:-}" ] && continue
		file=$DATA/$name-$tenant
		if [ ! -s "$file" ]; then
			(umask 077 && printf '%s%s\n' "$prefix" "$(openssl rand -hex 24)" > "$file.tmp" && mv "$file.tmp" "$file")
		fi
		export "$var=$(tr -d '[:space:]' < "$file")"
		KEPT_KEYS+=("$var:$file")
	done
done

## Start-up and shutdown. Everything started here is stopped on exit, Ctrl-C
## included. Each runs in a session of its own (setsid), so a Ctrl-C reaches
## only this script, which then stops them in order and waits for them.
PIDS=()
NAMES=()
stopping=0
stop_all() {
	[ "$stopping" = 1 ] && return
	stopping=1
	trap - INT TERM
	if [ "${#PIDS[@]}" -gt 0 ]; then
		say ""
		say "stopping HAProxy and the replicas"
		kill -TERM "${PIDS[@]}" 2> /dev/null || true
		# The replicas drain in-flight requests first; give them a few seconds.
		for _ in $(seq 50); do
			kill -0 "${PIDS[@]}" 2> /dev/null || break
			sleep 0.2
		done
		kill -KILL "${PIDS[@]}" 2> /dev/null || true
		wait "${PIDS[@]}" 2> /dev/null || true
	fi
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_replica N [extra serve args…]
start_replica() {
	local n=$1
	shift
	mkdir -p "$DATA/replica-$n"
	setsid "$DOCKET" serve --listen "127.0.0.1:${PORTS[n - 1]}" --data-dir "$DATA/replica-$n" "$@" \
		> "$DATA/replica-$n.log" 2>&1 &
	PIDS+=("$!")
	NAMES+=("replica-$n")
}

# wait_ready N: until replica N's /readyz says 200 (it compiles the demo's
# modules at its first start).
wait_ready() {
	local n=$1 pid=${PIDS[$1 - 1]}
	for _ in $(seq 600); do
		if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:${PORTS[n - 1]}/readyz" 2> /dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2> /dev/null; then
			tail -n 20 "$DATA/replica-$n.log" >&2
			die "replica $n exited at start-up; its log is $DATA/replica-$n.log"
		fi
		sleep 0.2
	done
	die "replica $n not ready after 2 minutes; see $DATA/replica-$n.log"
}

# The first replica syncs the declarative demo tenant (manifests/) into the
# database once; the others load it from there. --public-url makes its banner
# name HAProxy's address, the one to give Workfront.
say "starting replica 1 on 127.0.0.1:${PORTS[0]} (syncs manifests/; log $DATA/replica-1.log)"
start_replica 1 --manifests manifests --public-url "$PUBLIC_URL"
wait_ready 1
for n in 2 3; do
	say "starting replica $n on 127.0.0.1:${PORTS[n - 1]} (log $DATA/replica-$n.log)"
	start_replica "$n"
done
wait_ready 2
wait_ready 3

sed -e "s/@LISTEN@/$LISTEN/" \
	-e "s/@REPLICA_1@/127.0.0.1:${PORTS[0]}/" \
	-e "s/@REPLICA_2@/127.0.0.1:${PORTS[1]}/" \
	-e "s/@REPLICA_3@/127.0.0.1:${PORTS[2]}/" \
	"$TEMPLATE" > "$DATA/haproxy.cfg"
"$HAPROXY" -c -q -f "$DATA/haproxy.cfg" || die "$DATA/haproxy.cfg (from $TEMPLATE) is not valid"
say "starting HAProxy on $LISTEN (config $DATA/haproxy.cfg; log $DATA/haproxy.log)"
setsid "$HAPROXY" -f "$DATA/haproxy.cfg" -db > "$DATA/haproxy.log" 2>&1 &
PIDS+=("$!")
NAMES+=(haproxy)
for _ in $(seq 100); do
	curl -fsS -o /dev/null --max-time 1 "$PUBLIC_URL/healthz" 2> /dev/null && break
	kill -0 "${PIDS[3]}" 2> /dev/null || { cat "$DATA/haproxy.log" >&2; die "HAProxy exited at start-up"; }
	sleep 0.1
done

# The banner: replica 1's (the demo tenant, its key, a curl line), which names
# HAProxy's URL, printed once.
say ""
say "docket cluster listening on $PUBLIC_URL"
say "  HAProxy -> replicas on 127.0.0.1:${PORTS[0]}, ${PORTS[1]}, ${PORTS[2]} (checked on /readyz)"
say "  database: $DATABASE_URL"
banner=$(awk '/^docket listening on /{ banner = 1; next } banner && /^[0-9][0-9][0-9][0-9]-/ { exit } banner' \
	"$DATA/replica-1.log")
# The keys this script keeps are shown with where they are kept.
for kept in "${KEPT_KEYS[@]}"; do
	var=${kept%%:*} file=${kept#*:}
	banner=${banner//"the value of $var"/"${!var}
          (kept in $file; delete it to mint a new one, or set $var)"}
	banner=${banner//"\$$var"/"${!var}"}
done
# `docket logs` through HAProxy too (the CLI's default server is 127.0.0.1:8080).
server_arg=" --server $PUBLIC_URL"
[ "$PUBLIC_URL" = http://127.0.0.1:8080 ] && server_arg=
banner=${banner//" --server http://127.0.0.1:${PORTS[0]}"/"$server_arg"}
say "$banner"
say ""
say "logs in $DATA/; Ctrl-C stops HAProxy and the replicas"

# In the foreground until Ctrl-C. A replica that exits (or is killed, to see
# HAProxy route around it) is reported and the others carry on; the script
# ends when HAProxy or the last replica is gone.
set +e
while :; do
	wait -n -p gone "${PIDS[@]}"
	status=$?
	if [ -z "${gone:-}" ]; then
		[ "$status" = 127 ] && exit 1 # nothing left to wait for
		continue
	fi
	# Forget it: stop_all signals only what is still running.
	pids=() names=() name=
	for i in "${!PIDS[@]}"; do
		if [ "${PIDS[i]}" = "$gone" ]; then
			name=${NAMES[i]}
		else
			pids+=("${PIDS[i]}") names+=("${NAMES[i]}")
		fi
	done
	PIDS=("${pids[@]}") NAMES=("${names[@]}")
	unset gone
	if [ "$name" = haproxy ]; then
		say "make cluster: HAProxy exited (status $status); see $DATA/haproxy.log" >&2
		exit 1
	fi
	if [ "${#PIDS[@]}" -le 1 ]; then
		say "make cluster: $name exited (status $status), the last replica; see $DATA/$name.log" >&2
		exit 1
	fi
	say "make cluster: $name exited (status $status; log $DATA/$name.log); HAProxy routes around it." \
		"Ctrl-C and run make cluster again to bring it back." >&2
done
