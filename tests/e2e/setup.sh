#!/usr/bin/env bash
# Installs what the end-to-end tiers (tests/e2e_systemd.rs, tests/e2e_docker.rs) need beside
# tests/setup's packages, on Debian 12 as root: debootstrap for the guest rootfs, podman with
# runc for the podman and `podman kube play` tests, catatonit for the pod's infra (pause)
# image, docker.io (dockerd, the docker client, and with them containerd with its ctr) for the
# Docker and containerd tests. Idempotent: packages already present are not fetched again.
# Waits for a dpkg lock held by another apt-get. The tests start a private dockerd of their own:
# a policy-rc.d keeps the install from starting Debian's docker and containerd services.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in debootstrap podman runc catatonit util-linux bsdutils docker.io containerd; do
    have "$pkg" || need+=("$pkg")
done
if ((${#need[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# tests/e2e/setup.sh: no service starts while it installs\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
