//! The envelope decoder: arbitrary bytes as a gzip'd logs payload (as
//! Kinesis carries it), as the JSON inside one, as a base64 `awslogs.data`
//! text, as a file for `trailwatch replay` (plain and gzip'd), and, when
//! they are JSON, as a Lambda payload for `handler::open` (the functions'
//! streaming path) and `handler::decode`. Every event that decodes goes
//! through the built-in rules and the alert rendering.
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use trailwatch_engine::handler::{decode, detect, open};
use trailwatch_engine::envelope::{self, Decoded, EnvelopeError};
use trailwatch_engine::rules::{self, RuleSet, Workspace};

/// gzip with stored (uncompressed) blocks: valid gzip, cheap to make.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    e.write_all(bytes).expect("write to memory");
    e.finish().expect("finish in memory")
}

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::new(rules::load(None).expect("the built-in rules load")))
}

fn consume(decoded: Result<Decoded, EnvelopeError>) {
    let Ok(decoded) = decoded else { return };
    let mut ws = Workspace::default();
    let d = detect(rules(), &decoded.events, &mut ws);
    for a in &d.alerts() {
        let _ = (a.subject(), a.body(), a.attributes(), a.sns_message());
    }
}

fuzz_target!(|data: &[u8]| {
    consume(envelope::logs_gzip(data));
    consume(envelope::file("fuzz.json", data));
    // Small inputs are also wrapped in valid gzip so the fuzzer reaches the
    // JSON behind the inflater (it rarely forges a gzip trailer's CRC).
    if data.len() < 64 * 1024 {
        let gz = gzip(data);
        consume(envelope::logs_gzip(&gz));
        consume(envelope::file("fuzz.json.gz", &gz));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        consume(envelope::logs(text));
    }
    if let Ok(payload) = serde_json::from_slice::<Value>(data) {
        if let Ok((_, parts)) = open(payload.clone()) {
            let mut ws = Workspace::default();
            for (_, contents) in parts {
                let Ok(contents) = contents else { continue };
                for a in &contents.detect(rules(), &mut ws).alerts() {
                    let _ = (a.subject(), a.body(), a.attributes(), a.sns_message());
                }
            }
        }
        if let Ok((_, batches)) = decode(payload) {
            for b in batches {
                consume(b.decoded);
            }
        }
    }
});
