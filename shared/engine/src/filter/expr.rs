//! Boolean expressions `a && (b || c)` over conditions, shared by JSON
//! patterns and the fields of space-delimited patterns.
//!
//! Precedence is `()` > `&&` > `||`, as AWS documents. Chains are kept flat
//! (`And(Vec)`, `Or(Vec)`), so only parentheses add depth, and parentheses are
//! limited to [`MAX_NESTING`] levels: parsing and evaluation never recurse
//! deeper than that, whatever the input.

use super::error::FilterError;
use super::lex::Cursor;

/// How deeply parentheses may nest.
pub const MAX_NESTING: usize = 64;

/// A boolean expression over leaves of type `L`.
#[derive(Debug, Clone)]
pub(crate) enum Expr<L> {
    Leaf(L),
    And(Vec<Expr<L>>),
    Or(Vec<Expr<L>>),
}

impl<L> Expr<L> {
    /// Evaluates with short-circuit, asking `leaf` for each leaf's value.
    pub(crate) fn eval(&self, leaf: &mut impl FnMut(&L) -> bool) -> bool {
        match self {
            Expr::Leaf(l) => leaf(l),
            Expr::And(xs) => xs.iter().all(|x| x.eval(leaf)),
            Expr::Or(xs) => xs.iter().any(|x| x.eval(leaf)),
        }
    }

    /// Visits the leaves left to right.
    pub(crate) fn visit<'a>(&'a self, f: &mut impl FnMut(&'a L)) {
        match self {
            Expr::Leaf(l) => f(l),
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| x.visit(f)),
        }
    }
}

/// Parses an expression; `leaf` reads one condition at the cursor.
pub(crate) fn parse<L>(
    cur: &mut Cursor<'_>,
    leaf: &mut impl FnMut(&mut Cursor<'_>) -> Result<L, FilterError>,
) -> Result<Expr<L>, FilterError> {
    parse_or(cur, leaf, 0)
}

fn parse_or<L>(
    cur: &mut Cursor<'_>,
    leaf: &mut impl FnMut(&mut Cursor<'_>) -> Result<L, FilterError>,
    depth: usize,
) -> Result<Expr<L>, FilterError> {
    let mut items = vec![parse_and(cur, leaf, depth)?];
    loop {
        cur.skip_ws();
        if cur.eat_str("||") {
            items.push(parse_and(cur, leaf, depth)?);
        } else if cur.peek() == Some('|') {
            return Err(FilterError::syntax(cur.pos(), "`|` is not an operator; write `||` for OR"));
        } else {
            break;
        }
    }
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return Ok(only);
        }
    }
    Ok(Expr::Or(items))
}

fn parse_and<L>(
    cur: &mut Cursor<'_>,
    leaf: &mut impl FnMut(&mut Cursor<'_>) -> Result<L, FilterError>,
    depth: usize,
) -> Result<Expr<L>, FilterError> {
    let mut items = vec![parse_unary(cur, leaf, depth)?];
    loop {
        cur.skip_ws();
        if cur.eat_str("&&") {
            items.push(parse_unary(cur, leaf, depth)?);
        } else if cur.peek() == Some('&') {
            return Err(FilterError::syntax(cur.pos(), "`&` is not an operator; write `&&` for AND"));
        } else {
            break;
        }
    }
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return Ok(only);
        }
    }
    Ok(Expr::And(items))
}

fn parse_unary<L>(
    cur: &mut Cursor<'_>,
    leaf: &mut impl FnMut(&mut Cursor<'_>) -> Result<L, FilterError>,
    depth: usize,
) -> Result<Expr<L>, FilterError> {
    cur.skip_ws();
    let open = cur.pos();
    if !cur.eat('(') {
        return leaf(cur).map(Expr::Leaf);
    }
    if depth >= MAX_NESTING {
        return Err(FilterError::TooDeep { offset: open, max: MAX_NESTING });
    }
    let inner = parse_or(cur, leaf, depth + 1)?;
    cur.skip_ws();
    if !cur.eat(')') {
        return Err(FilterError::syntax(
            cur.pos(),
            format!("expected `&&`, `||` or `)` to close the `(` at character {open}, found {}", cur.describe_here()),
        ));
    }
    Ok(inner)
}

/// The error for text after a complete expression that is not `closer`.
pub(crate) fn expected_after(cur: &Cursor<'_>, closer: &str) -> FilterError {
    FilterError::syntax(
        cur.pos(),
        format!("expected `&&`, `||` or {closer} after the condition, found {}", cur.describe_here()),
    )
}
