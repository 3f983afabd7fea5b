//! The Spin plugin's request handler, given any request.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| certsmith_fuzz::plugin::handle_request(data));
