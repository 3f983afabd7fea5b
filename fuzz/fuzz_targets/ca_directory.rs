//! The engine's handler of the CA's `dir` answers, given any answer in a real run.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| certsmith_fuzz::flow::answer_first("dir", data));
