//! `trailwatch infra …`: the command line of the infrastructure generator
//! (`trailwatch-infra`), which writes the AWS SAM template that deploys
//! trailwatch for a rule set.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use trailwatch_engine::rules;
use trailwatch_infra::{generate, Flavor};

/// `trailwatch infra …`.
#[derive(Subcommand)]
pub enum Command {
    /// Write the AWS SAM template (YAML) that deploys trailwatch for a rule
    /// set: trail, bucket, log group, key, topic, functions, EventBridge
    /// rules, subscription, metric filters and alarms.
    Generate {
        /// A directory of rules to add to the built-in pack.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Where to write the template (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Plain CloudFormation (no SAM transform): functions as
        /// AWS::Lambda::Function with code from S3 parameters.
        #[arg(long)]
        plain: bool,
    },
}

/// Run an `infra` sub-command.
pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Generate { rules: dir, output, plain } => {
            let rules = rules::load(dir.as_deref())?;
            let template = generate(&rules, Flavor::from_plain(plain))?;
            let yaml = template.to_yaml();
            match output.as_deref() {
                Some(path) if path != Path::new("-") => {
                    std::fs::write(path, &yaml).with_context(|| format!("cannot write {}", path.display()))?;
                    for note in &template.notes {
                        note!("note: {note}");
                    }
                    note!("wrote {} ({})", path.display(), template.summary());
                }
                _ => std::io::stdout().lock().write_all(yaml.as_bytes()).context("cannot write the template")?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
