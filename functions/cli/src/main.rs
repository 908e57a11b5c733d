//! `trailwatch`: the command-line tool. Every sub-command calls the same
//! library functions as the Lambda functions, so what is tested locally is
//! what runs in AWS.

mod bench;
mod infra;
mod input;
mod replay;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use trailwatch::filter::{self, FilterPattern};
use trailwatch::pattern::EventPattern;
use trailwatch::rules;

#[derive(Parser)]
#[command(name = "trailwatch", version, about = "Watch CloudTrail activity: replay records, test patterns and rules.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run CloudTrail files through the rules, the way the functions do, and
    /// print each alert as a JSON line.
    Replay {
        /// Files or directories: S3 delivery files ({"Records":[...]}), JSON
        /// arrays, JSON lines; plain or .gz.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The delivery path to simulate.
        #[arg(long, value_enum, default_value_t = Via::Eventbridge)]
        via: Via,
        /// A directory of rules to add to the built-in pack.
        #[arg(long)]
        rules: Option<PathBuf>,
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
    /// Generate infrastructure as code from the rules.
    Infra {
        #[command(subcommand)]
        command: infra::Command,
    },
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
    },
}

/// A delivery path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Via {
    Eventbridge,
    Logs,
    Kinesis,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("trailwatch: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Replay { paths, via, rules } => replay::run(&paths, via, rules.as_deref()),
        Command::Infra { command } => infra::run(command),
        Command::BenchPatterns { patterns, events, passes, mode } => bench::run(&patterns, &events, passes, mode),
        Command::TestEventPattern { event_pattern, event } => {
            let pattern = EventPattern::parse(&input::text(&event_pattern)?)
                .context("the event pattern is not valid")?;
            let event: serde_json::Value =
                serde_json::from_str(&input::text(&event)?).context("the event is not valid JSON")?;
            println!("{}", json!({"Result": pattern.matches(&event)}));
            Ok(ExitCode::SUCCESS)
        }
        Command::TestMetricFilter { filter_pattern, log_event_messages } => {
            let pattern = FilterPattern::parse(&input::text(&filter_pattern)?)
                .context("the filter pattern is not valid")?;
            println!("{}", filter::test_metric_filter(&pattern, &log_event_messages));
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules { command: RulesCommand::List { dir, tags, json } } => {
            for r in rules::load(dir.as_deref())? {
                if !tags.is_empty() && !r.tags.iter().any(|t| tags.contains(t)) {
                    continue;
                }
                let (how, pattern) = match &r.matcher {
                    rules::Matcher::Event(p) => ("event_pattern", p.text()),
                    rules::Matcher::Filter(p) => ("filter_pattern", p.text()),
                };
                let action = match r.action {
                    rules::Action::Alert => "alert",
                    rules::Action::Metric => "metric",
                };
                if json {
                    let line = json!({
                        "id": r.id, "title": r.title, "severity": r.severity.as_str(), "action": action,
                        "tags": r.tags, "matcher": how, "pattern": pattern, "tests": r.tests.len(), "origin": r.origin,
                    });
                    println!("{line}");
                } else {
                    println!(
                        "{:<48} {:<8} {:<6} {:<14} {} [{}]",
                        r.id, r.severity.as_str(), action, how, r.title, r.tags.join(", ")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules { command: RulesCommand::Test { dir } } => {
            let all = rules::load(dir.as_deref())?;
            let (mut passed, mut failed) = (0, 0);
            for rule in &all {
                let base = if rule.origin.starts_with("builtin:") {
                    None
                } else {
                    PathBuf::from(&rule.origin).parent().map(PathBuf::from)
                };
                let report = rules::run_tests(rule, base.as_deref());
                if report.failures.is_empty() {
                    passed += 1;
                    println!("PASS {} ({} cases)", rule.id, report.passed);
                } else {
                    failed += 1;
                    println!("FAIL {}", rule.id);
                    for f in &report.failures {
                        println!("     {f}");
                    }
                }
            }
            println!("{passed} passed, {failed} failed");
            Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
