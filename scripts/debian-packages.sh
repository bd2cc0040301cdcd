#!/usr/bin/env bash
# Makes sure Debian packages are installed: installs the missing ones when
# run as root on a machine with apt-get (as CI and containers are), otherwise
# prints one line naming them and the command to install them, and exits 1.
#   scripts/debian-packages.sh "what needs them" package...
set -euo pipefail
purpose=$1
shift
missing=()
for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} for $purpose" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0
fi
echo "missing Debian packages for $purpose: sudo apt-get install ${missing[*]}" >&2
exit 1
