#!/usr/bin/env bash
# measure.sh [BOOTS]: boot times of the real systemd guest (tests/e2e/rootfs.sh) in the
# project's own test container (tests/helpers/ctr.c, as tests/e2e_systemd.rs runs it:
# --cgroupns, --devpts, a pty as /dev/console, a cgroup of its own), under nestinit and under
# the C++ /init of the blog post nestinit grew from (see the README; BLOG_POST names a text
# copy of the post), booted alternately, BOOTS times each (default 10). For each boot:
#   launch -> running   from starting ctr to `systemctl is-system-running --wait` answering
#                       `running` (polled every 10 ms through nsenter + /init's exec; the
#                       C++ `/init CMD` also prints "setns to pid N", at its exit)
#   poweroff -> exit    from starting `systemctl poweroff` in the guest to ctr's exit
# and prints medians and ranges. The C++ listing is extracted and built (g++ -O2 -std=c++20
# -static) in a temp dir and never copied into the repository. Runs as root; installs g++
# and the e2e packages when missing; leaves nothing behind (cgroups, temp dir).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
boots=${1:-10}
post=${BLOG_POST:-}

bash tests/e2e/setup.sh
if ! command -v g++ >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends g++ >/dev/null
fi
cargo build --release --quiet
rootfs=$repo/target/e2e/rootfs
bash tests/e2e/rootfs.sh "$rootfs"

# The e2e tests' machine-wide lock: their host checks must not see our cgroups, nor our boots
# theirs.
exec 8>"${TMPDIR:-/tmp}/nestinit-e2e.lock"
flock -w 900 8

work=$(mktemp -d /tmp/nestinit-measure.XXXXXX)
cgroups=()
cleanup() {
    local c p
    for c in "${cgroups[@]}"; do
        for p in $(cat "$c/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    done
    sleep 0.2
    for c in "${cgroups[@]}"; do
        [[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# The C++ reference init: the listing after the line "init.cpp" in the blog post, up to the
# page's footer ("Last modified on ...").
[[ -n $post && -r $post ]] || { echo "measure.sh: set BLOG_POST to a text copy of the blog post" >&2; exit 1; }
awk '/^Last modified on/ { exit } found { print } /^init\.cpp$/ { found = 1 }' "$post" >"$work/init.cpp"
g++ -O2 -std=c++20 -static -Wno-write-strings -o "$work/cxx-init" "$work/init.cpp"
gcc -static -O2 -o "$work/ctr" tests/helpers/ctr.c
cp target/release/nestinit "$work/nestinit"

# A cgroup of our own below ours in every hierarchy, as the tests make: the guest's systemd
# creates its cgroups there, not at the top of the host's tree.
own_cgroup() { # HIERARCHY_SUPER_OPTIONS FSTYPE -> our path in it
    awk -F: -v opts="$1" -v type="$2" '
        BEGIN { n = split(opts, o, ","); for (i = 1; i <= n; i++) have[o[i]] = 1 }
        type == "cgroup2" && $2 == "" { print $3; exit }
        type == "cgroup" && $2 != "" {
            m = split($2, c, ","); ok = 1
            for (i = 1; i <= m; i++) if (!(c[i] in have)) ok = 0
            if (ok) { print $3; exit }
        }' /proc/self/cgroup
}
while read -r mnt fstype opts; do
    own=$(own_cgroup "$opts" "$fstype")
    dir=$mnt${own%/}/nestinit-e2e-$$-measure
    mkdir "$dir"
    cgroups+=("$dir")
    parent=$(dirname "$dir")
    if [[ -f $parent/cpuset.cpus ]]; then
        cat "$parent/cpuset.cpus" >"$dir/cpuset.cpus"
        cat "$parent/cpuset.mems" >"$dir/cpuset.mems"
    fi
done < <(awk '{ split($0, s, " - "); split(s[2], r, " "); split(s[1], l, " ") }
              r[1] == "cgroup" || r[1] == "cgroup2" { print l[5], r[1], r[3] }' /proc/self/mountinfo)
procs=()
for c in "${cgroups[@]}"; do procs+=("$c/cgroup.procs"); done

now() { date +%s%N; }

# in_guest PID ARGS...: /init ARGS in the container whose PID 1 is PID, as `docker exec` runs
# it (the container's cgroup, mount and PID namespaces); never fails.
in_guest() {
    local pid=$1
    shift
    timeout 60 tests/e2e/in-cgroup "${procs[@]}" -- nsenter -t "$pid" -m -p -- /init "$@" \
        2>/dev/null || true
}

# boot KIND: one boot and power-off; appends "RUNNING_NS POWEROFF_NS" to $work/KIND.times.
boot() {
    local kind=$1 init exec_word pidfile run ctl pid start t_running t0
    # The C++ /init runs `/init CMD` for any CMD not starting with '/' (and prints "setns
    # to pid N"); nestinit's is `/init exec CMD`.
    if [[ $kind == nestinit ]]; then init=$work/nestinit exec_word=exec; else init=$work/cxx-init exec_word=; fi
    run=$work/run.$kind
    rm -rf "$run" && mkdir -p "$run/root"
    pidfile=$run/pid
    # Both get container=docker, as the blog post's image sets it (nestinit would set it anyway).
    local line="exec tests/e2e/in-cgroup ${procs[*]} -- $work/ctr --init $init --scratch $run/root"
    line+=" --pidfile $pidfile --volume $rootfs --cgroupns --devpts --bind-file /dev/stdin:/dev/console"
    line+=" -- /sbin/init systemd.getty_auto=0 >$run/stdout 2>$run/stderr"
    start=$(now)
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ SHELL=/bin/sh container=docker \
        script -qefc "$line" /dev/null </dev/null >"$run/console" 2>&1 &
    ctl=$!
    while [[ ! -s $pidfile ]]; do
        kill -0 "$ctl" 2>/dev/null || { cat "$run/stderr" >&2; return 1; }
        sleep 0.002
    done
    pid=$(cat "$pidfile")
    until in_guest "$pid" $exec_word systemctl is-system-running --wait | grep -qx running; do
        kill -0 "$ctl" 2>/dev/null || { echo "$kind: ended before running" >&2; cat "$run/stderr" >&2; return 1; }
        (($(now) - start < 90000000000)) || { echo "$kind: not running after 90 s" >&2; return 1; }
        sleep 0.01
    done
    t_running=$(($(now) - start))
    t0=$(now)
    in_guest "$pid" $exec_word systemctl poweroff >/dev/null
    local code=0
    wait "$ctl" || code=$?
    ((code == 0)) || echo "$kind: the container ended with $code after poweroff" >&2
    echo "$t_running $(($(now) - t0))" >>"$work/$kind.times"
}

for ((i = 1; i <= boots; i++)); do
    boot nestinit
    boot cxx
done

# stats FILE COLUMN: "median [min–max]" in seconds.
stats() {
    awk -v col="$2" '{ print $col / 1e9 }' "$1" | sort -g | awk '
        { v[NR] = $1 }
        END {
            med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.3f s [%.3f–%.3f]", med, v[1], v[NR]
        }'
}
printf '%-26s %5s   %-28s %s\n' init boots "launch -> running" "poweroff -> exit"
for kind in nestinit cxx; do
    label=$kind
    [[ $kind == nestinit ]] && label="nestinit ($(stat -c %s target/release/nestinit) B)"
    [[ $kind == cxx ]] && label="C++ /init ($(stat -c %s "$work/cxx-init") B)"
    printf '%-26s %5s   %-28s %s\n' "$label" "$(wc -l <"$work/$kind.times")" \
        "$(stats "$work/$kind.times" 1)" "$(stats "$work/$kind.times" 2)"
done
