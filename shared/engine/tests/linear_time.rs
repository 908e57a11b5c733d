//! Matching work grows linearly with the input: counted, never timed.
//!
//! The matchers that run what users write report the work they do as
//! steps: [`trailwatch_engine::pattern::wildcard_steps`] for an event
//! pattern's `wildcard` operand (the engine's one `*` matcher,
//! `pattern/glob.rs`), and [`FilterPattern::match_steps`] for a CloudWatch
//! Logs filter pattern (globs, terms, selectors, space-delimited fields and
//! ellipses). A step is a unit of the documented worst-case work of the
//! primitive run: a byte compared, or for a substring search the bytes of
//! the text searched plus the needle's (memchr's `memmem` guarantee).
//!
//! Each case below is an input that makes a backtracking matcher take
//! polynomial or exponential time, at three sizes `n`, `2n`, `4n`; the
//! steps must
//!
//! * at most double, give or take 10%: `steps(2n) <= 2.2 × steps(n) + 64`;
//! * stay under `8 × (input + 1) × (pattern + 1)`: linear in the input,
//!   whatever the pattern within the 1024-character limits.
//!
//! `%regex%` filters run on the `regex` crate, which counts nothing: its
//! documentation guarantees "worst case O(m * n) time complexity, where m
//! is proportional to the size of the regex and n is proportional to the
//! size of the string being searched". What is counted for them is the
//! text handed to the crate (linear by construction); what is tested is
//! what bounds m: the dialect AWS allows (no groups, so none of the
//! textbook catastrophic expressions) and a refused compile past
//! [`MAX_REGEX_SIZE`].

use serde_json::json;
use trailwatch_engine::filter::{FilterError, FilterPattern, MAX_REGEX_SIZE};
use trailwatch_engine::pattern::{self, EventPattern, PatternSet};

/// Sizes each case is measured at: `n`, `2n`, `4n`.
const N: usize = 50_000;

/// Measure `steps` at `n`, `2n` and `4n`; `input(n)` gives the input's
/// length in bytes. Err with the figures if growth is not linear.
fn check_linear(
    pattern_len: usize,
    input_len: impl Fn(usize) -> usize,
    steps: impl Fn(usize) -> u64,
) -> Result<Vec<u64>, String> {
    let sizes = [N, 2 * N, 4 * N];
    let counts: Vec<u64> = sizes.iter().map(|&n| steps(n)).collect();
    for (i, (&n, &s)) in sizes.iter().zip(&counts).enumerate() {
        let bound = 8 * (input_len(n) as u64 + 1) * (pattern_len as u64 + 1);
        if s > bound {
            return Err(format!(
                "{s} steps at n = {n}, over 8 × (input + 1) × (pattern + 1) = {bound}; all: {counts:?}"
            ));
        }
        if i > 0 && s as f64 > 2.2 * counts[i - 1] as f64 + 64.0 {
            return Err(format!("{} then {s} steps when the input doubled to n = {n}; all: {counts:?}", counts[i - 1]));
        }
    }
    Ok(counts)
}

fn assert_linear(what: &str, pattern_len: usize, input_len: impl Fn(usize) -> usize, steps: impl Fn(usize) -> u64) {
    match check_linear(pattern_len, input_len, steps) {
        Ok(counts) => println!("{what}: steps {counts:?}"),
        Err(e) => panic!("{what}: {e}"),
    }
}

#[test]
fn the_check_catches_quadratic_work() {
    assert!(check_linear(10, |n| n, |n| (n as u64) * (n as u64)).is_err());
    assert!(check_linear(10, |n| n, |n| 3 * n as u64 + 5).is_ok());
    // Linear, but more than 8 × input × pattern: caught too.
    assert!(check_linear(1, |n| n, |n| 100 * n as u64).is_err());
}

// ------------------------------------------------------------ event patterns

/// The wildcard with the most `*a` before a `b` that the complexity limit
/// accepts (AWS refuses "too complex" wildcards; so does the engine).
fn most_stars_accepted() -> String {
    let pattern = (2..12)
        .map(|stars| format!("{}b", "*a".repeat(stars)))
        .take_while(|w| pattern::wildcard_steps(w, "").is_ok())
        .last()
        .expect("some wildcard is accepted");
    assert!(pattern.matches('*').count() >= 3, "{pattern}");
    pattern
}

/// A wildcard, the value of size `n` it is matched against, and whether
/// it matches.
type WildcardCase = (String, Box<dyn Fn(usize) -> String>, bool);

#[test]
fn event_pattern_wildcards_take_linear_steps() {
    let stars = most_stars_accepted();
    let cases: Vec<WildcardCase> = vec![
        (stars.clone(), Box::new(|n| "a".repeat(n)), false),
        (stars.clone(), Box::new(|n| format!("{}b", "a".repeat(n))), true),
        // The middle segments are found at once, the last one nowhere.
        (format!("{}c*b", "*a".repeat(3)), Box::new(|n| format!("{}b", "a".repeat(n))), false),
        // A periodic middle segment over a near-miss text: a naive
        // substring search retries at every position (the complexity limit
        // refuses longer runs of one character after a star).
        ("x*aaaab*y".into(), Box::new(|n| format!("x{}y", "a".repeat(n))), false),
        ("x*aaaab*y".into(), Box::new(|n| format!("x{}by", "a".repeat(n))), true),
        // Escaped stars are literal characters of a segment.
        (r"*\*\**a".into(), Box::new(|n| "*".repeat(n)), false),
        (r"*\*\**a".into(), Box::new(|n| format!("{}a", "*".repeat(n))), true),
    ];
    for (wildcard, value, want) in &cases {
        assert_linear(
            &format!("wildcard {wildcard}"),
            wildcard.len(),
            |n| value(n).len(),
            |n| {
                let (got, steps) = pattern::wildcard_steps(wildcard, &value(n)).expect("a valid wildcard");
                assert_eq!(got, *want, "{wildcard} at n = {n}");
                steps
            },
        );
    }
}

#[test]
fn wildcard_steps_agree_with_patterns() {
    // The counted matcher is the one patterns use: same verdicts through a
    // compiled set, also under anything-but.
    let stars = most_stars_accepted();
    let a = "a".repeat(N);
    let ab = format!("{a}b");
    for value in [&a, &ab] {
        let (want, _) = pattern::wildcard_steps(&stars, value).expect("valid");
        let p = EventPattern::parse(&json!({"v": [{"wildcard": stars}]}).to_string()).expect("valid");
        assert_eq!(!PatternSet::new([&p]).matches(&json!({"v": value})).is_empty(), want);
        let but =
            EventPattern::parse(&json!({"v": [{"anything-but": {"wildcard": stars}}]}).to_string()).expect("valid");
        assert_eq!(but.matches(&json!({"v": value})), !want);
    }
    assert!(pattern::wildcard_steps("a**b", "ab").is_err(), "refused as patterns refuse it");
}

// ----------------------------------------------------------- filter patterns

/// `pattern` matched against `message(n)`: linear steps, and the expected
/// verdict at every size.
fn assert_filter_linear(pattern: &str, message: impl Fn(usize) -> String, want: bool) {
    let p = FilterPattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern} refused: {e}"));
    assert_linear(
        &format!("filter {pattern}"),
        pattern.len(),
        |n| message(n).len(),
        |n| {
            let m = message(n);
            let (got, steps) = p.match_steps(&m);
            assert_eq!(got, want, "{pattern} at n = {n}");
            assert_eq!(p.matches(&m), got);
            steps
        },
    );
}

#[test]
fn filter_globs_take_linear_steps() {
    let json_one = |v: String| json!({"eventName": v}).to_string();
    assert_filter_linear("{ $.eventName = \"*a*a*a*a*a*a*b\" }", |n| json_one("a".repeat(n)), false);
    assert_filter_linear("{ $.eventName = \"*a*a*a*a*a*a*b\" }", |n| json_one(format!("{}b", "a".repeat(n))), true);
    assert_filter_linear("{ $.eventName = \"*a*a*a*a*a*a*c*\" }", |n| json_one("a".repeat(n)), false);
    assert_filter_linear("{ $.eventName != \"*a*a*c*\" }", |n| json_one("a".repeat(n)), true);
    assert_filter_linear("[f1 = *a*a*a*a*a*a*b]", |n| "a".repeat(n), false);
    assert_filter_linear("[f1 = \"*a*a*a*a*a*a*b\"]", |n| format!("{}b", "a".repeat(n)), true);
}

#[test]
fn filter_selectors_and_fields_take_linear_steps() {
    // `[*]` over n elements, each compared with a glob.
    let elements = |n: usize| json!({"f": vec!["ab"; n / 4]}).to_string();
    assert_filter_linear("{ $.f[*] = \"*a*a*c\" }", elements, false);
    assert_filter_linear("{ $.f[*] = \"*b\" && $.f[*] != \"*c\" && $.g NOT EXISTS }", elements, true);
    // An ellipsis before and after a run of three conditions, over n
    // fields that nearly satisfy them everywhere.
    let fields = |n: usize| "x y ".repeat(n / 4);
    assert_filter_linear("[..., a = x, b = y, c = z, ...]", fields, false);
    assert_filter_linear("[..., a = x, b = y, c = x, d = y, e = z, ...]", fields, false);
    assert_filter_linear("[..., a = x*, b = *y, ...]", fields, true);
    assert_filter_linear("[first, ..., a = \"*x*y*z\", ..., last]", fields, false);
}

#[test]
fn filter_terms_take_linear_steps() {
    assert_filter_linear("\"aaaaaaaaaaaaaaaaaaaab\"", |n| "a".repeat(n), false);
    assert_filter_linear("aaaaaaaaaaaaaaaaaaaab", |n| format!("{}b", "a".repeat(n)), true);
    assert_filter_linear("?ab ?ac ?ad ?ae", |n| "a".repeat(n), false);
    assert_filter_linear("a -b -c -\"ab\"", |n| "a".repeat(n), true);
}

// ---------------------------------------------------------------- %regex%

#[test]
fn regex_filters_hand_the_crate_the_text_once() {
    // What is counted is the text handed to the regex crate; the crate
    // guarantees O(m × n) for it.
    assert_filter_linear("%a*a*a*a*a*a*a*a*a*a*b%", |n| "a".repeat(n), false);
    assert_filter_linear("%a+a+a+a+a+a+a+a+a+a+b%", |n| format!("{}b", "a".repeat(n)), true);
    assert_filter_linear("%a{1,100}a{1,100}a{1,100}b%", |n| "a".repeat(n), false);
    assert_filter_linear(
        "{ $.eventName = %a*a*a*a*a*a*b% }",
        |n| json!({"eventName": "a".repeat(n)}).to_string(),
        false,
    );
    assert_filter_linear("[f1 = %a*a*a*a*a*a*b%]", |n| format!("{}b", "a".repeat(n)), true);
}

#[test]
fn regex_filters_are_bounded_at_compile_time() {
    // The textbook catastrophic expressions need groups, which CloudWatch
    // Logs does not have: refused, with the reason.
    for pattern in ["%(a+)+b%", "%(a|aa)*b%", "%(a*)*b%", "%(?:a+)+b%"] {
        let e = FilterPattern::parse(pattern).expect_err("no groups");
        assert!(e.to_string().contains("groups"), "{pattern}: {e}");
    }
    // Back-references and look-around have no syntax in the dialect.
    for pattern in ["%a\\1%", "%a(?=b)%"] {
        assert!(FilterPattern::parse(pattern).is_err(), "{pattern}");
    }
    // Counted repetition within the 1024-character limit can still ask for
    // a large automaton (`.` is any Unicode character: several UTF-8
    // states each): past MAX_REGEX_SIZE the compile is refused.
    let big = "%.{1000}.{1000}%";
    match FilterPattern::parse(big) {
        Err(FilterError::Regex { reason, .. }) => assert!(reason.contains("size limit"), "{reason}"),
        other => panic!("{big} compiled past {MAX_REGEX_SIZE} bytes: {other:?}"),
    }
    // Half of it still compiles.
    assert!(FilterPattern::parse("%.{1000}%").is_ok());
}
