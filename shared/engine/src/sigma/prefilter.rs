//! A detection's prefilter: an EventBridge event pattern on `eventSource`
//! and `eventName` that every record the detection matches also matches
//! (an over-approximation), so that EventBridge delivers only records the
//! rule may match.

use serde_json::{json, Map, Value};

use super::condition::Cond;
use super::detection::{Detection, Item};
use super::modifier::{Modifier, Test};
use super::string::{SigmaStr, Tok};

/// What a value of `eventSource` or `eventName` must be, by one atom.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    Exact(String, bool),
    Prefix(String, bool),
    Suffix(String, bool),
}

impl Atom {
    fn text(&self) -> &str {
        match self {
            Atom::Exact(t, _) | Atom::Prefix(t, _) | Atom::Suffix(t, _) => t,
        }
    }

    fn to_json(&self) -> Value {
        let (op, text, cased) = match self {
            Atom::Exact(t, cased) => (None, t, *cased),
            Atom::Prefix(t, cased) => (Some("prefix"), t, *cased),
            Atom::Suffix(t, cased) => (Some("suffix"), t, *cased),
        };
        let inner = if cased { json!(text) } else { json!({ "equals-ignore-case": text }) };
        match op {
            None => inner,
            Some(op) => json!({ op: inner }),
        }
    }

    /// Whether some value could satisfy both this exact atom and `other`
    /// (compared lowercase: never says no when the answer is yes).
    fn exact_compatible(&self, other: &Atom) -> bool {
        let a = self.text().to_lowercase();
        let b = other.text().to_lowercase();
        match other {
            Atom::Exact(..) => a == b,
            Atom::Prefix(..) => a.starts_with(&b),
            Atom::Suffix(..) => a.ends_with(&b),
        }
    }
}

/// `None`: unconstrained.
type Atoms = Option<Vec<Atom>>;

/// An over-approximation of the records an expression matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Approx {
    /// Matches no record.
    Bottom,
    /// `eventSource` and `eventName` constraints (AND).
    Con { source: Atoms, name: Atoms },
}

const TOP: Approx = Approx::Con { source: None, name: None };

fn or(a: Approx, b: Approx) -> Approx {
    match (a, b) {
        (Approx::Bottom, x) | (x, Approx::Bottom) => x,
        (Approx::Con { source: s1, name: n1 }, Approx::Con { source: s2, name: n2 }) => {
            Approx::Con { source: union(s1, s2), name: union(n1, n2) }
        }
    }
}

fn union(a: Atoms, b: Atoms) -> Atoms {
    let (mut a, b) = (a?, b?);
    for atom in b {
        if !a.contains(&atom) {
            a.push(atom);
        }
    }
    Some(a)
}

fn and(a: Approx, b: Approx) -> Approx {
    match (a, b) {
        (Approx::Bottom, _) | (_, Approx::Bottom) => Approx::Bottom,
        (Approx::Con { source: s1, name: n1 }, Approx::Con { source: s2, name: n2 }) => {
            match (intersect(s1, s2), intersect(n1, n2)) {
                (Some(source), Some(name)) => Approx::Con { source, name },
                _ => Approx::Bottom,
            }
        }
    }
}

/// `None` when nothing satisfies both.
fn intersect(a: Atoms, b: Atoms) -> Option<Atoms> {
    let (a, b) = match (a, b) {
        (None, x) | (x, None) => return Some(x),
        (Some(a), Some(b)) => (a, b),
    };
    let all_exact = |v: &[Atom]| v.iter().all(|x| matches!(x, Atom::Exact(..)));
    let (exact, other) = if all_exact(&a) {
        (a, b)
    } else if all_exact(&b) {
        (b, a)
    } else {
        return Some(Some(a));
    };
    let kept: Vec<Atom> = exact.into_iter().filter(|x| other.iter().any(|o| x.exact_compatible(o))).collect();
    (!kept.is_empty()).then_some(Some(kept))
}

fn approx_cond(d: &Detection, c: &Cond) -> Approx {
    match c {
        Cond::Ident(i) => approx_search(d, *i),
        Cond::Not(_) => TOP,
        Cond::And(cs) => cs.iter().map(|c| approx_cond(d, c)).fold(TOP, and),
        Cond::Or(cs) => cs.iter().map(|c| approx_cond(d, c)).fold(Approx::Bottom, or),
        Cond::Of { min, idents } if *min >= idents.len() => idents.iter().map(|i| approx_search(d, *i)).fold(TOP, and),
        Cond::Of { idents, .. } => idents.iter().map(|i| approx_search(d, *i)).fold(Approx::Bottom, or),
    }
}

fn approx_search(d: &Detection, i: usize) -> Approx {
    d.searches[i].alternatives.iter().map(|items| items.iter().map(approx_item).fold(TOP, and)).fold(Approx::Bottom, or)
}

fn approx_item(item: &Item) -> Approx {
    let Some(field) = &item.field else { return TOP };
    let is_source = field.text == "eventSource";
    if !is_source && field.text != "eventName" {
        return TOP;
    }
    let Test::Values { neq: false, time: None, all, .. } = &item.test else { return TOP };
    if item
        .mods
        .iter()
        .any(|m| !matches!(m, Modifier::StartsWith | Modifier::EndsWith | Modifier::Cased | Modifier::All))
    {
        return TOP;
    }
    let cased = item.mods.contains(&Modifier::Cased);
    let atoms: Vec<Option<Atom>> = item
        .plain
        .iter()
        .map(|v| {
            let text = v.as_deref()?;
            let mut s = SigmaStr::parse(text);
            if item.mods.contains(&Modifier::StartsWith) {
                s = s.star_after();
            }
            if item.mods.contains(&Modifier::EndsWith) {
                s = s.star_before();
            }
            atom(&s, cased)
        })
        .collect();
    let one = |a: Option<Atom>| {
        let set = Some(vec![a?]);
        Some(if is_source { Approx::Con { source: set, name: None } } else { Approx::Con { source: None, name: set } })
    };
    if *all {
        atoms.into_iter().map(|a| one(a).unwrap_or(TOP)).fold(TOP, and)
    } else {
        atoms.into_iter().map(one).try_fold(Approx::Bottom, |acc, a| Some(or(acc, a?))).unwrap_or(TOP)
    }
}

/// The atom a string value stands for, when it is one: ASCII text that is
/// not a number or boolean (which a JSON number or boolean would match).
fn atom(s: &SigmaStr, cased: bool) -> Option<Atom> {
    let lit = |b: &Vec<u8>| {
        let t = std::str::from_utf8(b).ok()?;
        let scalar_like = t == "true" || t == "false" || t == "null" || t.trim().parse::<f64>().is_ok();
        (t.is_ascii() && !t.is_empty() && !scalar_like).then(|| t.to_string())
    };
    match s.0.as_slice() {
        [Tok::Lit(b)] => Some(Atom::Exact(lit(b)?, cased)),
        [Tok::Lit(b), Tok::Star] => Some(Atom::Prefix(lit(b)?, cased)),
        [Tok::Star, Tok::Lit(b)] => Some(Atom::Suffix(lit(b)?, cased)),
        _ => None,
    }
}

/// The event pattern, or `None` when the detection constrains neither
/// field (or can match no single record).
pub(crate) fn prefilter(d: &Detection) -> Option<Value> {
    let Approx::Con { source, name } = approx_cond(d, &d.condition) else { return None };
    let mut detail = Map::new();
    for (key, atoms) in [("eventSource", source), ("eventName", name)] {
        if let Some(atoms) = atoms {
            detail.insert(key.to_string(), Value::Array(atoms.iter().map(Atom::to_json).collect()));
        }
    }
    (!detail.is_empty()).then(|| json!({ "detail": detail }))
}
