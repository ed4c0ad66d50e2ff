#!/bin/bash
# The one test command: installs everything the tests need on a Debian
# machine (system packages through apt, Python packages into a tox
# virtualenv pinned by constraints.txt), then runs every suite.
#
#   tools/run-tests.sh            # everything, as CI runs it
#   tools/run-tests.sh -e py3     # or any other tox environment
set -euo pipefail

cd "$(dirname "$0")/.."
# The run's start, for the total that tools/run-suites.sh prints.
export NOVA_USB_RUN_STARTED=${NOVA_USB_RUN_STARTED:-$(date +%s)}

tools/install-system-packages.sh

if [ ! -x .tox/bootstrap/bin/tox ]; then
    python3 -m venv .tox/bootstrap
    .tox/bootstrap/bin/pip install -q -c constraints.txt tox
fi

if [ $# -eq 0 ]; then
    set -- -e all
fi
exec .tox/bootstrap/bin/tox "$@"
