//! Interim: replaced by the researched table.
pub fn eventbridge_source(event_source: &str) -> String {
    let service = event_source.strip_suffix(".amazonaws.com").unwrap_or(event_source);
    format!("aws.{service}")
}
pub fn detail_type(event_type: Option<&str>) -> &'static str {
    match event_type {
        Some("AwsConsoleSignIn") => "AWS Console Sign In via CloudTrail",
        Some("AwsServiceEvent") => "AWS Service Event via CloudTrail",
        Some("AwsConsoleAction") => "AWS Console Action via CloudTrail",
        _ => "AWS API Call via CloudTrail",
    }
}
