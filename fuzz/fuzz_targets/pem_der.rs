//! The engine's PEM and DER readers (certificates, chains, keys, base64url).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| certsmith_fuzz::readers::pem_der(data));
