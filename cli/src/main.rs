//! `trailwatch`: the command-line tool. `replay` runs the very handler the
//! Lambda functions run (with a stdout sink instead of SNS); the other
//! sub-commands call the same engine, so what is tested locally is what
//! runs in AWS. Exit status: 0 success, 1 a rule test failed, 2 an error
//! (as grep and ripgrep do); a closed stdout (`| head`) ends quietly.

/// A line on stderr. Unlike `eprintln!`, a closed stderr
/// (`trailwatch … 2>&1 | head`) is not worth a panic.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod backfill;
mod bench;
mod bench_handler;
mod infra;
mod input;
mod replay;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use trailwatch_engine::envelope::Via;
use trailwatch_engine::filter::{self, FilterPattern};
use trailwatch_engine::pattern::EventPattern;
use trailwatch_engine::rules;

#[derive(Parser)]
#[command(name = "trailwatch", version, about = "Watch CloudTrail activity: replay records, test patterns and rules.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which of a trail's log files to read, mapped to key prefixes (the key's
/// day, account and Region): `replay s3://` and `backfill`.
#[derive(Args)]
struct KeyArgs {
    /// The first day (YYYY-MM-DD, the key's day).
    #[arg(long)]
    since: Option<String>,
    /// The last day (YYYY-MM-DD, inclusive).
    #[arg(long)]
    until: Option<String>,
    /// Only this account's files.
    #[arg(long)]
    account: Option<String>,
    /// Only this Region's files.
    #[arg(long)]
    region: Option<String>,
}

impl KeyArgs {
    fn filter(self) -> Result<trailwatch_engine::s3::KeyFilter> {
        trailwatch_engine::s3::KeyFilter::new(self.since, self.until, self.account, self.region)
            .map_err(|e| anyhow::anyhow!(e))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run CloudTrail files through the functions' handler, delivered the
    /// way `--via` says, and print each alert as a JSON line.
    Replay {
        /// Files or directories: S3 delivery files ({"Records":[...]}), JSON
        /// arrays, JSON lines; plain or .gz. Or s3://BUCKET/PREFIX: the
        /// trail's log files read from S3 as the S3 function reads them
        /// (AWS_ENDPOINT_URL honoured).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// s3:// only: which log files to read.
        #[command(flatten)]
        keys: KeyArgs,
        /// s3:// only: objects read at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// The delivery path to simulate: eventbridge, logs or kinesis.
        #[arg(long, default_value_t = Via::EventBridge)]
        via: Via,
        /// A directory of rules to add to the built-in pack.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Print every match (identical ones in a batch merged) instead of
        /// what would be published after dedup and thresholds.
        #[arg(long)]
        no_dedup: bool,
        /// Without state, as the functions run without TRAILWATCH_STATE_TABLE:
        /// each batch's matches sent, identical ones merged; no thresholds
        /// or sequences.
        #[arg(long, conflicts_with = "no_dedup")]
        no_state: bool,
    },
    /// Enqueue the trail's log files under s3://BUCKET/PREFIX on the S3
    /// function's queue (one message per file, the shape the function
    /// reads), so Lambda processes history in parallel; reports the
    /// queue's depth.
    Backfill {
        /// s3://BUCKET/PREFIX
        #[arg(required = true)]
        urls: Vec<PathBuf>,
        /// The S3 function's SQS queue URL.
        #[arg(long)]
        queue: String,
        /// Which log files to enqueue.
        #[command(flatten)]
        keys: KeyArgs,
        /// Report the queue's depth every 10 s until it is empty.
        #[arg(long)]
        watch: bool,
    },
    /// Test an EventBridge event pattern against an event, like
    /// `aws events test-event-pattern`.
    TestEventPattern {
        /// The pattern: JSON text or file://path.
        #[arg(long)]
        event_pattern: String,
        /// The event: JSON text or file://path.
        #[arg(long)]
        event: String,
    },
    /// Test a CloudWatch Logs filter pattern against log messages, like
    /// `aws logs test-metric-filter`.
    TestMetricFilter {
        /// The filter pattern: text or file://path.
        #[arg(long)]
        filter_pattern: String,
        /// The log event messages.
        #[arg(long, num_args = 1.., required = true)]
        log_event_messages: Vec<String>,
    },
    /// List or test rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Benchmark a pattern set: events/s over JSON-lines events, parsing
    /// each event inside the timed pass (best of the passes).
    BenchPatterns {
        /// The patterns: a JSON array of event patterns.
        #[arg(long)]
        patterns: PathBuf,
        /// The events: one JSON event per line.
        #[arg(long)]
        events: PathBuf,
        /// Timed passes over all events; the fastest is reported.
        #[arg(long, default_value_t = 5)]
        passes: u32,
        /// How each event is read: streamed from its text, or parsed to a DOM first.
        #[arg(long, value_enum, default_value_t = bench::Mode::Stream)]
        mode: bench::Mode,
    },
    /// Benchmark the functions' handler: each PAYLOAD a file of Lambda
    /// invocation bodies, one JSON document per line (EventBridge events,
    /// CloudWatch Logs subscription events, Kinesis events); the last line
    /// is one JSON object (bodies, records, bytes of record JSON, seconds,
    /// records_per_sec, mib_per_sec), the best of the passes. A gzip'd
    /// PAYLOAD is a CloudTrail log file, read as the S3 function reads an
    /// object (its bytes: the file's JSON once inflated).
    BenchHandler {
        #[arg(required = true)]
        payloads: Vec<PathBuf>,
        /// Timed passes over all bodies; the fastest is reported.
        #[arg(long, default_value_t = 5)]
        passes: u32,
    },
    /// Check Sigma rule files: which load, which are refused and why.
    Sigma {
        #[command(subcommand)]
        command: SigmaCommand,
    },
    /// Generate infrastructure as code from the rules.
    Infra {
        #[command(subcommand)]
        command: infra::Command,
    },
}

#[derive(Subcommand)]
enum SigmaCommand {
    /// Report every Sigma file of a directory (recursively): loaded (with
    /// the ids of its rules and any warning), refused (valid Sigma that
    /// trailwatch cannot run) or invalid, with the reason and the line.
    /// Exits 0 when every file loads, 1 when some are refused, 2 on
    /// invalid ones.
    Check { dir: PathBuf },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Show the rules: the built-in pack, plus a directory's.
    List {
        dir: Option<PathBuf>,
        /// Only the rules carrying this tag (e.g. the ATT&CK technique
        /// `attack.t1562.008` or the Security Hub control `CloudWatch.4`); repeat for any of several.
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// One JSON object per line, pattern text included, for other tools.
        #[arg(long)]
        json: bool,
    },
    /// Run every rule's tests (the built-in pack's and a directory's).
    Test {
        dir: Option<PathBuf>,
        /// The shared CloudTrail dataset (`../shared/data/cloudtrail`), for
        /// test cases that name one of its records; without it they are
        /// reported as skipped.
        #[arg(long, env = "TRAILWATCH_DATASET")]
        dataset: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) if closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            note!("trailwatch: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether the error is stdout's reader going away (`trailwatch … | head`).
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Replay { paths, via, rules, no_dedup, no_state, keys, concurrency } => {
            let state = match (no_state, no_dedup) {
                (true, _) => replay::Mode::None,
                (false, true) => replay::Mode::NoDedup,
                (false, false) => replay::Mode::Dedup,
            };
            if paths.iter().any(|p| p.to_string_lossy().starts_with("s3://")) {
                return replay::run_s3(&paths, &keys.filter()?, rules.as_deref(), state, concurrency);
            }
            replay::run(&paths, via, rules.as_deref(), state)
        }
        Command::Backfill { urls, queue, keys, watch } => backfill::run(&urls, &keys.filter()?, &queue, watch),
        Command::Infra { command } => infra::run(command),
        Command::BenchPatterns { patterns, events, passes, mode } => bench::run(&patterns, &events, passes, mode),
        Command::BenchHandler { payloads, passes } => bench_handler::run(&payloads, passes),
        Command::TestEventPattern { event_pattern, event } => {
            let pattern =
                EventPattern::parse(&input::text(&event_pattern)?).context("the event pattern is not valid")?;
            let event: serde_json::Value =
                serde_json::from_str(&input::text(&event)?).context("the event is not valid JSON")?;
            writeln!(out, "{}", json!({"Result": pattern.matches(&event)}))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::TestMetricFilter { filter_pattern, log_event_messages } => {
            let pattern =
                FilterPattern::parse(&input::text(&filter_pattern)?).context("the filter pattern is not valid")?;
            writeln!(out, "{}", filter::test_metric_filter(&pattern, &log_event_messages))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sigma { command: SigmaCommand::Check { dir } } => sigma_check(&mut out, &dir),
        Command::Rules { command: RulesCommand::List { dir, tags, json } } => {
            let (loaded, notes) = rules::load_noted(dir.as_deref())?;
            for e in &notes.refused {
                note!("trailwatch: {e}");
            }
            for w in &notes.warnings {
                note!("trailwatch: warning: {w}");
            }
            for r in loaded {
                if !tags.is_empty() && !r.tags.iter().any(|t| tags.contains(t)) {
                    continue;
                }
                let (how, pattern) = match &r.pattern {
                    rules::Pattern::Event(p) => ("event_pattern", p.text().to_string()),
                    rules::Pattern::Filter(p) => ("filter_pattern", p.text().to_string()),
                    rules::Pattern::Sequence(q) => ("sequence", q.steps.join(" ")),
                    rules::Pattern::Sigma(s) => {
                        ("sigma", s.prefilter().map(|p| p.text().to_string()).unwrap_or_default())
                    }
                };
                let action = match r.action {
                    rules::Action::Alert => "alert",
                    rules::Action::Metric => "metric",
                };
                if json {
                    let line = json!({
                        "id": r.id, "title": r.title, "severity": r.severity.as_str(), "action": action,
                        "tags": r.tags, "matcher": how, "pattern": pattern, "tests": r.tests.len(), "origin": r.origin,
                        "author": r.author,
                    });
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(
                        out,
                        "{:<48} {:<8} {:<6} {:<14} {} [{}]",
                        r.id,
                        r.severity.as_str(),
                        action,
                        how,
                        r.title,
                        r.tags.join(", ")
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules { command: RulesCommand::Test { dir, dataset } } => {
            rules_test(&mut out, dir.as_deref(), dataset.as_deref())
        }
    }
}

/// `trailwatch sigma check DIR`: a line per Sigma file, then the totals.
fn sigma_check(out: &mut impl Write, dir: &Path) -> Result<ExitCode> {
    use trailwatch_engine::sigma;
    anyhow::ensure!(dir.is_dir(), "{} is not a directory of Sigma rules", dir.display());
    let files = rules::rule_files(dir)?;
    let mut parsed = Vec::new();
    let (mut loaded, mut refused, mut invalid) = (0, 0, 0);
    for path in &files {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        if !sigma::looks_like_sigma(&text) {
            continue;
        }
        match sigma::parse_file(&path.display().to_string(), &text, &sigma::SigmaOptions::default()) {
            Ok(rules) => {
                loaded += 1;
                let ids: Vec<String> = rules.iter().map(|r| r.id.clone().unwrap_or_else(|| r.title.clone())).collect();
                writeln!(out, "loaded   {}: {}", path.display(), ids.join(", "))?;
                parsed.extend(rules);
            }
            Err(e) if e.is_refusal() => {
                refused += 1;
                writeln!(out, "refused  {e}")?;
            }
            Err(e) => {
                invalid += 1;
                writeln!(out, "invalid  {e}")?;
            }
        }
    }
    if let Err(e) = sigma::resolve_correlations(&mut parsed) {
        invalid += 1;
        writeln!(out, "invalid  {e}")?;
    }
    writeln!(out, "{loaded} loaded, {refused} refused, {invalid} invalid")?;
    Ok(match (refused, invalid) {
        (_, 1..) => ExitCode::from(2),
        (1.., 0) => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    })
}

/// `trailwatch rules test`: every rule's cases, a line per rule, then the
/// totals (`N passed, N failed, N skipped`).
fn rules_test(out: &mut impl Write, dir: Option<&Path>, dataset: Option<&Path>) -> Result<ExitCode> {
    if let Some(d) = dataset {
        anyhow::ensure!(
            d.is_dir(),
            "the dataset directory {} does not exist: give --dataset the shared records' directory (../shared/data/cloudtrail), or leave it out to skip the cases that need it",
            d.display()
        );
    }
    let all = rules::load(dir)?;
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for rule in &all {
        let base = if rule.origin.starts_with("builtin:") { None } else { Path::new(&rule.origin).parent() };
        let report = rules::run_tests_in(rule, &all, base, dataset);
        skipped += report.skipped;
        let skipped_note =
            if report.skipped > 0 { format!(", {} skipped: no dataset", report.skipped) } else { String::new() };
        if report.failures.is_empty() {
            passed += 1;
            writeln!(out, "PASS {} ({} cases{skipped_note})", rule.id, report.passed)?;
        } else {
            failed += 1;
            writeln!(out, "FAIL {}", rule.id)?;
            for f in &report.failures {
                writeln!(out, "     {f}")?;
            }
        }
    }
    if skipped > 0 {
        writeln!(
            out,
            "note: {skipped} cases name records of the shared dataset and were skipped; pass --dataset ../shared/data/cloudtrail to run them"
        )?;
    }
    writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped")?;
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
