//! Why a template cannot be generated.

use trailwatch_engine::pattern::PatternError;

/// Why a template cannot be generated, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// A rule's event pattern does not read back as JSON.
    #[error("rule {rule}: its event pattern is not JSON ({source}); fix the rule's event_pattern")]
    PatternNotJson { rule: String, source: serde_json::Error },
    /// EventBridge would refuse a rule's event pattern.
    #[error("rule {rule}: EventBridge would refuse its event pattern ({source}); fix the rule's event_pattern")]
    PatternRefused { rule: String, source: PatternError },
    /// More EventBridge rules than an event bus may have.
    #[error(
        "the event_pattern rules need {needed} EventBridge rules; EventBridge allows {max} per event bus by default: \
         disable some rules (disabled.yaml in your rules directory) or write some as filter_pattern rules"
    )]
    TooManyEventRules { needed: usize, max: usize },
    /// More resources than a stack may have.
    #[error(
        "the template has {count} resources; CloudFormation allows {max} per stack: disable some metric rules \
         (each adds a metric filter and an alarm) or event_pattern rules (disabled.yaml in your rules directory)"
    )]
    TooManyResources { count: usize, max: usize },
    /// Two rules define one CIS control with different filter patterns.
    #[error(
        "rules {first} and {second} are both tagged CloudWatch.{control} but their filter patterns differ; the control's \
         metric filter must be AWS's exact pattern (Security Hub fails the control otherwise): remove the \
         CloudWatch.{control} tag from the rule whose pattern is not AWS's"
    )]
    ConflictingControl { control: u32, first: String, second: String },
    /// Two resources with one logical id: a generator bug, never the rules'.
    #[error(
        "two resources of the template have the logical id {id}: this is a bug in the generator; \
         please report it with the rules you generated from"
    )]
    DuplicateLogicalId { id: String },
}
