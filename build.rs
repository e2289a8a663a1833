//! Passes the link arguments in `linker/` to the binary (not to the library or its tests):
//! no C runtime, no libc, static, no program interpreter.
fn main() {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    // The whole directory: a file that does not exist (no per-arch arguments) would otherwise
    // mark the build as always stale.
    println!("cargo:rerun-if-changed=linker");
    for file in ["linker/common.args".to_string(), format!("linker/{arch}.args")] {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for arg in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            println!("cargo:rustc-link-arg-bins={arg}");
        }
    }
}
