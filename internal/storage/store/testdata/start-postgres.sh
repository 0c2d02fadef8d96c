#!/bin/sh
# Start a local PostgreSQL for the store tests and print its DSN.
# Idempotent: installs the server if missing, starts the cluster, creates
# the role and database if missing. Listens on loopback only.
#
#   export PORTWAY_TEST_POSTGRES_DSN="$(internal/storage/store/testdata/start-postgres.sh)"
set -eu

ROLE=${PORTWAY_PG_ROLE:-portway}
DB=${PORTWAY_PG_DB:-portway_test}
PASS=${PORTWAY_PG_PASSWORD:-portway}

log() { echo "start-postgres: $*" >&2; }

if ! command -v pg_lsclusters >/dev/null 2>&1; then
	log "installing postgresql"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq postgresql >&2
fi

# The first cluster (the package creates one, e.g. "15 main").
set -- $(pg_lsclusters -h | head -n 1)
if [ $# -lt 3 ]; then
	VER=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
	log "creating cluster $VER main"
	pg_createcluster "$VER" main >&2
	set -- $(pg_lsclusters -h | head -n 1)
fi
VER=$1 CLUSTER=$2 PORT=$3

# Loopback only.
CONF=/etc/postgresql/$VER/$CLUSTER/postgresql.conf
if ! grep -q "^listen_addresses = '127.0.0.1'" "$CONF"; then
	echo "listen_addresses = '127.0.0.1'" >>"$CONF"
	pg_ctlcluster "$VER" "$CLUSTER" stop >/dev/null 2>&1 || true
fi
if ! pg_lsclusters -h | awk -v v="$VER" -v c="$CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; then
	log "starting cluster $VER $CLUSTER"
	pg_ctlcluster "$VER" "$CLUSTER" start >&2
fi

psql_su() { su postgres -c "psql -v ON_ERROR_STOP=1 -p $PORT -qAt $*"; }
i=0
until psql_su "-c 'SELECT 1'" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 60 ] || { log "server not answering"; exit 1; }
	sleep 0.5
done
if [ "$(psql_su "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'\"")" != 1 ]; then
	psql_su "-c \"CREATE ROLE $ROLE LOGIN PASSWORD '$PASS'\""
fi
if [ "$(psql_su "-c \"SELECT 1 FROM pg_database WHERE datname = '$DB'\"")" != 1 ]; then
	psql_su "-c \"CREATE DATABASE $DB OWNER $ROLE\""
fi
echo "postgres://$ROLE:$PASS@127.0.0.1:$PORT/$DB?sslmode=disable"
