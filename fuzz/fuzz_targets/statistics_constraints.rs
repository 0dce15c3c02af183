//! statistics.json and constraints.json: whatever parses must write back to JSON that parses
//! again to the same document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelmon_formats::{Constraints, Statistics};

fuzz_target!(|data: &[u8]| {
    if let Ok(statistics) = Statistics::from_json_slice(data, "statistics.json") {
        let json = statistics.to_json();
        let again = Statistics::from_json_slice(json.as_bytes(), "statistics.json (written)")
            .unwrap_or_else(|err| panic!("written statistics do not parse: {err}\n{json}"));
        assert_eq!(again.to_json(), json, "statistics change when written and read again");
    }
    if let Ok(constraints) = Constraints::from_json_slice(data, "constraints.json") {
        let json = constraints.to_json();
        let again = Constraints::from_json_slice(json.as_bytes(), "constraints.json (written)")
            .unwrap_or_else(|err| panic!("written constraints do not parse: {err}\n{json}"));
        assert_eq!(again.to_json(), json, "constraints change when written and read again");
    }
});
