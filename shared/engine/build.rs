//! Embeds the built-in rule pack (`rules/*.yaml`) into the library: each
//! file as written (`BUILTIN`: `rules test`, `rules list`) and, for the
//! functions' cold start, without its top-level `tests:` block (the test
//! cases are most of the pack's bytes) and already parsed from YAML, as
//! JSON (`BUILTIN_WITHOUT_TESTS`: serde_json reads it in a fraction of the
//! time a YAML parser takes).

use std::fmt::Write;
use std::path::Path;

/// The file without its top-level `tests:` block: from a line `tests:` at
/// column 0 to the next top-level key (a line starting with neither white
/// space, `-` nor `#`). `rules::tests` checks that every built-in file
/// gives the same rule either way.
fn without_tests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skipping = false;
    for line in text.split_inclusive('\n') {
        let top = line.chars().next().is_some_and(|c| !c.is_whitespace() && c != '-' && c != '#');
        if top {
            skipping = line.starts_with("tests:");
        }
        if !skipping {
            out.push_str(line);
        }
    }
    out
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    let stripped_dir = out_dir.join("rules-without-tests");
    std::fs::create_dir_all(&stripped_dir).expect("make the directory of stripped rules");
    let (mut full, mut stripped) = (String::from("&[\n"), String::from("&[\n"));
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let _ = writeln!(full, "    ({name:?}, include_str!({:?})),", f.display().to_string());
        let text = std::fs::read_to_string(f).expect("read a rule file");
        let dest = stripped_dir.join(&name).with_extension("json");
        let value: serde_json::Value = serde_saphyr::from_str(&without_tests(&text))
            .unwrap_or_else(|e| panic!("{}: not a YAML document: {e}", f.display()));
        std::fs::write(&dest, value.to_string()).expect("write a stripped rule file");
        let _ = writeln!(stripped, "    ({name:?}, include_str!({:?})),", dest.display().to_string());
    }
    full.push(']');
    stripped.push(']');
    std::fs::write(out_dir.join("builtin_rules.rs"), full).expect("write the embedded rule list");
    std::fs::write(out_dir.join("builtin_rules_without_tests.rs"), stripped).expect("write the embedded rule list");
}
