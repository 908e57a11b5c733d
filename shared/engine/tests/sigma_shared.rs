//! The real SigmaHQ CloudTrail rules (`../shared/sigma`, DRL 1.1, read in
//! place and never copied): every file loads or is refused for a stated
//! reason, every prefilter over-approximates its rule, and a handful of
//! rules give the verdicts their descriptions promise on records written
//! here after AWS's documented record shape.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use trailwatch_engine::pattern::EventPattern;
use trailwatch_engine::sigma::{self, SigmaBody, SigmaError, SigmaOptions, SigmaRule};

mod sigmahq;
use sigmahq::{set_path, sigma_dir};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    out.sort();
    out
}

/// Every file, loaded or refused.
fn load_all(dir: &Path) -> Vec<(PathBuf, Result<Vec<SigmaRule>, SigmaError>)> {
    files(dir)
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read rule");
            let origin = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
            let parsed = sigma::parse_file(&origin, &text, &SigmaOptions::default());
            (p, parsed)
        })
        .collect()
}

fn rule(dir: &Path, file: &str) -> SigmaRule {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read rule");
    let mut rules = sigma::parse_file(file, &text, &SigmaOptions::default()).expect("rule loads");
    assert_eq!(rules.len(), 1);
    rules.remove(0)
}

#[test]
fn every_file_loads_or_is_refused_for_its_reason() {
    let Some(dir) = sigma_dir() else { return };
    let all = load_all(&dir);
    assert_eq!(all.len(), 66, "66 SigmaHQ CloudTrail rules");
    let mut loaded = 0;
    let mut refused = Vec::new();
    for (path, result) in &all {
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        match result {
            Ok(rules) => {
                loaded += 1;
                let kind = match &rules[0].body {
                    SigmaBody::Detection { threshold: Some(t), .. } => format!("threshold {t:?}"),
                    SigmaBody::Detection { .. } => "detection".to_string(),
                    SigmaBody::Correlation(c) => format!("correlation {:?}", c.kind),
                };
                println!("loaded  {name}: {kind}");
            }
            Err(e) => {
                println!("refused {name}: {e}");
                assert!(e.is_refusal(), "{name} is invalid, not refused: {e}");
                refused.push((name, e.reason().to_string()));
            }
        }
    }
    println!("{loaded} loaded, {} refused", refused.len());
    let names: Vec<&str> = refused.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["aws_cloudtrail_console_login_success_from_susp_locations.yml", "aws_lambda_function_created_or_invoked.yml"]
    );
    assert!(refused[0].1.contains("placeholder %Legitimate_Countries%") && refused[0].1.contains("reject"));
    assert!(refused[1].1.contains("near"));
    assert_eq!(loaded, 64);
}

#[test]
fn the_placeholder_rule_loads_with_values() {
    let Some(dir) = sigma_dir() else { return };
    let file = "rules-placeholder/cloud/aws/cloudtrail/aws_cloudtrail_console_login_success_from_susp_locations.yml";
    let text = std::fs::read_to_string(dir.join(file)).expect("read");
    let mut options = SigmaOptions::default();
    options.placeholders.insert("Legitimate_Countries".into(), vec!["DE".into(), "FR".into()]);
    options.placeholders.insert("Legitimate_IP_Ranges".into(), vec!["192.0.2.*".into()]);
    let rules = sigma::parse_file(file, &text, &options).expect("loads with placeholder values");
    let login = |country: &str, ip: &str| json!({"eventName": "ConsoleLogin", "responseElements": {"ConsoleLogin": "Success"}, "src_country": country, "src_ip": ip});
    assert!(rules[0].matches(&login("XX", "198.51.100.7")));
    assert!(!rules[0].matches(&login("DE", "198.51.100.7")));
    assert!(!rules[0].matches(&login("XX", "192.0.2.10")));
}

#[test]
fn obsolete_aggregations_become_thresholds() {
    let Some(dir) = sigma_dir() else { return };
    let r = rule(&dir, "unsupported/cloud/aws_macic_evasion.yml");
    let SigmaBody::Detection { threshold: Some(t), .. } = &r.body else { panic!("a threshold") };
    assert_eq!(
        (t.count, t.window, t.group_by.clone(), t.distinct.clone()),
        (6, 600_000, vec!["sourceIPAddress".into()], None)
    );
    let r = rule(&dir, "unsupported/cloud/aws_enum_listing.yml");
    let SigmaBody::Detection { threshold: Some(t), .. } = &r.body else { panic!("a threshold") };
    assert_eq!((t.count, t.window), (51, 600_000));
    // `list*`: a case-insensitive prefix.
    assert_eq!(r.prefilter(), Some(json!({"detail": {"eventName": [{"prefix": {"equals-ignore-case": "list"}}]}})));
    assert!(r.matches(&json!({"eventName": "ListBuckets"})));
}

/// A small deterministic generator (no external randomness in tests).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(_) | Value::Bool(_) => out.push(v.to_string()),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect_strings(i, out)),
        Value::Null => {}
    }
}

/// Records built from the rule's own values (as written, with wildcards
/// filled in, in other cases, inside arrays): any the rule matches must
/// match its prefilter.
#[test]
fn prefilters_over_approximate_their_rules() {
    let Some(dir) = sigma_dir() else { return };
    let mut rng = Lcg(7);
    let (mut rules_checked, mut rules_hit) = (0, 0);
    let mut without_prefilter = Vec::new();
    for (path, result) in load_all(&dir) {
        let Ok(rules) = result else { continue };
        let text = std::fs::read_to_string(&path).expect("read");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("yaml");
        let mut pool = Vec::new();
        docs.iter().filter_map(|d| d.get("detection")).for_each(|d| collect_strings(d, &mut pool));
        let mut pool: Vec<Value> = pool
            .iter()
            .flat_map(|s| {
                let filled = s.replace(['*', '?'], "x").replace("\\x", "x");
                [
                    json!(filled.clone()),
                    json!(filled.to_uppercase()),
                    json!(format!("{filled}20150331")),
                    json!([filled]),
                ]
            })
            .collect();
        pool.extend([json!("Success"), json!("other"), Value::Null, json!({"Status": "Suspended"})]);
        for r in &rules {
            let fields = r.fields();
            let pattern =
                r.prefilter().map(|p| EventPattern::from_value(&p).expect("prefilter is a valid event pattern"));
            rules_checked += 1;
            if pattern.is_none() {
                without_prefilter.push(path.file_name().unwrap_or_default().to_string_lossy().to_string());
            }
            let mut hit = false;
            for _ in 0..400 {
                let mut record = Map::new();
                for f in &fields {
                    if rng.next(5) == 0 {
                        continue; // missing
                    }
                    let v = pool[rng.next(pool.len())].clone();
                    if !v.is_null() {
                        set_path(&mut record, f, v);
                    }
                }
                let record = Value::Object(record);
                if r.matches(&record) {
                    hit = true;
                    if let Some(p) = &pattern {
                        assert!(
                            p.matches(&json!({"detail": record})),
                            "{}: prefilter {} misses {record}",
                            r.title,
                            p.text()
                        );
                    }
                }
            }
            rules_hit += usize::from(hit);
        }
    }
    println!("{rules_checked} rules, {rules_hit} matched a generated record; no prefilter: {without_prefilter:?}");
    assert!(rules_hit >= 55, "the generator must exercise most rules ({rules_hit})");
    // Neither eventSource nor eventName constrained (userAgent, userIdentity,
    // a regex), or no single record can match (two eventNames at once).
    without_prefilter.sort();
    assert_eq!(
        without_prefilter,
        [
            "aws_cloudtrail_imds_malicious_usage.yml",
            "aws_cloudtrail_pua_trufflehog.yml",
            "aws_root_account_usage.yml",
            "aws_ses_messaging_enabled.yml",
            "aws_sts_assumerole_misuse.yml",
        ]
    );
}

fn api(source: &str, name: &str) -> Map<String, Value> {
    let v = json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/alice",
                         "accountId": "111122223333", "userName": "alice"},
        "eventTime": "2026-11-30T09:15:00Z", "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15.0", "requestParameters": null,
        "responseElements": null, "eventID": "0f0e0d0c-0000-4000-8000-000000000001", "readOnly": false,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333"
    });
    let Value::Object(m) = v else { unreachable!() };
    m
}

fn with(mut m: Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(e) = extra {
        for (k, v) in e {
            m.insert(k, v);
        }
    }
    Value::Object(m)
}

#[test]
fn sigmahq_rules_on_records() {
    let Some(dir) = sigma_dir() else { return };
    let base = "rules/cloud/aws/cloudtrail/";
    let check = |file: &str, record: Value, expect: bool| {
        let r = rule(&dir, &format!("{base}{file}"));
        assert_eq!(r.matches(&record), expect, "{file} on {record}");
        if expect {
            if let Some(p) = r.prefilter() {
                assert!(EventPattern::from_value(&p).expect("valid").matches(&json!({"detail": record})));
            }
        }
    };
    let ct = "cloudtrail.amazonaws.com";
    check("aws_cloudtrail_disable_logging.yml", with(api(ct, "StopLogging"), json!({})), true);
    check("aws_cloudtrail_disable_logging.yml", with(api(ct, "GetTrailStatus"), json!({})), false);
    // requestParameters|contains on an object: any string inside.
    let versioning = |status: &str| {
        with(
            api("s3.amazonaws.com", "PutBucketVersioning"),
            json!({"requestParameters": {"bucketName": "logs", "VersioningConfiguration": {"Status": status}}}),
        )
    };
    check("aws_disable_bucket_versioning.yml", versioning("Suspended"), true);
    check("aws_disable_bucket_versioning.yml", versioning("Enabled"), false);
    // requestParameters.layers|contains: '*' walks into the array.
    let layers = |layers: Value| {
        with(
            api("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2"),
            json!({"requestParameters": {"functionName": "f", "layers": layers}}),
        )
    };
    check(
        "aws_new_lambda_layer_attached.yml",
        layers(json!(["arn:aws:lambda:us-east-1:444455556666:layer:x:1"])),
        true,
    );
    check(
        "aws_new_lambda_layer_attached.yml",
        with(
            api("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2"),
            json!({"requestParameters": {"functionName": "f"}}),
        ),
        false,
    );
    // errorCode: null matches the missing errorCode of a success.
    check("aws_cloudtrail_bucket_deleted.yml", with(api("s3.amazonaws.com", "DeleteBucket"), json!({})), true);
    check(
        "aws_cloudtrail_bucket_deleted.yml",
        with(api("s3.amazonaws.com", "DeleteBucket"), json!({"errorCode": "AccessDenied"})),
        false,
    );
    // re, and a list-of-maps filter.
    let imds = |ip: &str| {
        with(
            api("ec2.amazonaws.com", "DescribeInstances"),
            json!({"userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/i-0abc"}, "sourceIPAddress": ip}),
        )
    };
    check("aws_cloudtrail_imds_malicious_usage.yml", imds("203.0.113.9"), true);
    check("aws_cloudtrail_imds_malicious_usage.yml", imds("AWS Internal"), false);
    // Case-insensitive: Sigma's 'Root' equals CloudTrail's "Root" in any case.
    let root = |event_type: &str| {
        with(api("s3.amazonaws.com", "ListBuckets"), json!({"userIdentity": {"type": "root"}, "eventType": event_type}))
    };
    check("aws_root_account_usage.yml", root("AwsApiCall"), true);
    check("aws_root_account_usage.yml", root("AwsServiceEvent"), false);
    // contains '*': present with any value.
    let export = with(
        api("ec2.amazonaws.com", "CreateInstanceExportTask"),
        json!({"responseElements": {"exportTask": {"state": "active"}}}),
    );
    check("aws_ec2_vm_export_failure.yml", export, true);
    check(
        "aws_ec2_vm_export_failure.yml",
        with(api("ec2.amazonaws.com", "CreateInstanceExportTask"), json!({"errorCode": "InvalidParameter"})),
        false,
    );
    // contains|all over the policy document string inside requestParameters.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::<YOUR-BUCKET-NAME>/*"]}]}"#;
    let put = |doc: &str| {
        with(
            api("iam.amazonaws.com", "PutUserPolicy"),
            json!({"userAgent": "S3 Browser 10.9.9 https://s3browser.com", "requestParameters": {"userName": "u", "policyName": "p", "policyDocument": doc}}),
        )
    };
    check("aws_iam_s3browser_templated_s3_bucket_policy_creation.yml", put(policy), true);
    check("aws_iam_s3browser_templated_s3_bucket_policy_creation.yml", put(&policy.replace("Allow", "Deny")), false);
    // fieldref: the filter holds when the two fields are equal.
    let login = |user: &str| {
        with(api("iam.amazonaws.com", "UpdateLoginProfile"), json!({"requestParameters": {"userName": user}}))
    };
    check("aws_update_login_profile.yml", login("bob"), true);
    check("aws_update_login_profile.yml", login("arn:aws:iam::111122223333:user/alice"), false);
    // A YAML string 'true' equals a JSON boolean true.
    let restore = |public: Value| {
        with(
            api("rds.amazonaws.com", "RestoreDBInstanceFromDBSnapshot"),
            json!({"responseElements": {"publiclyAccessible": public}}),
        )
    };
    check("aws_rds_public_db_restore.yml", restore(json!(true)), true);
    check("aws_rds_public_db_restore.yml", restore(json!(false)), false);
}
