#!/usr/bin/env python3
"""Edits the config.json that `runc spec` wrote into BUNDLE into the cgroup v2 tier's
container: nestinit as /init booting the guest on /data00, as Docker or podman would run it
on a cgroup v2 host with

    --cap-add SYS_ADMIN --cap-add SYS_BOOT --cgroupns=private --tmpfs /run --tmpfs /run/lock
    --tmpfs /tmp -v DATA:/data00 -t IMAGE /sbin/init systemd.getty_auto=0

- process: /init with the guest's command line, a terminal (runc's pty becomes the
  container's /dev/console, where systemd prints its status), Docker's default capabilities
  plus CAP_SYS_ADMIN and CAP_SYS_BOOT (`runc spec` gives only AUDIT_WRITE, KILL and
  NET_BIND_SERVICE), no no_new_privs (Docker's default), NESTINIT_STOP_TIMEOUT as given
  (software emulation is slow);
- mounts: runc's own (/proc, a tmpfs /dev with devpts, shm and mqueue, read-only /sys), cgroup2
  at /sys/fs/cgroup read-write in a private cgroup namespace (what podman gives a systemd
  container; read-only cgroups make systemd exit), tmpfs /run, /run/lock and /tmp, and DATA
  bound at /data00;
- linux: the cgroup namespace added to runc's list, cgroupsPath as given; runc's device
  rules, masked and read-only paths are kept.

Usage: bundle.py BUNDLE DATA CGROUPS_PATH STOP_TIMEOUT [GUEST_ARG...]
"""
import json
import os
import sys

DOCKER_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    bundle, data, cgroups_path, stop_timeout = sys.argv[1:5]
    guest = sys.argv[5:]
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        spec = json.load(f)

    proc = spec["process"]
    proc["terminal"] = True
    proc["args"] = ["/init"] + guest
    proc["env"] = [e for e in proc["env"] if not e.startswith("NESTINIT_")]
    proc["env"].append("NESTINIT_STOP_TIMEOUT=" + stop_timeout)
    proc["noNewPrivileges"] = False
    caps = DOCKER_CAPS + ["CAP_SYS_ADMIN", "CAP_SYS_BOOT"]
    for kind in ("bounding", "effective", "permitted"):
        proc["capabilities"][kind] = list(caps)
    # Docker gives no ambient or inheritable capabilities: a root process has them anyway.
    proc["capabilities"].pop("ambient", None)
    proc["capabilities"].pop("inheritable", None)

    mounts = [m for m in spec["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    mounts.append({
        "destination": "/sys/fs/cgroup",
        "type": "cgroup",
        "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "rw"],
    })
    for dest, opts in (
        ("/run", ["nosuid", "nodev", "mode=755"]),
        ("/run/lock", ["nosuid", "nodev", "noexec", "mode=1777"]),
        ("/tmp", ["nosuid", "nodev", "mode=1777"]),
    ):
        mounts.append({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts})
    mounts.append({
        "destination": "/data00",
        "type": "bind",
        "source": data,
        "options": ["rbind", "rw"],
    })
    spec["mounts"] = mounts

    linux = spec["linux"]
    types = [ns["type"] for ns in linux["namespaces"]]
    if "cgroup" not in types:
        linux["namespaces"].append({"type": "cgroup"})
    linux["cgroupsPath"] = cgroups_path

    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(spec, f, indent=2)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
