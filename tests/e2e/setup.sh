#!/usr/bin/env bash
# Installs what the end-to-end tier (tests/e2e_systemd.rs) needs beside tests/setup's packages,
# on Debian 12 as root: debootstrap for the guest rootfs, podman with runc for the podman and
# `podman kube play` tests, catatonit for the pod's infra (pause) image. Idempotent: packages
# already present are not fetched again. Waits for a dpkg lock held by another apt-get.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in debootstrap podman runc catatonit util-linux bsdutils; do
    have "$pkg" || need+=("$pkg")
done
if ((${#need[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
