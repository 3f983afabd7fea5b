//! The engine's reading of problem documents, given as the answer to any request of a run.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| certsmith_fuzz::flow::answer_with_problem(data));
