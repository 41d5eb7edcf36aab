//! Any line on the control socket, and any words on the command line: read as a
//! request or refused with a message, never a panic; a request read is one the client
//! side writes back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use v6fwd::control::{cli, server};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = server::parse_request(data) {
        let line = serde_json::json!({ "version": 1, "request": request }).to_string();
        assert_eq!(server::parse_request(line.as_bytes()), Ok(request));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        let _ = cli::route(&words);
        let _ = cli::neigh(&words);
        let _ = cli::addr(&words);
        let _ = cli::link(&words);
    }
});
