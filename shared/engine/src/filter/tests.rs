//! Unit tests of the parser's edge cases; the behaviour suite is
//! `shared/engine/tests/filter_conformance.rs`.

use super::*;

fn parse(p: &str) -> FilterPattern {
    match FilterPattern::parse(p) {
        Ok(f) => f,
        Err(e) => panic!("{p:?} should parse: {e}"),
    }
}

fn err(p: &str) -> FilterError {
    match FilterPattern::parse(p) {
        Ok(f) => panic!("{p:?} should be refused, parsed as {f:?}"),
        Err(e) => e,
    }
}

#[test]
fn kinds() {
    assert_eq!(parse("ERROR").kind(), PatternKind::Unstructured);
    assert_eq!(parse("").kind(), PatternKind::Unstructured);
    assert_eq!(parse("%abc%").kind(), PatternKind::Unstructured);
    assert_eq!(parse("  { $.a = 1 }  ").kind(), PatternKind::Json);
    assert_eq!(parse("\t[a, b]").kind(), PatternKind::SpaceDelimited);
    assert_eq!(parse("ERROR").text(), "ERROR");
    assert_eq!(parse(" x ").to_string(), " x ");
    assert!("{ $.a = 1 }".parse::<FilterPattern>().is_ok());
}

#[test]
fn offsets_are_characters() {
    // `é` is two bytes; the offset counts it once.
    let e = err("é-x");
    assert_eq!(e.offset(), Some(0));
    match err("\"é\" foo.bar") {
        FilterError::UnquotedTerm { offset, term, ch } => {
            assert_eq!((offset, term.as_str(), ch), (4, "foo.bar", '.'));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err("{ $.é = 1 }").offset(), Some(4));
}

#[test]
fn error_messages_say_how_to_fix() {
    let m = err("user-1").to_string();
    assert!(m.contains("\"user-1\""), "{m}");
    let m = err("{ $.a == 1 }").to_string();
    assert!(m.contains("write `=`"), "{m}");
    let m = err("{ $.a = 1 & $.b = 2 }").to_string();
    assert!(m.contains("`&&`"), "{m}");
    let m = err("{ $.a is null }").to_string();
    assert!(m.contains("`IS`"), "{m}");
    let m = err("{ $.a IS NOT NULL }").to_string();
    assert!(m.contains("not supported"), "{m}");
    let m = err("{ $.a EXISTS }").to_string();
    assert!(m.contains("$.a = *"), "{m}");
    let m = err("{ $.a = foo@bar }").to_string();
    assert!(m.contains("double quotes"), "{m}");
    let m = err("{ $.a > abc }").to_string();
    assert!(m.contains("compares numbers"), "{m}");
    let m = err("%a(b)%").to_string();
    assert!(m.contains("\\x28"), "{m}");
    let m = err("[a, b").to_string();
    assert!(m.contains("add `]`"), "{m}");
    let m = err("{ $.a = 1").to_string();
    assert!(m.contains("add `}`"), "{m}");
    let m = err("{ ($.a = 1 }").to_string();
    assert!(m.contains("close the `(` at character 2"), "{m}");
}

#[test]
fn error_offsets() {
    assert_eq!(err("{ $.a = 1 } x").offset(), Some(12));
    assert_eq!(err("{ $.a = 1 $.b = 2 }").offset(), Some(10));
    assert_eq!(err("{ $.a = }").offset(), Some(8));
    assert_eq!(err("{ }").offset(), Some(2));
    assert_eq!(err("[a, b = , c]").offset(), Some(8));
    assert_eq!(err("[a, b, a]").offset(), Some(7));
    assert_eq!(err("[w1=ERROR || W1=WARNING, w2]").offset(), Some(13));
    assert_eq!(err("ERROR \"unclosed").offset(), Some(6));
    assert_eq!(err("{ $.a = %abc }").offset(), Some(8));
    assert_eq!(err("ERROR -").offset(), Some(6));
    assert_eq!(err("-?ERROR").offset(), Some(0));
}

#[test]
fn length_limit() {
    let ok = "a".repeat(MAX_PATTERN_CHARS);
    assert!(FilterPattern::parse(&ok).is_ok());
    let long = "a".repeat(MAX_PATTERN_CHARS + 1);
    assert_eq!(
        FilterPattern::parse(&long).err(),
        Some(FilterError::TooLong { len: MAX_PATTERN_CHARS + 1, max: MAX_PATTERN_CHARS })
    );
    // Characters, not bytes: 1024 two-byte characters fit.
    assert!(FilterPattern::parse(&format!("\"{}\"", "é".repeat(1022))).is_ok());
}

#[test]
fn nesting_is_bounded() {
    let nested = |n: usize| format!("{{ {}$.a = 1{} }}", "(".repeat(n), ")".repeat(n));
    let p = parse(&nested(MAX_NESTING));
    assert!(p.matches(r#"{"a":1}"#));
    match err(&nested(MAX_NESTING + 1)) {
        FilterError::TooDeep { offset, max } => {
            assert_eq!((offset, max), (2 + MAX_NESTING, MAX_NESTING))
        }
        other => panic!("{other:?}"),
    }
    // 10,000 parentheses: refused (too long), never a stack overflow.
    assert!(FilterPattern::parse(&format!("{{{}", "(".repeat(10_000))).is_err());
    // Unbalanced within the length limit.
    assert!(FilterPattern::parse(&format!("{{{}", "(".repeat(1000))).is_err());
    assert!(FilterPattern::parse(&format!("[a={}", "(".repeat(1000))).is_err());
    // Long flat chains are not nesting.
    let chain = vec!["$.a = 1"; 80].join(" || ");
    assert!(parse(&format!("{{ {chain} }}")).matches(r#"{"a":1}"#));
}

#[test]
fn quotas() {
    assert!(FilterPattern::parse("{ $.a = %x% && $.b = %y% }").is_ok());
    assert!(matches!(err("{ $.a = %x% && $.b = %y% && $.c = %z% }"), FilterError::Limit { offset: 28, .. }));
    assert!(matches!(err("[a=%x%, b=%y%, c=%z%]"), FilterError::Limit { offset: 15, .. }));
    assert!(FilterPattern::parse("{ $.a[*] = 1 || $.b[*] = 1 || $.c[*] = 1 }").is_ok());
    assert!(matches!(err("{ $.a[*] = 1 || $.b[*] = 1 || $.c[*] = 1 || $.d[*] = 1 }"), FilterError::Limit { .. }));
    assert!(matches!(err("{ $.a[*].b[*] = 1 }"), FilterError::Limit { .. }));
}

#[test]
fn json_values() {
    let p = parse(r#"{ $.s = "a\"b\\c" }"#);
    assert!(p.matches(r#"{"s":"a\"b\\c"}"#));
    let p = parse(r#"{ $.s = "a\nb" }"#);
    assert!(p.matches(r#"{"s":"a\\nb"}"#), "other backslashes are literal");
    let p = parse("{$.eventName=CreateTrail}");
    assert!(p.matches(r#"{"eventName":"CreateTrail"}"#));
    let p = parse("{ $.eventSource = kms.amazonaws.com }");
    assert!(p.matches(r#"{"eventSource":"kms.amazonaws.com"}"#));
    assert!(!p.matches(r#"{"eventSource":"kmsXamazonaws.com"}"#));
}

#[test]
fn delimited_items() {
    let p = parse("[]");
    assert!(p.matches("one") && p.matches("one two") && !p.matches(""));
    // Without an ellipsis the last field takes the rest of the event.
    let p = parse("[a, rest]");
    assert_eq!(p.extract("x  y \"z w\"  ").map(|e| e.to_json()["$rest"].clone()), Some(Value::from("y \"z w\"")));
    assert_eq!(p.extract("x \"z w\"").map(|e| e.to_json()["$rest"].clone()), Some(Value::from("z w")));
    assert!(!p.matches("x"));
    let p = parse("[...]");
    assert!(p.matches("") && p.matches("a b c"));
    let p = parse("[..., ..., last = x]");
    assert!(p.matches("x") && p.matches("a b x") && !p.matches("x a"));
    let p = parse("[a, ..., b = 2, ..., c]");
    assert!(p.matches("1 2 3") && p.matches("1 9 2 9 3") && !p.matches("1 3"));
    let p = parse("[ a , b ]");
    assert!(p.matches("x y"));
    assert!(FilterPattern::parse("[a b]").is_err());
    assert!(FilterPattern::parse("[..., a] x").is_err());
    assert!(FilterPattern::parse("[... a]").is_err());
}

#[test]
fn matches_value_agrees_with_matches() {
    let p = parse("{ $.a = 1 }");
    let msg = r#"{"a":1}"#;
    let v: Value = match serde_json::from_str(msg) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    assert!(p.matches(msg) && p.matches_value(msg, &v));
    let t = parse("ERROR");
    assert!(t.matches_value("an ERROR", &Value::Null));
}

#[test]
fn send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_traits::<FilterPattern>();
    assert_traits::<Extracted>();
    assert_traits::<FilterError>();
}
