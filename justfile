# Mirrors the README's commands; `just` is optional, the scripts run without it.

# Build nestinit and a busybox guest, boot it from a volume in a throwaway container.
demo:
    bash examples/demo

# The full test suite (root: namespaces and mounts, each test in its own mount namespace).
test:
    bash tests/run

# Side-by-side benchmarks against tini, catatonit and dumb-init.
bench:
    cargo bench --bench compare

# Static build for another architecture: just cross aarch64
cross arch="aarch64":
    bash linker/cross {{arch}}

# Coverage-guided fuzzing of the pure core (nightly, cargo-fuzz): every target for RUNS executions.
fuzz runs="10000000":
    bash fuzz/run full {{runs}}
