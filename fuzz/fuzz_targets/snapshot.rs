//! Snapshot restore: any text read as a snapshot, resumed and abandoned.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| certsmith_fuzz::flow::restore_snapshot(data));
