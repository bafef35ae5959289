#!/usr/bin/env bash
# run_pg_suite.sh PGTMP TEST_STORE TEST_STORE_POSTGRES
#
# Start a throwaway PostgreSQL server with PGTMP (tests/support/pgtmp.sh),
# run the store suite on it (TEST_STORE with AMBIENT_TEST_STORE=postgres)
# and the PostgreSQL-specific tests, then stop the server and remove it,
# also when a test fails or this script is interrupted.  Fails (does not
# skip) when PostgreSQL is not installed.
set -uo pipefail

pgtmp=$1
test_store=$2
test_pg=$3

dir=$(mktemp -d "${TMPDIR:-/tmp}/ambient-pg-XXXXXX") || exit 1
cleanup() {
	"$pgtmp" stop "$dir" || echo "run_pg_suite: could not stop the server in $dir" >&2
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

url=$("$pgtmp" start "$dir") || {
	echo "run_pg_suite: cannot start PostgreSQL (see above); install it with 'make deps'" >&2
	exit 1
}
echo "run_pg_suite: PostgreSQL at $url"

status=0
AMBIENT_TEST_STORE=postgres AMBIENT_TEST_PG_URL=$url "$test_store" || status=1
AMBIENT_TEST_PG_URL=$url PGTMP=$pgtmp PGTMP_DIR=$dir "$test_pg" || status=1
if [ $status -ne 0 ] && [ -f "$dir/server.log" ]; then
	echo "run_pg_suite: the end of the server's log:" >&2
	tail -n 30 "$dir/server.log" >&2
fi
exit $status
