#!/usr/bin/env bash
# rootfs.sh DIR [PACKAGE...]: the end-to-end tier's guest, a Debian bookworm with systemd,
# made by
#   debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus[,PACKAGE...] bookworm
# (SUITE=trixie in the environment: a Debian 13, whose systemd 257 reports its shutdown on
# the notify socket)
# once and cached: DIR is only ever a complete rootfs. debootstrap fills DIR.tmp, a stamp
# holding the recipe is written last, then DIR.tmp is renamed to DIR; a DIR without the stamp
# or with another recipe is rebuilt. Extra packages make a variant in a DIR of its own (for
# instance target/e2e/rootfs-resolved with systemd-resolved). Nothing is changed after
# debootstrap: no unit is masked. The mirror is apt's own (E2E_DEBIAN_MIRROR overrides it).
# Runs as root; serialised by DIR.lock so that concurrent callers build it once.
set -euo pipefail
dir=${1:?usage: rootfs.sh DIR [PACKAGE...]}
dir=$(realpath -m "$dir")
shift
include=systemd,systemd-sysv,dbus
for pkg in "$@"; do
    include+=",$pkg"
done
suite=${SUITE:-bookworm}
recipe="debootstrap --variant=minbase --include=$include $suite"
stamp=.nestinit-e2e-rootfs

complete() { [[ -f $dir/$stamp && $(cat "$dir/$stamp") == "$recipe" ]]; }

mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
complete && exit 0

# apt's configured Debian mirror (deb822 sources first, then one-line ones).
mirror=${E2E_DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
    mirror=$(awk '/^URIs:/ { uri = $2 } /^Suites:/ && / bookworm( |$)/ && uri != "" { print uri; exit }' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
fi
if [[ -z $mirror ]]; then
    mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

echo "rootfs.sh: building $dir from $mirror (about a minute, 240 MB)" >&2
rm -rf "$dir" "$dir.tmp"
# The default rootfs logs to debootstrap.log beside it, a variant to debootstrap-NAME.log.
log=$(dirname "$dir")/debootstrap.log
if (($#)) || [[ $suite != bookworm ]]; then
    log=$(dirname "$dir")/debootstrap-$(basename "$dir").log
fi
if ! debootstrap --variant=minbase "--include=$include" "$suite" "$dir.tmp" \
    "$mirror" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "rootfs.sh: debootstrap failed (full log: $log)" >&2
    exit 1
fi
echo "$recipe" >"$dir.tmp/$stamp"
sync -f "$dir.tmp/$stamp"
mv "$dir.tmp" "$dir"
