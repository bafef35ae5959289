#!/usr/bin/env bash
# pgtmp.sh - a throwaway PostgreSQL server for tests and benchmarks.
#
#   pgtmp.sh start DIR [DB]   make a cluster in DIR (initdb), start it on a free
#                             loopback port, create database DB (default
#                             "ambient") and print its URL on stdout:
#                                 postgres://ambient@127.0.0.1:PORT/DB
#   pgtmp.sh stop DIR         stop that server (fast shutdown; only the one whose
#                             pid file is in DIR/data); no error when not running
#   pgtmp.sh restart DIR      restart it on the same port (clients lose their
#                             connections, as in a real server restart)
#   pgtmp.sh url DIR [DB]     print the URL again
#
# DIR should be a fresh directory (it is created when missing); the caller
# removes it after `stop`.  Inside: data/ (the cluster), the Unix socket,
# port, log.  The server listens on 127.0.0.1 only, with "trust"
# authentication for the superuser "ambient" (any password is accepted), and
# keeps fsync on, so timings are those of a real server.
#
# PostgreSQL refuses to run as root: when run as root, the server runs as the
# user "postgres" (or "nobody" when there is none), and DIR is handed to that
# user.  The binaries come from `pg_config --bindir`, else the newest
# /usr/lib/postgresql/*/bin.  Exit status is non-zero, with a message on
# stderr, when PostgreSQL is not installed or the server does not start.
set -euo pipefail

die() {
	echo "pgtmp: $*" >&2
	exit 1
}

usage() {
	die "usage: pgtmp.sh start|stop|restart|url DIR [DB]"
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
db=${3:-ambient}
superuser=ambient

find_bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

bindir=$(find_bindir) ||
	die "PostgreSQL is not installed (no initdb/pg_ctl found via pg_config or in /usr/lib/postgresql/*/bin); install the Debian package 'postgresql' (make deps does)"

# Run a command as the server's user.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$runas" -- "$@"
	else
		"$@"
	fi
}

runas=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
	if getent passwd postgres >/dev/null; then
		runas=postgres
	else
		runas=nobody
	fi
fi

data=$dir/data

port_in_use() {
	# Something accepts connections there (bash's /dev/tcp; no extra tools).
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

url() {
	local port
	port=$(cat "$dir/port" 2>/dev/null) || die "no server was started in $dir"
	echo "postgres://$superuser@127.0.0.1:$port/$db"
}

start() {
	[ -e "$data/PG_VERSION" ] && die "$dir already holds a cluster; use restart, or stop it and use a fresh directory"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	data=$dir/data
	if [ "$(id -u)" -eq 0 ]; then
		chown "$runas" "$dir"
		chmod 0700 "$dir"
		as_owner test -w "$dir" ||
			die "$dir is not reachable by the user $runas (a parent directory is private?); use a directory under /tmp"
	fi
	as_owner "$bindir/initdb" -D "$data" -U "$superuser" -A trust -E UTF8 --locale=C.UTF-8 \
		>"$dir/initdb.log" 2>&1 ||
		as_owner "$bindir/initdb" -D "$data" -U "$superuser" -A trust -E UTF8 --locale=C \
			>"$dir/initdb.log" 2>&1 ||
		die "initdb failed; see $dir/initdb.log: $(tail -n 3 "$dir/initdb.log")"
	# Settings a test server needs: loopback only, its socket in DIR, room for
	# many connections (each store handle holds several).
	cat >>"$data/postgresql.conf" <<EOF

# pgtmp.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 300
shared_buffers = 32MB
fsync = on
synchronous_commit = on
log_min_messages = warning
log_checkpoints = off
log_line_prefix = '%m [%p] '
EOF
	local tries port
	for tries in 1 2 3 4 5 6 7 8 9 10; do
		port=$((20000 + RANDOM % 40000))
		port_in_use "$port" && continue
		if as_owner "$bindir/pg_ctl" -D "$data" -o "-p $port" -l "$dir/server.log" -w -t 60 \
			start >/dev/null 2>&1; then
			echo "$port" >"$dir/port"
			# The port, for restarts (pg_ctl restart reuses -o too; this is
			# belt and braces).
			echo "port = $port" >>"$data/postgresql.conf"
			break
		fi
		grep -q "could not bind\|Address already in use" "$dir/server.log" 2>/dev/null ||
			die "the server did not start; see $dir/server.log: $(tail -n 3 "$dir/server.log")"
	done
	[ -f "$dir/port" ] || die "found no free port for the server"
	if [ "$db" != postgres ]; then
		as_owner "$bindir/createdb" -h "$dir" -p "$port" -U "$superuser" "$db" ||
			die "createdb $db failed"
	fi
	url
}

stop() {
	[ -e "$data/postmaster.pid" ] || return 0
	as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
}

restart() {
	[ -e "$data/PG_VERSION" ] || die "no cluster in $dir; use start"
	as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 -l "$dir/server.log" restart \
		>/dev/null || die "restart failed; see $dir/server.log"
}

case $cmd in
start) start ;;
stop) stop ;;
restart) restart ;;
url) url ;;
*) usage ;;
esac
