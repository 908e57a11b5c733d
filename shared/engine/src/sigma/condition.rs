//! The `condition` of a detection (rules specification, "Condition"):
//! `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`, `N of x*`,
//! `them`. Precedence, least to most binding: `or`, `and`, `not`,
//! `x of`, parentheses.

/// A compiled condition over the detection's search identifiers, by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    Ident(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    /// At least `min` of the identifiers (`all of` is `min` = their count).
    Of {
        min: usize,
        idents: Vec<usize>,
    },
}

impl Cond {
    /// Evaluate with the verdict of each identifier.
    pub(crate) fn eval(&self, ident: &mut impl FnMut(usize) -> bool) -> bool {
        match self {
            Cond::Ident(i) => ident(*i),
            Cond::Not(c) => !c.eval(ident),
            Cond::And(cs) => cs.iter().all(|c| c.eval(ident)),
            Cond::Or(cs) => cs.iter().any(|c| c.eval(ident)),
            Cond::Of { min, idents } => {
                let mut n = 0;
                for i in idents {
                    if ident(*i) {
                        n += 1;
                        if n >= *min {
                            return true;
                        }
                    }
                }
                false
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Of,
    All,
    Them,
    Number(usize),
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            out.push(Token::Open);
        } else if c == ')' {
            chars.next();
            out.push(Token::Close);
        } else if c.is_alphanumeric() || "_*-.".contains(c) {
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || "_*-.".contains(d) {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let word = &text[i..end];
            out.push(match word.to_ascii_lowercase().as_str() {
                "and" => Token::And,
                "or" => Token::Or,
                "not" => Token::Not,
                "of" => Token::Of,
                "all" => Token::All,
                "them" => Token::Them,
                _ => match word.parse::<usize>() {
                    Ok(n) => Token::Number(n),
                    Err(_) => Token::Word(word.to_string()),
                },
            });
        } else {
            return Err(format!("unexpected character '{c}' in the condition"));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    names: &'a [String],
    depth: usize,
}

/// The deepest nesting of parentheses and `not` a condition may have.
const MAX_DEPTH: usize = 64;

/// Parse a condition over the named search identifiers.
pub(crate) fn parse(text: &str, names: &[String]) -> Result<Cond, String> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err("the condition is empty".into());
    }
    let mut p = Parser { tokens, at: 0, names, depth: 0 };
    let cond = p.or()?;
    match p.tokens.get(p.at) {
        None => Ok(cond),
        Some(t) => Err(format!("unexpected {} in the condition", describe(t))),
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::And => "'and'".into(),
        Token::Or => "'or'".into(),
        Token::Not => "'not'".into(),
        Token::Of => "'of'".into(),
        Token::All => "'all'".into(),
        Token::Them => "'them'".into(),
        Token::Number(n) => format!("'{n}'"),
        Token::Word(w) => format!("'{w}'"),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<Cond, String> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Cond::Or(items) })
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut items = vec![self.not()?];
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Cond::And(items) })
    }

    fn not(&mut self) -> Result<Cond, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("the condition nests deeper than {MAX_DEPTH} levels"));
        }
        let c = if self.peek() == Some(&Token::Not) {
            self.at += 1;
            self.not().map(|c| Cond::Not(Box::new(c)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        c
    }

    fn primary(&mut self) -> Result<Cond, String> {
        match self.next() {
            Some(Token::Open) => {
                let c = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(c),
                    _ => Err("a '(' in the condition is not closed".into()),
                }
            }
            Some(Token::All) => self.of(None),
            Some(Token::Number(n)) => {
                if n == 0 {
                    return Err("'0 of' is not a condition: use 1, a larger number, or all".into());
                }
                self.of(Some(n))
            }
            Some(Token::Word(w)) => {
                if w.contains('*') {
                    return Err(format!("'{w}' has a wildcard: write '1 of {w}' or 'all of {w}'"));
                }
                self.names
                    .iter()
                    .position(|n| *n == w)
                    .map(Cond::Ident)
                    .ok_or_else(|| format!("the condition names '{w}', which the detection does not define"))
            }
            Some(t) => Err(format!("unexpected {} in the condition", describe(&t))),
            None => Err("the condition ends too early".into()),
        }
    }

    fn of(&mut self, min: Option<usize>) -> Result<Cond, String> {
        if self.next() != Some(Token::Of) {
            return Err("expected 'of' after 'all' or a number".into());
        }
        let idents: Vec<usize> = match self.next() {
            // Rules specification: `them` leaves out identifiers starting with `_`.
            Some(Token::Them) => (0..self.names.len()).filter(|i| !self.names[*i].starts_with('_')).collect(),
            Some(Token::Word(pattern)) => {
                let found: Vec<usize> =
                    (0..self.names.len()).filter(|i| glob_names(&pattern, &self.names[*i])).collect();
                if found.is_empty() {
                    return Err(format!("'{pattern}' in the condition matches no search identifier"));
                }
                found
            }
            _ => return Err("expected 'them' or a search identifier pattern after 'of'".into()),
        };
        if idents.is_empty() {
            return Err("'of them' finds no search identifier".into());
        }
        let min = min.unwrap_or(idents.len());
        Ok(Cond::Of { min, idents })
    }
}

/// Whether an identifier matches a pattern with `*` wildcards.
fn glob_names(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().unwrap_or((&"", &[]));
    let Some(mut tail) = name.strip_prefix(first) else { return false };
    let Some((last, middle)) = rest.split_last() else { return tail.is_empty() };
    for m in middle {
        match tail.find(m) {
            Some(at) => tail = &tail[at + m.len()..],
            None => return false,
        }
    }
    tail.ends_with(last)
}

/// The obsolete aggregation after `|` (`count() by x > 5`,
/// `count(field) by x >= 5`, `near ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Aggregation {
    /// `count(field)`: distinct values of the field.
    pub distinct: Option<String>,
    pub group_by: Vec<String>,
    pub op: String,
    pub value: u64,
}

/// Parse an obsolete aggregation expression.
pub(crate) fn parse_aggregation(text: &str) -> Result<Aggregation, String> {
    let t = text.trim();
    let rest = t
        .strip_prefix("count")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('('))
        .ok_or_else(|| format!("the aggregation \"{t}\" is not supported: only count() and count(field) are"))?;
    let (inner, rest) = rest.split_once(')').ok_or_else(|| format!("the aggregation \"{t}\" has no closing ')'"))?;
    let inner = inner.trim();
    let distinct = (!inner.is_empty()).then(|| inner.to_string());
    let mut rest = rest.trim();
    let mut group_by = Vec::new();
    if let Some(r) = rest.strip_prefix("by ") {
        let end = r.find(['<', '>', '=']).unwrap_or(r.len());
        group_by = r[..end].split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        rest = r[end..].trim();
    }
    let op_end = rest.find(|c: char| !"<>=!".contains(c)).unwrap_or(rest.len());
    let (op, n) = rest.split_at(op_end);
    let value =
        n.trim().parse::<u64>().map_err(|_| format!("the aggregation \"{t}\" must compare with a whole number"))?;
    if op.is_empty() {
        return Err(format!("the aggregation \"{t}\" has no comparison"));
    }
    Ok(Aggregation { distinct, group_by, op: op.to_string(), value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_glob() {
        assert!(glob_names("selection*", "selection_a"));
        assert!(glob_names("*_a", "selection_a"));
        assert!(glob_names("sel*a", "selection_a"));
        assert!(!glob_names("filter*", "selection"));
        assert!(glob_names("x", "x"));
    }

    #[test]
    fn aggregation() {
        let a = parse_aggregation("count() by sourceIPAddress > 5").unwrap();
        assert_eq!((a.distinct, a.group_by, a.op.as_str(), a.value), (None, vec!["sourceIPAddress".into()], ">", 5));
        let a = parse_aggregation("count(eventName) >= 3").unwrap();
        assert_eq!((a.distinct.as_deref(), a.op.as_str(), a.value), (Some("eventName"), ">=", 3));
    }
}
