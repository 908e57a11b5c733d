//! Checking a woken conjunction: every field holds, on leaves that agree
//! on the element of every array they share (array consistency).

use std::borrow::Cow;

use super::scratch::{Leaf, Scratch, NONE};
use super::{PatternSet, Sub};
use crate::pattern::match_value::any_matches;

impl PatternSet {
    /// Whether every field of the conjunction holds, on leaves that come
    /// from the same element of every array they share. A field whose
    /// condition this event already settled free of arrays (for another
    /// conjunction, or by the anchor index: [`Scratch::cond_memo`]) is not
    /// read again.
    pub(super) fn verify(&self, sub: &Sub, s: &mut Scratch, strings: &[Cow<'_, str>]) -> bool {
        s.choice.clear();
        s.pool.clear();
        for (fi, field) in sub.fields.iter().enumerate() {
            let memo = &mut s.cond_memo[field.cond as usize];
            if memo.0 == s.generation {
                if memo.1 {
                    continue;
                }
                return false;
            }
            let (gen, first) = s.heads[field.path as usize];
            let mut leaf = if gen == s.generation { first } else { NONE };
            if leaf == NONE {
                *memo = (s.generation, field.absent_ok);
                if field.absent_ok {
                    continue;
                }
                return false;
            }
            let start = s.pool.len() as u32;
            let mut free = false;
            while leaf != NONE {
                let l = s.leaves[leaf as usize];
                let value = l.value.get(strings);
                let hit = if field.addresses {
                    any_matches(&field.values, value)
                } else {
                    field.values.iter().any(|c| c.matches(value))
                };
                if hit {
                    if l.members.1 == 0 {
                        free = true;
                        break;
                    }
                    s.pool.push(leaf);
                }
                leaf = s.next[leaf as usize];
            }
            if free {
                s.cond_memo[field.cond as usize] = (s.generation, true);
                s.pool.truncate(start as usize);
                continue;
            }
            if s.pool.len() as u32 == start {
                s.cond_memo[field.cond as usize] = (s.generation, false);
                return false;
            }
            s.choice.push((start, s.pool.len() as u32, fi as u32));
        }
        if s.choice.len() <= 1 {
            return true;
        }
        // Fewest candidates first. Then, greedily, the field whose path
        // shares the most with one already placed: it sits in the same
        // arrays, so the elements chosen so far narrow it, and a
        // contradiction there is found before fields elsewhere multiply
        // the choices to retry.
        s.choice.sort_by_key(|&(a, b, _)| b - a);
        for placed in 1..s.choice.len() {
            let choice = &s.choice;
            let next = (placed..choice.len()).max_by_key(|&j| {
                let (a, b, f) = choice[j];
                let shared = choice[..placed].iter().map(|&(_, _, g)| sub.shared(g, f)).max();
                (shared, std::cmp::Reverse(b - a), std::cmp::Reverse(j))
            });
            if let Some(next) = next {
                s.choice.swap(placed, next);
            }
        }
        // Long candidate lists are ordered by the elements of the arrays
        // they sit in, outermost first, so that once earlier choices fix
        // those elements the candidates in them are found by binary search,
        // level by level (n log n, not n^2 or worse, in arrays an attacker
        // can make long, such as `ipPermissions.items[].ipRanges.items[]`).
        for &(start, end, _) in &s.choice {
            if end - start > SCAN_MAX {
                let (leaves, members) = (&s.leaves, &s.members);
                s.pool[start as usize..end as usize]
                    .sort_by(|&a, &b| arrays_of(leaves, members, a).cmp(arrays_of(leaves, members, b)));
            }
        }
        s.binding.clear();
        consistent(s, 0)
    }
}

/// Pick one leaf per constrained field such that no two disagree on the
/// element of an array they both sit in.
fn consistent(s: &mut Scratch, field: usize) -> bool {
    let Some(&(start, end, _)) = s.choice.get(field) else {
        return true;
    };
    let (mut lo, mut hi) = (start, end);
    if end - start > SCAN_MAX {
        let (leaves, members, pool) = (&s.leaves, &s.members, &s.pool);
        let level_of = |l: u32, level: usize| arrays_of(leaves, members, l).get(level).copied();
        // The candidates in [lo, hi) share their arrays' elements above
        // `level`. Where they also all sit in one array at `level` (along
        // one path, inside one element, there is only one) and the binding
        // fixes its element, only that element's candidates can agree.
        for level in 0.. {
            if lo >= hi {
                break;
            }
            let (Some(first), Some(last)) =
                (level_of(pool[lo as usize], level), level_of(pool[hi as usize - 1], level))
            else {
                break;
            };
            if first.0 != last.0 {
                break;
            }
            let Some(&bound) = s.binding.iter().find(|(a, _)| *a == first.0) else {
                break;
            };
            let slice = &pool[lo as usize..hi as usize];
            let from = slice.partition_point(|&l| level_of(l, level) < Some(bound)) as u32;
            let to = slice.partition_point(|&l| level_of(l, level) <= Some(bound)) as u32;
            (lo, hi) = (lo + from, lo + to);
        }
    }
    for at in lo..hi {
        let leaf = s.leaves[s.pool[at as usize] as usize];
        let (m0, mn) = leaf.members;
        let members = &s.members[m0 as usize..(m0 + mn) as usize];
        let clash = members.iter().any(|&(arr, idx)| s.binding.iter().any(|&(a, i)| a == arr && i != idx));
        if clash {
            continue;
        }
        let mark = s.binding.len();
        for i in m0..m0 + mn {
            let m = s.members[i as usize];
            if !s.binding.contains(&m) {
                s.binding.push(m);
            }
        }
        if consistent(s, field + 1) {
            return true;
        }
        s.binding.truncate(mark);
    }
    false
}

/// Candidate lists longer than this are searched, not scanned.
const SCAN_MAX: u32 = 8;

/// The (array, element) pairs a constrained leaf sits in, outermost first.
fn arrays_of<'m>(leaves: &[Leaf], members: &'m [(u32, u32)], leaf: u32) -> &'m [(u32, u32)] {
    leaves
        .get(leaf as usize)
        .and_then(|l| members.get(l.members.0 as usize..(l.members.0 + l.members.1) as usize))
        .unwrap_or(&[])
}
