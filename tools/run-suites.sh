#!/bin/bash
# Run every test suite in the current virtualenv, then print each suite's
# time, the total and one summary line "N passed, N failed, N skipped".
# Exits non-zero if any suite failed. When the whole run took longer than
# the budget of doc/source/contributor/testing.rst (45 minutes on a quiet
# two-core machine), the last line says so.
#
# Suites: style (flake8), client-install (python-nova-usbclient with
# python-openstackclient, pip-installed into an empty virtualenv as a user
# installs them: nothing of Nova comes along, and the openstack and nova
# commands have nova-usb's; tools/check-client-install.sh), unit (with the
# opportunistic database tests on a real MariaDB that this script starts
# and stops), umockdev (real libudev on recorded devices, under
# umockdev-wrapper), functional (Nova's own services in one process with
# the nova-usb driver, on recorded devices), nova-libvirt (Nova's own
# libvirt functional tests with the nova-usb driver), integration (real
# libvirtd + QEMU), sandbox (nova-usb-sandbox as a subprocess, driven with
# the real openstack CLI, then stopped by SIGINT), load (the sandbox with
# its databases on this script's MariaDB, 50 concurrent attaches of one
# device over HTTP, 20 rounds), dashboard (the Horizon plugin's unit tests
# and its browser scenarios in headless Chromium) and e2e (a nested test
# host with emulated USB devices: real passthrough through nova-usb's
# driver; then the same host is the USB node of the multi-process,
# two-node cloud, driven with the openstack CLI).
#
# The suites run in two lanes side by side, since no suite keeps both
# cores busy all along (the testing guide has the profile):
#   libvirtd lane: integration, sandbox, then e2e: each of them uses this
#       machine's libvirtd and starts and stops it when none runs, so they
#       run one at a time. The nested host's base image is built meanwhile.
#   simulated lane: the rest; their compute hosts are fakelibvirt.
# A suite's output is printed whole when it ends.
set -uo pipefail

cd "$(dirname "$0")/.."
export OS_NOVA_DISABLE_EVENTLET_PATCHING=1

BUDGET_SECONDS=$((45 * 60))
# Every suite, in the order of the report.
SUITES="pep8 docs client-install unit umockdev functional nova-libvirt load
dashboard-unit dashboard integration sandbox e2e"
# tools/run-tests.sh sets the run's start (before apt and the virtualenv).
run_began=${NOVA_USB_RUN_STARTED:-$(date +%s)}
# NAME.out: a suite's output; NAME.status: "EXIT SECONDS STARTED", the last
# in seconds since the run began.
results=.tox/suites
rm -rf "$results"
mkdir -p "$results"

# Run one suite; print its output and time when it ends (one lane at a
# time: the lock).
suite() {
    local name=$1 began seconds status=0
    shift
    began=$(date +%s)
    "$@" >"$results/$name.out" 2>&1 </dev/null || status=$?
    seconds=$(($(date +%s) - began))
    echo "$status $seconds $((began - run_began))" >"$results/$name.status"
    (
        flock 9
        echo "=== $name"
        cat "$results/$name.out"
        [ "$status" = 0 ] || echo "=== $name FAILED"
        echo "=== $name took $seconds s"
    ) 9>"$results/.print-lock"
}

# stestr's totals, or the "RUNNER: N passed, N failed" lines of the
# runners that print their own; a suite without either (it could not even
# load its tests) counts as failed.
passed=0 failed=0 skipped=0 status=0
tally() {
    local name=$1 out=$results/$1.out runner exit_status seconds started
    if [ ! -f "$results/$name.status" ]; then
        printf '%-15s did not run\n' "$name"
        failed=$((failed + 1)) status=1
        return
    fi
    read -r exit_status seconds started <"$results/$name.status"
    [ "$exit_status" = 0 ] || status=1
    printf '%-15s %5d s  (from +%d s)%s\n' "$name" "$seconds" "$started" \
        "$([ "$exit_status" = 0 ] || echo '  FAILED')"
    local runners=
    case $name in
        e2e) runners='e2e cloud' ;;
        dashboard|client-install) runners=$name ;;
    esac
    if [ -n "$runners" ]; then
        for runner in $runners; do
            if grep -Eq "^$runner: [0-9]+ passed" "$out"; then
                passed=$((passed + $(awk "/^$runner: [0-9]+ passed/ \
                    {print \$2}" "$out")))
                failed=$((failed + $(awk "/^$runner: [0-9]+ passed/ \
                    {print \$4}" "$out")))
            else
                failed=$((failed + 1))
            fi
        done
    elif grep -q '^ - Passed:' "$out"; then
        passed=$((passed + $(awk '/^ - Passed:/ {print $3}' "$out")))
        failed=$((failed + $(awk '/^ - Failed:/ {print $3}' "$out")))
        skipped=$((skipped + $(awk '/^ - Skipped:/ {print $3}' "$out")))
    elif [ "$name" != pep8 ] && [ "$name" != docs ]; then
        failed=$((failed + 1))
    fi
}

libvirtd_lane() {
    # The nested test host's base image (Debian packages and a virtualenv
    # of wheels: downloads and disk, mostly) is built while the first
    # suites run; e2e builds it itself if this failed.
    python -m tests.e2e.image >.tox/e2e-base.out 2>&1 </dev/null &
    local base_pid=$!
    suite integration stestr --test-path ./tests/integration run \
        --concurrency 1
    suite sandbox stestr --test-path ./tests/sandbox run --concurrency 1
    wait "$base_pid"
    # It boots the nested test host under TCG; the host runs the e2e suite,
    # then it is the USB node of the multi-process cloud (tests/cloud) on
    # this script's MariaDB.
    suite e2e sh -c 'cat .tox/e2e-base.out; exec python -m tests.e2e.run --cloud'
}

simulated_lane() {
    suite pep8 flake8
    suite docs sphinx-build -W -q -b html doc/source doc/build/html
    suite client-install tools/check-client-install.sh
    suite unit stestr --test-path ./tests/unit run
    suite umockdev umockdev-wrapper stestr --test-path ./tests/umockdev run
    suite functional umockdev-wrapper stestr --test-path ./tests/functional \
        run
    # The five modules the time budget keeps in every run (test_vtpm is
    # most of it), and the six tests of test_pci_in_placement whose
    # nova-compute fails to start on a [pci] device_spec Nova rejects
    # (nova-usb must have started nothing then); "tox -e nova-libvirt"
    # runs all eleven modules.
    suite nova-libvirt stestr --test-path ./tests/nova_libvirt run \
        'tests\.nova_libvirt\.(test_vtpm|test_uefi|test_rescue_deleted_base|test_evacuate|test_live_migration)\.' \
        'tests\.nova_libvirt\.test_pci_in_placement\..*(rejected|config_change_stop|cannot_be_disable)'
    suite load stestr --test-path ./tests/load run --concurrency 1
    # nova-usb's Horizon plugin: its views and forms, then headless
    # Chromium on nova-usb-sandbox --dashboard --demo-devices.
    suite dashboard-unit stestr --test-path ./tests/dashboard/unit \
        --top-dir ./ run
    suite dashboard python -m tests.dashboard.run
}

# The database tests fail instead of skipping when MySQL is unreachable.
export NOVA_USB_REQUIRE_MYSQL=1
tools/mariadb.sh start
trap 'kill $(jobs -p) 2>/dev/null; tools/mariadb.sh stop' EXIT

# How busy the machine was: the load average every 30 s, and the CPU
# time of all its cores from /proc/stat.
cpu_times() {
    awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat
}
read -r busy_before idle_before < <(cpu_times)
(while sleep 30; do cut -d' ' -f1 /proc/loadavg; done) >"$results/loadavg" &
sampler=$!

libvirtd_lane &
libvirtd_lane_pid=$!
simulated_lane &
wait "$libvirtd_lane_pid" $!
kill "$sampler"
read -r busy_after idle_after < <(cpu_times)

echo
echo "=== seconds per suite"
for name in $SUITES; do
    tally "$name"
done
total=$(($(date +%s) - run_began))
printf '%-15s %5d s  (%d min %02d s, set-up included)\n' total "$total" \
    $((total / 60)) $((total % 60))
busy=$((busy_after - busy_before)) idle=$((idle_after - idle_before))
echo "CPU busy $((100 * busy / (busy + idle)))% of $(nproc) cores;" \
    "load average (1 min, every 30 s):" \
    "$(awk '{s += $1; if ($1 > m) m = $1} END {
        if (NR) printf "mean %.1f, max %.1f", s / NR, m; else printf "none"}' "$results/loadavg")"
echo
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$total" -gt "$BUDGET_SECONDS" ]; then
    echo "OVER BUDGET: the run took $((total / 60)) min $((total % 60)) s," \
        "more than the $((BUDGET_SECONDS / 60)) minutes the testing guide" \
        "allows"
fi
exit $status
