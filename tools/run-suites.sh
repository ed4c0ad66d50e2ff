#!/bin/bash
# Run every test suite in the current virtualenv, then print one summary
# line "N passed, N failed, N skipped". Exits non-zero if any suite failed.
#
# Suites: style (flake8), unit (with the opportunistic database tests on a
# real MariaDB that this script starts and stops), umockdev (real libudev on
# recorded devices, under umockdev-wrapper), functional (Nova's own services
# in one process with the nova-usb driver, on recorded devices),
# nova-libvirt (Nova's own libvirt functional tests with the nova-usb
# driver) and integration (real libvirtd + QEMU, one test process since it
# owns the daemon it starts) and sandbox (nova-usb-sandbox --demo-devices as a
# subprocess, driven with the real openstack CLI, then stopped by SIGINT)
# and e2e (a nested test host with emulated USB devices: real passthrough
# through nova-usb's driver; then the same host is the USB node of the
# multi-process, two-node cloud, driven with the openstack CLI). Before
# e2e, load:
# the sandbox with its databases on this script's MariaDB, 50 concurrent
# attaches of one device over HTTP, 20 rounds. Then dashboard: the Horizon
# plugin's unit tests and its browser scenarios (headless Chromium).
set -uo pipefail

cd "$(dirname "$0")/.."
export OS_NOVA_DISABLE_EVENTLET_PATCHING=1

passed=0 failed=0 skipped=0 status=0
log=$(mktemp)

# Run one suite, show its output, and add up stestr's totals; a suite that
# ends without totals (it could not even load its tests) counts as failed.
suite() {
    local name=$1 began=$SECONDS
    shift
    echo "=== $name"
    if ! "$@" 2>&1 | tee "$log"; then
        echo "=== $name FAILED"
        status=1
    fi
    echo "=== $name took $((SECONDS - began)) s"
    if [ "$name" = e2e ] || [ "$name" = dashboard ]; then
        # Their own last lines: "e2e: N passed, N failed" (and "cloud: N
        # passed, N failed" after it), "dashboard: N passed, N failed"; a
        # line missing counts as a failure.
        local runner
        for runner in $( [ "$name" = e2e ] && echo e2e cloud || echo "$name")
        do
            if grep -Eq "^$runner: [0-9]+ passed" "$log"; then
                passed=$((passed + $(awk "/^$runner: [0-9]+ passed/ \
                    {print \$2}" "$log")))
                failed=$((failed + $(awk "/^$runner: [0-9]+ passed/ \
                    {print \$4}" "$log")))
            else
                failed=$((failed + 1))
            fi
        done
    elif grep -q '^ - Passed:' "$log"; then
        passed=$((passed + $(awk '/^ - Passed:/ {print $3}' "$log")))
        failed=$((failed + $(awk '/^ - Failed:/ {print $3}' "$log")))
        skipped=$((skipped + $(awk '/^ - Skipped:/ {print $3}' "$log")))
    elif [ "$name" != pep8 ] && [ "$name" != docs ]; then
        failed=$((failed + 1))
    fi
}

# The database tests fail instead of skipping when MySQL is unreachable.
export NOVA_USB_REQUIRE_MYSQL=1
tools/mariadb.sh start
# The nested test host's base image (Debian packages and a virtualenv of
# wheels: downloads and disk, mostly) is built while the first suites run;
# e2e waits for it, and builds it itself if this failed.
python -m tests.e2e.image > .tox/e2e-base.out 2>&1 &
base_pid=$!
trap 'kill "$base_pid" 2>/dev/null; tools/mariadb.sh stop; rm -f "$log"' \
    EXIT

suite pep8 flake8
suite docs sphinx-build -W -q -b html doc/source doc/build/html
suite unit stestr --test-path ./tests/unit run
suite umockdev umockdev-wrapper stestr --test-path ./tests/umockdev run
suite functional umockdev-wrapper stestr --test-path ./tests/functional run
# The five modules the time budget keeps in every run (test_vtpm is most
# of it); "tox -e nova-libvirt" runs all ten.
suite nova-libvirt stestr --test-path ./tests/nova_libvirt run \
    'tests\.nova_libvirt\.(test_vtpm|test_uefi|test_rescue_deleted_base|test_evacuate|test_live_migration)\.'
suite integration stestr --test-path ./tests/integration run --concurrency 1
suite sandbox stestr --test-path ./tests/sandbox run --concurrency 1
suite load stestr --test-path ./tests/load run --concurrency 1
# nova-usb's Horizon plugin: its views and forms, then headless Chromium on
# nova-usb-sandbox --dashboard --demo-devices (about 3 to 4 minutes).
suite dashboard-unit stestr --test-path ./tests/dashboard/unit --top-dir ./ \
    run
suite dashboard python -m tests.dashboard.run
# Last and alone: it boots a nested test host under TCG on both cores; the
# host runs the e2e suite, then it is the USB node of the multi-process
# cloud (tests/cloud) on this script's MariaDB.
wait "$base_pid"
cat .tox/e2e-base.out
suite e2e python -m tests.e2e.run --cloud

echo
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
