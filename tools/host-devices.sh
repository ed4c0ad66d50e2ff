#!/bin/bash
# nova-usb-manage host-devices [ARGS...]
#
# With "--recording FILE" first, the devices come from a umockdev recording
# (real libudev, recorded sysfs) instead of this host, e.g.
#   tools/host-devices.sh --recording tests/fixtures/usb/fido2.umockdev \
#       --config-file etc/nova/nova-usb-demo.conf --format json
set -euo pipefail

if [ "${1:-}" = --recording ]; then
    recording=$2
    shift 2
    exec umockdev-run -d "$recording" -- nova-usb-manage host-devices "$@"
fi
exec nova-usb-manage host-devices "$@"
