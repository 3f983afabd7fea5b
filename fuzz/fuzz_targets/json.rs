//! The engine's JSON reader, with serde_json as its oracle.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| certsmith_fuzz::readers::json(data));
