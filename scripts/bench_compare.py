#!/usr/bin/env python3
"""Side-by-side event-pattern matching benchmark (issue 8, `make bench-compare`).

On the standard inputs (../shared/bench/README.md: 10, 100 and 1,000 patterns and the
3,210 real records wrapped as EventBridge events, both made by
../shared/bench/gen_patterns.py from ../shared/data/cloudtrail into
$CARGO_TARGET_DIR, `make bench-inputs`), runs one engine after another:

  - trailwatch's compiled matcher: `trailwatch bench-patterns` (release build),
    streaming (`matches_json`) and DOM (`serde_json` then `matches_into`);
  - moto 5.2.5's `moto.events.models.EventPattern` (`load`, `matches_event`);
  - LocalStack's `localstack.utils.event_matcher.matches_event(pattern, event)`
    (from localstack-core, requirements-bench.txt);

each timing whole passes over the events with each event's JSON parsed inside
the pass, as the reference figures in ../shared/bench/README.md are. Prints events/s
per N, the ratios (trailwatch vs event-ruler's reference figure and vs each
Python engine) and the match counts; exits non-zero if trailwatch's counts
are not 62 / 1,252 / 19,389.

The Python engines take ~85-125 s per pass over the 3,210 events at N=1000,
so by default they are timed there on a fixed subset, every 5th event (642
events, both data sets in proportion); their match counts on it are checked
against trailwatch's on the same subset. `--full` times them on all events.

Run with the project's .venv python (moto, localstack-core installed).
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trailwatch_local import BENCH_NS as NS, ROOT, TARGET, bench_inputs, shared_path, trailwatch_bin  # noqa: E402

EXPECTED = {10: 62, 100: 1252, 1000: 19389}
SUBSET_STRIDE = 5


def reference_figures():
    """event-ruler's, moto's and LocalStack's reference rows of ../shared/bench/README.md."""
    refs = {}
    readme = shared_path("bench/README.md", needed_for="the reference figures")
    with open(readme, encoding="utf-8") as fh:
        for line in fh:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 5:
                continue
            key = {"event-ruler": "event-ruler", "moto": "moto", "LocalStack": "localstack"}.get(
                cells[0].split(" ")[0])
            if key is None:
                continue
            try:
                rates = [float(c.replace(",", "")) for c in cells[1:4]]
            except ValueError:
                continue
            refs[key] = {"label": cells[0], "rates": dict(zip(NS, rates)), "matches": cells[4]}
    if "event-ruler" not in refs:
        sys.exit(f"bench_compare: no event-ruler row in {readme}")
    return refs


def read_lines(path):
    with open(path, encoding="utf-8") as fh:
        return [line for line in fh.read().splitlines() if line.strip()]


def trailwatch(binary, patterns, events, mode, passes):
    out = subprocess.run([binary, "bench-patterns", "--patterns", patterns, "--events", events,
                          "--passes", str(passes), "--mode", mode],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def time_python(lines, patterns, matches_one, passes):
    """Best-of-passes events/s, total matches and matches per pattern.
    Each pass parses every event's JSON line, then tries every pattern."""
    best, total, per = float("inf"), None, None
    for _ in range(passes):
        counts = [0] * len(patterns)
        start = time.perf_counter()
        for line in lines:
            event = json.loads(line)
            for i, p in enumerate(patterns):
                if matches_one(p, event):
                    counts[i] += 1
        best = min(best, time.perf_counter() - start)
        if per is not None and counts != per:
            sys.exit("bench_compare: a Python engine gave different matches in two passes")
        per, total = counts, sum(counts)
    return len(lines) / best, total, per


def fmt_rate(r):
    if r is None:
        return "-"
    return f"{r:,.0f}" if r >= 100 else f"{r:,.1f}"


def fmt_x(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:,.1f}x" if a / b < 100 else f"{a / b:,.0f}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", help="the trailwatch binary (default: the release build)")
    ap.add_argument("--events", default=None, help="events JSON lines (default: $CARGO_TARGET_DIR/bench-events.jsonl, generated if missing)")
    ap.add_argument("--passes", type=int, default=20, help="trailwatch passes (best reported)")
    ap.add_argument("--py-passes", type=int, default=3, help="Python passes at N=10 (one pass at N=100 and N=1000)")
    ap.add_argument("--full", action="store_true", help="time the Python engines on all events at N=1000 too (~4 more minutes)")
    ap.add_argument("--quick", action="store_true", help="Python engines on the subset at N=100 too, one pass at N=10")
    ap.add_argument("--json", help="also write the results here as JSON")
    args = ap.parse_args()

    args.binary = args.binary or trailwatch_bin("release")
    pattern_files, generated_events = bench_inputs(TARGET)
    events_path = args.events or generated_events
    lines = read_lines(events_path)
    subset = lines[::SUBSET_STRIDE]
    subset_path = os.path.join(TARGET, f"bench-events-every{SUBSET_STRIDE}.jsonl")
    with open(subset_path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(subset) + "\n")

    from moto.events.models import EventPattern as MotoPattern
    import moto
    from localstack.utils.event_matcher import matches_event as ls_matches_event
    from importlib.metadata import version
    ls_version = version("localstack-core")

    refs = reference_figures()
    patterns = {}
    for n in NS:
        with open(pattern_files[n], encoding="utf-8") as fh:
            patterns[n] = json.load(fh)

    res = {"events": len(lines), "subset_events": len(subset), "engines": {}}
    eng = res["engines"]
    # 1. trailwatch, both modes, on all events (and on the subset, to compare counts with the peers there).
    for mode in ("stream", "dom"):
        key = f"trailwatch-{mode}"
        eng[key] = {"rates": {}, "matches": {}, "subset_matches": {}, "subset_rates": {}}
        for n in NS:
            r = trailwatch(args.binary, pattern_files[n], events_path, mode, args.passes)
            eng[key]["rates"][n], eng[key]["matches"][n] = r["events_per_sec"], r["matches"]
            s = trailwatch(args.binary, pattern_files[n], subset_path, mode, args.passes)
            eng[key]["subset_rates"][n], eng[key]["subset_matches"][n] = s["events_per_sec"], s["matches"]
            print(f"  trailwatch {mode:6} N={n:<5} {r['events_per_sec']:>12,.0f} events/s  {r['matches']:>6} matches",
                  file=sys.stderr)

    # 2. moto, then 3. LocalStack: one after another, same events.
    moto_compiled = {n: [MotoPattern.load(json.dumps(p)) for p in patterns[n]] for n in NS}
    peers = [
        ("moto", f"moto {moto.__version__} EventPattern", lambda n: moto_compiled[n],
         lambda p, e: p.matches_event(e)),
        ("localstack", f"LocalStack {ls_version} matches_event", lambda n: patterns[n],
         lambda p, e: ls_matches_event(p, e)),
    ]
    for key, label, pats, fn in peers:
        eng[key] = {"label": label, "rates": {}, "matches": {}, "on_subset": {}, "per_pattern": {}}
        for n in NS:
            on_subset = (n == 1000 and not args.full) or (n == 100 and args.quick)
            passes = args.py_passes if n == 10 and not args.quick else 1
            rate, total, per = time_python(subset if on_subset else lines, pats(n), fn, passes)
            eng[key]["rates"][n], eng[key]["matches"][n] = rate, total
            eng[key]["on_subset"][n], eng[key]["per_pattern"][n] = on_subset, per
            print(f"  {key:17} N={n:<5} {rate:>12,.1f} events/s  {total:>6} matches"
                  f"{' (every 5th event)' if on_subset else ''}", file=sys.stderr)

    # Table.
    tw = eng["trailwatch-stream"]
    er = refs["event-ruler"]
    rows = [(er["label"].split(" (")[0] + " (Java; reference figure, ../shared/bench/README.md)", er["rates"], None)]
    rows.append(("trailwatch, streaming (matches_json)", tw["rates"], tw["matches"]))
    rows.append(("trailwatch, DOM (serde_json + matches_into)", eng["trailwatch-dom"]["rates"], eng["trailwatch-dom"]["matches"]))
    for key, _, _, _ in peers:
        rows.append((eng[key]["label"], eng[key]["rates"], eng[key]["matches"]))
    w = max(len(r[0]) for r in rows) + 2
    print()
    print(f"Events/s over {len(lines):,} events, JSON parsing of each event included; best of passes.")
    print(f"{'engine':<{w}}{'N=10':>12}{'N=100':>12}{'N=1000':>12}{'N10/N1000':>11}   matches at 10 / 100 / 1000")
    for label, rates, matches in rows:
        drop = rates[10] / rates[1000] if rates.get(1000) else None
        m = (" / ".join(f"{matches[n]:,}" for n in NS)) if matches else er["matches"]
        key = next((k for k, v in eng.items() if v.get("label") == label), None)
        if key in ("moto", "localstack") and any(eng[key]["on_subset"].values()):
            m = " / ".join(f"{matches[n]:,}" + ("*" if eng[key]["on_subset"][n] else "") for n in NS)
        print(f"{label:<{w}}" + "".join(f"{fmt_rate(rates.get(n)):>12}" for n in NS)
              + f"{(f'{drop:.2f}x' if drop else '-'):>11}   {m}")
    if any(any(eng[k]["on_subset"].values()) for k in ("moto", "localstack")):
        print(f"* the Python engines were timed on every {SUBSET_STRIDE}th event ({len(subset)} events) there: "
              f"events/s is measured on that subset, and its matches are compared with trailwatch's on the same "
              f"subset ({' / '.join(str(tw['subset_matches'][n]) for n in NS)}); trailwatch runs "
              + ", ".join(f"{tw['subset_rates'][n] / tw['rates'][n]:.2f}x" for n in NS)
              + " as fast on the subset as on all events (N=10/100/1000).")

    print()
    print(f"{'trailwatch (streaming) speed-up':<{w}}{'N=10':>12}{'N=100':>12}{'N=1000':>12}")
    print(f"{'vs ' + er['label'].split(' (')[0] + ' (reference figure)':<{w}}" + "".join(f"{fmt_x(tw['rates'][n], er['rates'][n]):>12}" for n in NS))
    for key, _, _, _ in peers:
        print(f"{'vs ' + eng[key]['label']:<{w}}" + "".join(f"{fmt_x(tw['rates'][n], eng[key]['rates'][n]):>12}" for n in NS))
    for key in ("moto", "localstack"):
        if key in refs:
            print(f"({eng[key]['label']}, this run / its reference figure: "
                  + ", ".join(f"{eng[key]['rates'][n] / refs[key]['rates'][n]:.2f}" for n in NS)
                  + " at N=10/100/1000; near 1 when this machine is as fast and as idle as the reference run's)")

    # Match counts.
    print()
    ok = all(tw["matches"][n] == EXPECTED[n] and eng["trailwatch-dom"]["matches"][n] == EXPECTED[n] for n in NS)
    print(f"trailwatch matches: {' / '.join(str(tw['matches'][n]) for n in NS)} "
          f"(expected {' / '.join(str(EXPECTED[n]) for n in NS)}): {'OK' if ok else 'WRONG'}")
    notes = []
    for key, _, _, _ in peers:
        for n in NS:
            want = tw["subset_matches"][n] if eng[key]["on_subset"][n] else tw["matches"][n]
            got = eng[key]["matches"][n]
            if got == want:
                continue
            # Which patterns differ: against the other Python engine's per-pattern counts where that one
            # agrees with trailwatch's total on the same events.
            other = "localstack" if key == "moto" else "moto"
            why = ""
            if eng[other]["matches"][n] == want and eng[other]["on_subset"][n] == eng[key]["on_subset"][n]:
                diff = [i for i, (a, b) in enumerate(zip(eng[key]["per_pattern"][n], eng[other]["per_pattern"][n])) if a != b]
                wild = [i for i in diff if '"wildcard"' in json.dumps(patterns[n][i])]
                why = (f"; it differs on patterns {diff}"
                       + (f", all with a `wildcard` condition" if diff and wild == diff else ""))
            if key == "localstack" and why.endswith("condition"):
                why += ": LocalStack's `*` needs at least one character (AWS's matches zero or more, as ../shared/bench/README.md notes)"
            notes.append(f"{eng[key]['label']} at N={n}: {got:,} matches, trailwatch {want:,}"
                         f"{' (same subset)' if eng[key]['on_subset'][n] else ''}{why}")
    for note in notes:
        print("note: " + note)
    if not notes:
        print("the Python engines' match counts equal trailwatch's on the same events")

    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            for k in ("moto", "localstack"):
                eng[k].pop("per_pattern", None)
            json.dump({"references": refs, **res}, fh, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
