#!/bin/bash
# Install the Debian packages of bindep.txt's "test" profile.
#
# Runs apt-get update once per call; as root, or through sudo when it is
# there. Packages already installed are left as they are.
set -euo pipefail

cd "$(dirname "$0")/.."

packages=$(sed -n -E 's/^([a-z0-9][a-z0-9.+-]*) .*\[.*\btest\b.*\].*$/\1/p' \
    bindep.txt)

as_root=()
if [ "$(id -u)" != 0 ]; then
    as_root=(sudo)
fi

missing=()
for package in $packages; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null \
            | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "System packages: all of bindep.txt is installed."
    exit 0
fi

echo "System packages: installing ${missing[*]}"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq \
    "${missing[@]}"
