#!/bin/bash
# python-nova-usbclient as a user installs it: into an empty virtualenv
# (no system site packages), from client/ and with python-openstackclient
# (which provides the "openstack" command), pinned by constraints.txt. Then
# checks that nothing of Nova or of a compute host came with it, that
# every package it pulled in is pinned, that its modules load nothing of
# nova-usb, and that "openstack" and "nova" have nova-usb's commands with
# their options. Also that the dashboard distribution (dashboard/) neither
# requires nor imports nova-usb or Nova (statically: a full Horizon install
# costs too much time here).
#
# Last line: "client-install: N passed, N failed"; exits non-zero if any
# check failed. The virtualenv is .tox/client-install, made anew each run.
# (pipefail: a "grep -q" that ends before its input is written makes the
# writer's SIGPIPE the pipeline's status; lists are given as here-strings.)
set -uo pipefail

cd "$(dirname "$0")/.."
venv=.tox/client-install
# Never on a client machine: Nova, nova-usb itself, what a compute host
# needs (libvirt, udev) and Nova's RPC and object layers.
FORBIDDEN_DISTRIBUTIONS='nova nova-usb libvirt-python pyudev oslo.messaging
oslo.versionedobjects'
FORBIDDEN_MODULES='nova nova_usb libvirt pyudev oslo_messaging
oslo_versionedobjects'

passed=0 failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }
finish() {
    echo "client-install: $passed passed, $failed failed"
    exit $((failed > 0))
}

# Lowercase, with runs of "-", "_" and "." as "-" (PEP 503 names).
normalize() { tr 'A-Z' 'a-z' | sed -E 's/[-_.]+/-/g'; }

began=$(date +%s)
rm -rf "$venv"
installed_ok=false
python3 -m venv "$venv" &&
    "$venv/bin/pip" install -q -c constraints.txt ./client \
        python-openstackclient &&
    installed_ok=true
# setuptools builds in the source tree: leave no copy of the package there.
rm -rf client/build
if $installed_ok; then
    pass "pip install ./client python-openstackclient into an empty" \
        "virtualenv ($(($(date +%s) - began)) s)"
else
    fail "pip install ./client python-openstackclient"
    finish
fi
"$venv/bin/pip" list --disable-pip-version-check

installed=$("$venv/bin/pip" list --format=freeze --disable-pip-version-check |
    cut -d= -f1 | normalize)
leaked=
for name in $FORBIDDEN_DISTRIBUTIONS; do
    name=$(echo "$name" | normalize)
    if grep -qx "$name" <<<"$installed"; then
        leaked="$leaked $name"
    fi
done
if [ -z "$leaked" ]; then
    pass "none of: $(echo $FORBIDDEN_DISTRIBUTIONS) installed"
else
    fail "installed with the client:$leaked"
fi

pinned=$(grep -Eo '^[A-Za-z0-9][A-Za-z0-9._-]*==' constraints.txt |
    sed 's/==$//' | normalize)
unpinned=
for name in $installed; do
    case $name in
        pip|setuptools|wheel|python-nova-usbclient) continue ;;
    esac
    grep -qx "$name" <<<"$pinned" || unpinned="$unpinned $name"
done
if [ -z "$unpinned" ]; then
    pass "every installed package is pinned in constraints.txt"
else
    fail "not pinned in constraints.txt:$unpinned"
fi

# Every module of the client package loaded, then what came with them.
loaded=$(cd / && "$OLDPWD/$venv/bin/python" - $FORBIDDEN_MODULES <<'EOF'
import pkgutil
import sys

import nova_usbclient

for info in pkgutil.walk_packages(nova_usbclient.__path__,
                                  'nova_usbclient.'):
    __import__(info.name)
forbidden = sys.argv[1:]
print(' '.join(sorted({name.split('.')[0] for name in sys.modules
                       if name.split('.')[0] in forbidden})) or 'none')
EOF
)
if [ "$loaded" = none ]; then
    pass "every nova_usbclient module loads, and none of: $(echo \
        $FORBIDDEN_MODULES)"
else
    fail "nova_usbclient loads" "${loaded:-(it failed to load)}"
fi

# A command's help: it exits 0 and names every expected word.
help_names() {
    local what=$1 out status=0 word missing=
    shift 1
    local -a words=()
    while [ "$1" != -- ]; do
        words+=("$1")
        shift
    done
    shift
    out=$("$venv/bin/$@" 2>&1) || status=$?
    for word in "${words[@]}"; do
        grep -q -- "$word" <<<"$out" || missing="$missing $word"
    done
    if [ "$status" = 0 ] && [ -z "$missing" ]; then
        pass "$what"
    else
        fail "$what" "exit $status${missing:+, missing:$missing}"
        echo "$out" | tail -20
    fi
}
help_names 'openstack server usb add --help' \
    '<server>' '<device>' --controller-model -- \
    openstack server usb add --help
help_names 'openstack server usb controller add --help' \
    '<model>' --ports -- \
    openstack server usb controller add --help
help_names 'openstack usb device list --help' --host -- \
    openstack usb device list --help
help_names 'nova help usb-attach' '<server>' '<device>' --controller-model \
    -- nova help usb-attach
help_names 'nova help usb-controller-add' '<model>' --ports -- \
    nova help usb-controller-add

# The dashboard: what it declares, and what its modules import.
bad=$(grep -Eiv '^\s*(#|$)' dashboard/requirements.txt |
    sed -E 's/[<>=!~;[ #].*//' | normalize |
    grep -Ex 'nova|nova-usb|libvirt-python|pyudev|oslo-messaging|oslo-versionedobjects')
if [ -z "$bad" ] && ! grep -Eq '^\s*(install_requires|requires_dist)' \
        dashboard/setup.cfg; then
    pass "dashboard/requirements.txt requires none of: nova-usb, nova," \
        "libvirt-python, pyudev"
else
    fail "dashboard/requirements.txt requires" "$bad"
fi
imports=$(python3 - dashboard/nova_usb_dashboard $FORBIDDEN_MODULES <<'EOF'
import ast
import pathlib
import sys

root, forbidden = pathlib.Path(sys.argv[1]), set(sys.argv[2:])
found = []
for path in sorted(root.rglob('*.py')):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module]
        else:
            continue
        found += ['%s:%d %s' % (path, node.lineno, name) for name in names
                  if name.split('.')[0] in forbidden]
print('\n'.join(found))
EOF
)
if [ -z "$imports" ]; then
    pass "nova_usb_dashboard imports none of: $(echo $FORBIDDEN_MODULES)"
else
    fail "nova_usb_dashboard imports" "$imports"
fi

echo "took $(($(date +%s) - began)) s"
finish
