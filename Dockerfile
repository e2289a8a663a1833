# The nestinit image: FROM scratch, the static binary as /init and nothing else.
#   cargo build --release && docker build -t nestinit .
#   docker run -d -t --cap-add SYS_ADMIN --cap-add SYS_BOOT --tmpfs /run --tmpfs /run/lock \
#     --tmpfs /tmp -v ROOT:/data00 nestinit
# No VOLUME /sys/fs/cgroup: podman would mount an empty volume there.
FROM scratch
COPY target/release/nestinit /init
# SIGTERM starts a clean stop: nestinit turns it into SIGRTMIN+3 for systemd.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/init"]
