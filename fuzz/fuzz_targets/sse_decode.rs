#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocbar_fuzz::sse::run(data));
