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
    }
    println!("cargo:rerun-if-changed=build.rs");
}
