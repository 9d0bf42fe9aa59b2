//! Link settings for the `ocbar` executable.

fn main() {
    // Bars run `ocbar status` many times a minute, so process start-up is most of what a query
    // costs. A position-independent executable makes the dynamic loader apply ~10 000 relative
    // relocations at every start and copy every page they touch (~35 pages of
    // .data.rel.ro); linked at a fixed address it applies none. Measured on the 2-core VM
    // (interleaved fork/exec loop, 1000 runs, `ocbar status --format tmux` against a running
    // daemon): 1.97x -> 1.76x the time of /bin/true, page faults 118 -> 82. The price is that
    // the executable's own image is not address-randomised (its libraries, heap and stack still
    // are).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=ocbar=-no-pie");
        static_unwinder();
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// Link the unwinder statically (GCC's `libgcc_eh.a`) instead of loading `libgcc_s.so.1` at
/// every start: one shared library fewer for the dynamic loader to open, map and relocate
/// (`ldd target/release/ocbar` then lists only libc). Rust's standard library asks for
/// `-lgcc_s` by name, and `-static-libgcc` does not override a library named explicitly; so a
/// linker script named `libgcc_s.so` that says `INPUT(-lgcc_eh)` is put first on the search
/// path. Only when the compiler has `libgcc_eh.a` (every GCC installation does); otherwise
/// nothing changes. Unwinding (a panicking task caught by tokio) works the same.
fn static_unwinder() {
    let Ok(out) = std::env::var("OUT_DIR") else {
        return;
    };
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let found = std::process::Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|p| std::path::PathBuf::from(p.trim()))
        .is_some_and(|p| p.is_absolute() && p.exists());
    if !found {
        return;
    }
    let dir = std::path::Path::new(&out).join("static-unwinder");
    if std::fs::create_dir_all(&dir).is_ok()
        && std::fs::write(dir.join("libgcc_s.so"), "INPUT(-lgcc_eh)\n").is_ok()
    {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
}
