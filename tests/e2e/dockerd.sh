#!/usr/bin/env bash
# dockerd.sh DIR: a private Docker daemon for tests/e2e_docker.rs, alive for as long as this
# script's stdin stays open.
#
# dockerd runs in a mount namespace of its own with private propagation, so its overlay,
# netns and volume mounts never reach the host's mount table, with everything under DIR:
# --data-root DIR/data, --exec-root DIR/run (its containerd listens on
# DIR/run/containerd/containerd.sock), --pidfile DIR/dockerd.pid, the API on DIR/docker.sock,
# its log in DIR/dockerd.log. No iptables, no forwarding, no bridge: containers get no network.
# Once the API answers, prints "ready PID" (dockerd's PID, whose mount namespace is where
# containers see the host's files) and waits. When stdin ends (the test process closed it, or
# died) it removes every container and stops dockerd: SIGTERM, then SIGKILL after 30 s.
# dockerd stops the containerd it started. The caller runs this script in cgroups of its own
# (tests/e2e/in-cgroup) and kills what is left there (containerd shims) afterwards.
set -euo pipefail
dir=${1:?usage: dockerd.sh DIR}
mkdir -p "$dir/data" "$dir/run" "$dir/client"
export DOCKER_HOST=unix://$dir/docker.sock DOCKER_CONFIG=$dir/client
docker=docker
[[ -x /usr/bin/docker ]] && docker=/usr/bin/docker

unshare --mount --propagation private -- dockerd \
    --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
    --data-root "$dir/data" --exec-root "$dir/run" --pidfile "$dir/dockerd.pid" \
    -H "$DOCKER_HOST" >"$dir/dockerd.log" 2>&1 &
pid=$!

stop() {
    if kill -0 "$pid" 2>/dev/null; then
        ids=$(timeout 20 "$docker" ps -aq 2>/dev/null || true)
        if [[ -n $ids ]]; then
            # shellcheck disable=SC2086 # one id per word
            timeout -k 5 60 "$docker" rm -f -v $ids >/dev/null 2>&1 || true
        fi
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
trap stop EXIT

deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
        tail -n 30 "$dir/dockerd.log" >&2
        echo "dockerd.sh: dockerd ended before its API answered (log: $dir/dockerd.log)" >&2
        exit 1
    fi
    if timeout 10 "$docker" version >/dev/null 2>&1; then
        echo "ready $pid"
        # Until the test process closes our stdin, whatever it writes.
        cat >/dev/null || true
        exit 0
    fi
    sleep 0.1
done
tail -n 30 "$dir/dockerd.log" >&2
echo "dockerd.sh: dockerd's API did not answer within 60 s (log: $dir/dockerd.log)" >&2
exit 1
