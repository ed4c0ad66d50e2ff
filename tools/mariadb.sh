#!/bin/bash
# Start or stop the MariaDB server that the opportunistic database tests use,
# with OpenStack CI's conventional account (openstack_citest).
#
#   tools/mariadb.sh start   # starts mariadbd unless one already answers
#   tools/mariadb.sh stop    # stops the mariadbd this script started, by pid
#   tools/mariadb.sh run COMMAND [ARG...]
#                            # COMMAND with NOVA_USB_REQUIRE_MYSQL=1 (the
#                            # database tests fail instead of skipping),
#                            # with a MariaDB that answers: the one running
#                            # already (left running, as tools/run-suites.sh
#                            # starts it for every suite), or one started for
#                            # COMMAND and stopped when it ends; exits with
#                            # COMMAND's status (tox -e py3 runs the unit
#                            # tests so)
#
# Needs root (as a test machine's CI does); without systemd.
set -euo pipefail

pidfile=/run/mysqld/nova-usb-tests.pid

answers() {
    mariadb -e 'select 1' >/dev/null 2>&1
}

start() {
    if ! answers; then
        mkdir -p /run/mysqld
        chown mysql:mysql /run/mysqld
        start-stop-daemon --start --background --make-pidfile \
            --pidfile "$pidfile" --exec /usr/sbin/mariadbd -- --user=mysql
        for _ in $(seq 60); do
            answers && break
            sleep 0.5
        done
        answers || { echo "mariadbd did not answer within 30 s" >&2; exit 1; }
        echo "MariaDB started (pid $(cat "$pidfile"))"
    fi
    mariadb <<'SQL'
CREATE USER IF NOT EXISTS 'openstack_citest'@'localhost'
    IDENTIFIED BY 'openstack_citest';
GRANT ALL PRIVILEGES ON *.* TO 'openstack_citest'@'localhost'
    WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
}

stop() {
    [ -f "$pidfile" ] || exit 0
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
    fi
    rm -f "$pidfile"
    echo "MariaDB stopped (pid $pid)"
}

run() {
    local started=0 status=0
    answers || started=1
    start
    if [ "$started" = 1 ]; then
        # A subshell: stop's "exit 0" must not end this script.
        trap '( stop )' EXIT
        trap 'exit 130' INT TERM
    fi
    NOVA_USB_REQUIRE_MYSQL=1 "$@" || status=$?
    exit "$status"
}

case "${1:-}" in
    start|stop) "$1" ;;
    run) shift; run "$@" ;;
    *) echo "usage: $0 start|stop|run COMMAND [ARG...]" >&2; exit 2 ;;
esac
