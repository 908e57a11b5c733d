#!/usr/bin/env python3
"""Detection-quality report of trailwatch's rule pack.

Replays the real CloudTrail records (../shared/data/cloudtrail; the shared
folder can be set with TRAILWATCH_SHARED) through `trailwatch replay` and
writes docs/detection-report.md:

* per Stratus Red Team technique (one detonation log each): whether a rule
  claiming it (tag `stratus:<technique id>`) raised an alert on a record of
  that technique's log;
* per rule: alerts on benign traffic, i.e. Invictus records whose userAgent
  does not start with `stratus-red-team_` (S3 records wrap the user agent in
  brackets, `[stratus-red-team_...]`; the bracket is ignored), counted in
  records (each alert's `event_ids`), and the benign alert rate = benign
  records alerted / benign records.

Metric rules only count; their matches are not alerts (they are listed
separately, from replay's stderr summary). The rules (id, severity,
action, tags) come from `trailwatch rules list --json`.

Exits 1 if a claimed technique did not fire or the benign alert rate is
above 1 %, 2 if the report cannot be made. Standard library only.

Environment: TRAILWATCH_BIN (default target/debug/trailwatch),
TRAILWATCH_SHARED (default ../shared beside the repository).
Options: --rules DIR (a rules directory to add, as `replay --rules`),
--output FILE (default docs/detection-report.md), --data DIR.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trailwatch_local import ROOT, cloudtrail_dir, record_files, trailwatch_bin  # noqa: E402

MAX_BENIGN_RATE = 0.01
STRATUS_UA = "stratus-red-team_"


def fail(msg):
    print(f"detection-report: {msg}", file=sys.stderr)
    sys.exit(2)


def run(args):
    try:
        p = subprocess.run(args, capture_output=True, text=True)
    except OSError as e:
        fail(f"cannot run {args[0]}: {e} (build it: cargo build -p trailwatch-cli, or set TRAILWATCH_BIN)")
    if p.returncode != 0:
        fail(f"{' '.join(args)} exited {p.returncode}:\n{p.stderr}")
    return p


# ------------------------------------------------------------------ rules
def load_rules(bin_path, user_dir):
    """id -> rule (id, title, severity, action, tags, matcher, pattern,
    tests, origin) from `trailwatch rules list --json`: the rules replay
    runs, the built-in pack as compiled into the binary plus `user_dir`."""
    args = [bin_path, "rules", "list", "--json"] + ([user_dir] if user_dir else [])
    rules = {}
    for line in run(args).stdout.splitlines():
        if line.strip():
            r = json.loads(line)
            rules[r["id"]] = r
    # The binary embeds the built-in pack at build time: make sure it is the
    # pack on disk, or the report would describe rules that did not run.
    # (A rules directory may replace or disable built-in rules.)
    on_disk = {os.path.basename(f)[: -len(".yaml")] for f in glob.glob(os.path.join(ROOT, "shared", "rules", "*.yaml"))}
    built_in = {rid for rid, r in rules.items() if str(r.get("origin", "")).startswith("builtin:")}
    if built_in - on_disk or (not user_dir and on_disk - built_in):
        fail("the binary's rules differ from shared/rules (rebuild: cargo build -p trailwatch-cli): "
             f"only in the binary {sorted(built_in - on_disk)}, only on disk {sorted(on_disk - built_in)}")
    return rules


# ------------------------------------------------------------------ coverage
TACTICS = ["reconnaissance", "resource-development", "initial-access", "execution", "persistence",
           "privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
           "collection", "command-and-control", "exfiltration", "impact"]


def event_sources(rule):
    """The services a rule watches: its event pattern's detail.eventSource
    values (exact ones; prefix or other matchers as written), or the
    eventSource a filter pattern compares; sequences take their steps'."""
    text = rule.get("pattern") or ""
    out = set()
    if rule.get("matcher") in ("event_pattern", "sigma"):
        try:
            pattern = json.loads(text) if text else {}
        except ValueError:
            pattern = {}
        branches = pattern.get("$or", [pattern]) if isinstance(pattern, dict) else []
        for b in branches:
            for v in ((b.get("detail") or {}).get("eventSource") or []) if isinstance(b, dict) else []:
                if isinstance(v, str):
                    out.add(v)
                elif isinstance(v, dict):
                    out.update(x for x in v.values() if isinstance(x, str))
    elif rule.get("matcher") == "filter_pattern":
        out.update(re.findall(r'eventSource\s*=\s*"?([a-z0-9.-]+\.amazonaws\.com)', text))
    return {src.replace(".amazonaws.com", "") for src in out}


def tactics(rule):
    """ATT&CK tactics a rule is tagged with (attack.<tactic>), else the
    tactic its Stratus technique ids name (stratus:aws.<tactic>.<name>)."""
    tags = rule.get("tags") or []
    found = {t[len("attack."):] for t in tags if t.startswith("attack.") and t[len("attack."):] in TACTICS}
    if not found:
        found = {t.split(".")[1] for t in tags if t.startswith("stratus:aws.") and t.split(".")[1] in TACTICS}
    return found


# ------------------------------------------------------------------ data
def load_records(data_dir):
    """eventID -> (source, record); source is a technique id for a Stratus
    detonation log (detonation-logs/<technique>.json), else 'invictus'."""
    by_id = {}
    techniques = []
    for path, records in record_files(data_dir):
        if os.path.basename(os.path.dirname(path)) == "detonation-logs":
            source = os.path.basename(path)[: -len(".json")]
            techniques.append(source)
        else:
            source = "invictus"
        for r in records:
            if isinstance(r, dict) and r.get("eventID"):
                by_id[r["eventID"]] = (source, r)
    return by_id, sorted(techniques)


def is_stratus(record):
    return (record.get("userAgent") or "").lstrip("[").startswith(STRATUS_UA)


def replay(bin_path, paths, user_dir):
    args = [bin_path, "replay", "--no-dedup"] + (["--rules", user_dir] if user_dir else []) + paths
    p = run(args)
    alerts = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    matches = {}
    for line in p.stderr.splitlines():
        m = re.match(r"^\s+(\S+)\s+matches\s+(\d+)\s+alerts\s+(\d+)\s*$", line)
        if m:
            matches[m.group(1)] = int(m.group(2))
    records = re.search(r"records: (\d+)", p.stderr)
    return alerts, matches, int(records.group(1)) if records else None


# ------------------------------------------------------------------ report
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", help="a rules directory to add to the built-in pack")
    ap.add_argument("--data", help="the records (default: ../shared/data/cloudtrail)")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "detection-report.md"))
    opts = ap.parse_args()
    opts.data = opts.data or cloudtrail_dir("the detection report")

    bin_path = trailwatch_bin()
    rules = load_rules(bin_path, opts.rules)
    by_id, techniques = load_records(opts.data)
    if not techniques:
        fail(f"no detonation logs under {opts.data}")

    alerts, matches, replayed = replay(bin_path, [opts.data], opts.rules)
    if replayed != len(by_id):
        fail(f"replay read {replayed} records, the data holds {len(by_id)} with an eventID")

    # eventID -> rules that alerted on it
    alerted = defaultdict(set)
    alert_count = defaultdict(int)  # rule -> merged alerts (e-mails)
    for a in alerts:
        alert_count[a["rule_id"]] += 1
        for eid in a.get("event_ids") or [a.get("event_id")]:
            if eid not in by_id:
                fail(f"alert {a['rule_id']} names an unknown event id {eid}")
            alerted[eid].add(a["rule_id"])

    claims = defaultdict(list)  # technique -> rules claiming it
    for rid, r in sorted(rules.items()):
        for t in r["tags"]:
            if t.startswith("stratus:"):
                claims[t[len("stratus:"):]].append(rid)
    unknown = sorted(set(claims) - set(techniques))
    if unknown:
        fail(f"rules claim techniques without a detonation log: {unknown}")

    # ---- techniques
    tech_rows = []
    problems = []
    for t in techniques:
        ids = [eid for eid, (s, _) in by_id.items() if s == t]
        fired_by = defaultdict(int)
        for eid in ids:
            for rid in alerted.get(eid, ()):
                fired_by[rid] += 1
        claimed = claims.get(t, [])
        fired = [rid for rid in claimed if fired_by.get(rid)]
        others = sorted(rid for rid in fired_by if rid not in claimed)
        if claimed and not fired:
            problems.append(f"technique {t} is claimed by {', '.join(claimed)} but no claiming rule alerted on its log")
        tech_rows.append((t, len(ids), claimed, fired, dict(fired_by), others))
    # metric rules per technique log (replay's summary, one run per log)
    tech_metric = {}
    metric_ids = {rid for rid, r in rules.items() if r.get("action") == "metric"}
    for t in techniques:
        path = os.path.join(opts.data, "stratus-red-team", "detonation-logs", t + ".json")
        if not os.path.exists(path):
            path = next(iter(glob.glob(os.path.join(opts.data, "**", t + ".json"), recursive=True)), None)
        _, m, _ = replay(bin_path, [path], opts.rules)
        tech_metric[t] = {rid: n for rid, n in m.items() if rid in metric_ids}

    # ---- benign traffic
    benign = [eid for eid, (s, r) in by_id.items() if s == "invictus" and not is_stratus(r)]
    attack_inv = [eid for eid, (s, r) in by_id.items() if s == "invictus" and is_stratus(r)]
    benign_set = set(benign)
    benign_alerted = sorted(eid for eid in benign if alerted.get(eid))
    rate = len(benign_alerted) / len(benign) if benign else 0.0
    if rate > MAX_BENIGN_RATE:
        problems.append(f"benign alert rate {rate:.2%} is above {MAX_BENIGN_RATE:.0%}")
    per_rule_benign = defaultdict(list)
    for eid in benign_alerted:
        for rid in alerted[eid]:
            per_rule_benign[rid].append(eid)
    benign_alerts = defaultdict(int)  # merged alerts whose records are benign
    for a in alerts:
        if any(e in benign_set for e in a.get("event_ids") or []):
            benign_alerts[a["rule_id"]] += 1
    attack_alerted = [eid for eid in attack_inv if alerted.get(eid)]

    # ---- write
    claimed_n = sum(1 for row in tech_rows if row[2])
    fired_n = sum(1 for row in tech_rows if row[3])
    sev_order = ["critical", "high", "medium", "low", "info"]
    out = []
    w = out.append
    w("# Detection report")
    w("")
    w("Generated by `make detection-report` (`scripts/detection-report.py`): the built-in rule pack")
    w(f"replayed over the real records of `../shared/data/cloudtrail` ({len(by_id):,} records) with `trailwatch replay`.")
    w("Do not edit by hand.")
    w("")
    w("## Summary")
    w("")
    n_alert = sum(1 for r in rules.values() if r.get("action") == "alert")
    w(f"- Rules: {len(rules)} ({n_alert} alert, {len(rules) - n_alert} metric).")
    w(f"- Stratus Red Team techniques: {len(techniques)}; claimed by a rule: {claimed_n}; "
      f"claimed and fired on their detonation log: {fired_n}/{claimed_n}.")
    w(f"- Benign records (Invictus, user agent not `{STRATUS_UA}…`): {len(benign):,}; "
      f"alerted: {len(benign_alerted)}; benign alert rate: {rate:.2%} (limit {MAX_BENIGN_RATE:.0%}).")
    w(f"- Stratus run inside the Invictus hour: {len(attack_alerted)} of its {len(attack_inv)} records alerted "
      "(many of its records are reconnaissance and set-up calls no rule targets).")
    unclaimed = [row[0] for row in tech_rows if not row[2]]
    if unclaimed:
        w(f"- Not claimed: {', '.join(f'`{t}`' for t in unclaimed)} (why: `shared/rules/README.md`, Coverage).")
    w(f"- Result: {'PASS' if not problems else 'FAIL'}.")
    for p in problems:
        w(f"  - {p}")
    w("")
    # ---- coverage by service and by ATT&CK tactic
    steps_of = {}
    for rid, r in rules.items():
        if r.get("matcher") == "sequence":
            steps_of[rid] = (r.get("pattern") or "").split()
    services = defaultdict(lambda: {"alert": 0, "metric": 0, "alerts": 0, "claims": set()})
    for rid, r in rules.items():
        srcs = event_sources(r) or set().union(*(event_sources(rules[s]) for s in steps_of.get(rid, []) if s in rules)) \
            or {"(any service)"}
        for src in srcs:
            row = services[src]
            row["alert" if r.get("action") == "alert" else "metric"] += 1
            row["alerts"] += alert_count.get(rid, 0)
            row["claims"].update(t[len("stratus:"):] for t in r.get("tags") or [] if t.startswith("stratus:"))
    w("## Coverage by service")
    w("")
    w("Services by the `eventSource` their rules watch (a rule watching several counts under each);")
    w("alerts are the merged alerts (e-mails) on the real records.")
    w("")
    w(f"{len(services)} services.")
    w("")
    w("| service | alert rules | metric rules | alerts on the real records | Stratus techniques claimed |")
    w("|---|---:|---:|---:|---:|")
    for src in sorted(services):
        row = services[src]
        w(f"| `{src}` | {row['alert']} | {row['metric']} | {row['alerts']} | {len(row['claims'])} |")
    w("")
    by_tactic = defaultdict(lambda: {"rules": 0, "techniques": set(), "claimed": set(), "fired": set()})
    fired_techniques = {row[0] for row in tech_rows if row[3]}
    for rid, r in rules.items():
        for tactic in tactics(r) or {"(untagged)"}:
            row = by_tactic[tactic]
            row["rules"] += 1
            row["techniques"].update(t for t in r.get("tags") or [] if re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t))
            for t in r.get("tags") or []:
                if t.startswith("stratus:") and t.split(".")[1] == tactic:
                    row["claimed"].add(t[len("stratus:"):])
    for row in by_tactic.values():
        row["fired"] = row["claimed"] & fired_techniques
    w("## Coverage by ATT&CK tactic")
    w("")
    w("Rules by their `attack.<tactic>` tags (else the tactic of their Stratus technique ids); ATT&CK")
    w("techniques are the distinct `attack.tNNNN` tags; Stratus techniques of that tactic claimed, and fired.")
    w("")
    w("| tactic | rules | ATT&CK techniques | Stratus techniques claimed | fired |")
    w("|---|---:|---:|---:|---:|")
    for tactic in TACTICS + ["(untagged)"]:
        if tactic in by_tactic:
            row = by_tactic[tactic]
            w(f"| {tactic} | {row['rules']} | {len(row['techniques'])} | {len(row['claimed'])} | {len(row['fired'])} |")
    w("")
    w("## Techniques")
    w("")
    w("A technique *fires* when a rule tagged `stratus:<id>` raises an alert on a record of its detonation log.")
    w("Metric rules do not alert; the last column shows the ones that counted records of the log.")
    w("")
    w("| technique | records | claimed by | fired | other alerting rules | metric rules (matches) |")
    w("|---|---:|---|---|---|---|")
    for t, n, claimed, fired, fired_by, others in tech_rows:
        c = ", ".join(f"`{r}`" for r in claimed) or "not claimed"
        f = ("yes: " + ", ".join(f"`{r}` ({fired_by[r]})" for r in fired)) if fired else ("**no**" if claimed else "-")
        o = ", ".join(f"`{r}` ({fired_by[r]})" for r in others) or "-"
        m = ", ".join(f"`{r}` ({k})" for r, k in sorted(tech_metric[t].items())) or "-"
        w(f"| `{t}` | {n} | {c} | {f} | {o} | {m} |")
    w("")
    w("## Benign traffic")
    w("")
    w(f"{len(benign):,} benign records; {len(benign_alerted)} raised at least one alert ({rate:.2%}).")
    w("Records are counted once however many rules or merged alerts name them. S3 writes user agents in")
    w("brackets (`[stratus-red-team_…]`); the bracket is ignored, so those attack records are not benign.")
    w("Stratus's own Terraform set-up and clean-up calls (user agent `APN/1.0 HashiCorp/1.0 Terraform/…`)")
    w("count as benign: they are ordinary infrastructure-as-code calls.")
    w("")
    if per_rule_benign:
        w("| rule | severity | benign records alerted | alerts (e-mails) | what |")
        w("|---|---|---:|---:|---|")
        for rid in sorted(per_rule_benign, key=lambda r: (-len(per_rule_benign[r]), r)):
            eids = per_rule_benign[rid]
            what = defaultdict(int)
            for e in eids:
                r = by_id[e][1]
                ua = (r.get("userAgent") or "").lstrip("[")
                who = "Terraform" if "Terraform" in ua else (ua.split("/")[0].split(" ")[0] or "?")
                what[f"{r.get('eventName')} by {who}"] += 1
            desc = "; ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(what.items()))
            w(f"| `{rid}` | {rules[rid].get('severity')} | {len(eids)} | {benign_alerts[rid]} | {desc} |")
    else:
        w("No rule alerted on benign traffic.")
    w("")
    w("## Rules")
    w("")
    w("Matches are over all records (benign, the Invictus attack run and the detonation logs);")
    w("for alert rules, alerts are the merged alerts (e-mails) replay printed.")
    w("")
    w("| rule | severity | action | matches | alerts | benign records alerted | claims |")
    w("|---|---|---|---:|---:|---:|---|")
    for rid, r in sorted(rules.items(), key=lambda kv: (kv[1].get("action") != "alert",
                                                        sev_order.index(kv[1].get("severity", "info")), kv[0])):
        cl = ", ".join(t[len("stratus:"):] for t in r["tags"] if t.startswith("stratus:")) or "-"
        al = alert_count.get(rid, 0) if r.get("action") == "alert" else "-"
        bn = len(per_rule_benign.get(rid, [])) if r.get("action") == "alert" else "-"
        w(f"| `{rid}` | {r.get('severity')} | {r.get('action')} | {matches.get(rid, 0)} | {al} | {bn} | {cl} |")
    w("")
    text = "\n".join(out)
    os.makedirs(os.path.dirname(os.path.abspath(opts.output)), exist_ok=True)
    with open(opts.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"techniques claimed {claimed_n}/{len(techniques)}, fired {fired_n}/{claimed_n}; "
          f"benign records alerted {len(benign_alerted)}/{len(benign)} ({rate:.2%}); wrote {os.path.relpath(opts.output)}")
    for p in problems:
        print(f"detection-report: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
