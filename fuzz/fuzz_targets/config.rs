//! Any configuration text: accepted or refused with errors that each name a line of it,
//! never a panic.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use v6fwd::config::Config;

fuzz_target!(|text: &str| {
    if let Err(errors) = Config::parse(text, Path::new("fuzz.toml")) {
        let lines = text.lines().count().max(1);
        for e in errors.0 {
            assert!(e.line <= lines + 1, "{e}");
        }
    }
});
