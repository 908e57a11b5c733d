//! The state store on DynamoDB (`trailwatch_aws::dynamodb`, against a moto
//! server on loopback) gives the answers of the in-memory store
//! (`trailwatch_engine::state::Memory`, the contract): one script of claims,
//! leases taken over and released, sent alerts, counts past the id cap,
//! observations out of order, twice, at the window's edges and at odd
//! times, run against both, every answer compared; then a pseudo-random
//! script of the same operations. Concurrent claims of one key: exactly one
//! wins. Concurrent counts: none lost (on moto serving one request at a
//! time: see [`SerialMoto`]). The TTL attribute: seconds.
//!
//! The table is created here with the Rust SDK, as the template creates it
//! (`pk`/`sk` strings, on demand, TTL on `expires`).

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};
use trailwatch_aws::dynamodb::DynamoDb;
use trailwatch_engine::state::{Claim, Memory, Millis, Observation, StateError, Store, MAX_REMEMBERED_IDS};
use trailwatch_tests::local::{free_port, venv_bin, Guard, Moto};

/// A far expiry: nothing in these scripts is meant to expire.
const EXPIRES: Millis = 4_102_444_800_000; // 2100-01-01

/// One operation of a script.
#[derive(Debug, Clone)]
enum Op {
    Claim {
        key: String,
        now: Millis,
        lease_until: Millis,
    },
    MarkSent(String),
    Release(String),
    Count {
        key: String,
        event_id: String,
    },
    Observe {
        group: String,
        observation: Observation,
        from: Millis,
        to: Millis,
    },
    /// The ids counted into a key (not in the trait: each store's own reader).
    Ids(String),
}

/// What an operation answered.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Claim(Claim),
    Done,
    Count(u64),
    Seen(Vec<Observation>),
    Ids(Vec<String>),
}

/// The suppressed ids of a key, read the store's own way.
trait Ids {
    async fn ids(&self, key: &str) -> Result<Vec<String>, StateError>;
}

impl Ids for Memory {
    async fn ids(&self, key: &str) -> Result<Vec<String>, StateError> {
        Ok(self.suppressed_ids(key))
    }
}

impl Ids for DynamoDb {
    async fn ids(&self, key: &str) -> Result<Vec<String>, StateError> {
        self.suppressed_ids(key).await
    }
}

async fn run<S: Store + Ids>(store: &S, ops: &[Op]) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let answer = match op {
            Op::Claim { key, now, lease_until } => {
                store.claim(key, *now, *lease_until, EXPIRES).await.map(Answer::Claim)
            }
            Op::MarkSent(key) => store.mark_sent(key).await.map(|()| Answer::Done),
            Op::Release(key) => store.release(key).await.map(|()| Answer::Done),
            Op::Count { key, event_id } => store.count(key, event_id, EXPIRES).await.map(Answer::Count),
            Op::Observe { group, observation, from, to } => {
                store.observe(group, observation.clone(), EXPIRES, *from, *to).await.map(Answer::Seen)
            }
            Op::Ids(key) => store.ids(key).await.map(Answer::Ids),
        };
        answers.push(answer.unwrap_or_else(|e| panic!("operation {i} ({op:?}) failed: {e}")));
    }
    answers
}

/// Compare answer by answer, naming the first operation that differs.
fn assert_same(ops: &[Op], memory: &[Answer], dynamodb: &[Answer]) {
    assert_eq!(memory.len(), dynamodb.len());
    for (i, (m, d)) in memory.iter().zip(dynamodb).enumerate() {
        assert_eq!(m, d, "operation {i} ({:?}): memory (left) and DynamoDB (right) differ", ops[i]);
    }
}

/// moto's application served one request at a time (`moto_server` always
/// serves requests on concurrent threads, and moto 5.2.5's DynamoDB does
/// not make a conditional write or an `ADD` atomic across them: two
/// concurrent conditional claims of one key can both succeed, and
/// concurrent `ADD`s lose counts, which DynamoDB itself never does). One
/// request at a time gives each request the atomicity DynamoDB documents,
/// so what the concurrency test checks is trailwatch's use of it.
struct SerialMoto {
    endpoint: String,
    _server: Guard,
}

impl SerialMoto {
    fn start() -> SerialMoto {
        const SERVE: &str = "import sys\n\
from werkzeug.serving import run_simple\n\
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app\n\
run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False, request_handler=MotoRequestHandler)\n";
        let port = free_port().expect("a free port");
        let python = venv_bin("python").expect("the project's virtual environment (make venv)");
        let child = std::process::Command::new(python)
            .args(["-c", SERVE, &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting moto's application");
        let server = Guard(child);
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < std::time::Duration::from_secs(30), "moto did not listen on {port} within 30 s");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        SerialMoto { endpoint: format!("http://127.0.0.1:{port}"), _server: server }
    }
}

/// A client of the moto server at `endpoint` and a fresh table on it, as
/// the template makes it.
async fn table(endpoint: &str, name: &str) -> (aws_sdk_dynamodb::Client, DynamoDb) {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("an attribute definition")
    };
    let key = |name: &str, ty| KeySchemaElement::builder().attribute_name(name).key_type(ty).build().expect("a key");
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .expect("CreateTable");
    let ttl = TimeToLiveSpecification::builder().attribute_name("expires").enabled(true).build().expect("a TTL spec");
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .expect("UpdateTimeToLive");
    (client.clone(), DynamoDb::new(client, name))
}

fn obs(at: Millis, event_id: &str, value: Option<&str>) -> Observation {
    Observation { at, event_id: event_id.into(), value: value.map(Into::into) }
}

fn claim(key: &str, now: Millis, lease_until: Millis) -> Op {
    Op::Claim { key: key.into(), now, lease_until }
}

fn count(key: &str, event_id: &str) -> Op {
    Op::Count { key: key.into(), event_id: event_id.into() }
}

fn observe(group: &str, observation: Observation, from: Millis, to: Millis) -> Op {
    Op::Observe { group: group.into(), observation, from, to }
}

/// The script: every case the in-memory store's semantics distinguish.
fn script() -> Vec<Op> {
    let long_key = "arn:aws:iam::111122223333:role/".to_string() + &"r".repeat(5000);
    let long_id = "e".repeat(2000);
    let mut ops = vec![
        // A claim is won once, held while leased, taken over after the lease
        // (the lease's last millisecond included), released, then sent.
        claim("a", 1_000, 2_000),
        claim("a", 1_500, 2_500),
        claim("a", 1_999, 2_500),
        claim("a", 2_000, 3_000),
        claim("a", 2_500, 4_000),
        Op::Release("a".into()),
        claim("a", 2_600, 4_000),
        Op::MarkSent("a".into()),
        Op::Release("a".into()),
        claim("a", 9_000, 10_000),
        count("a", "late-1"),
        Op::Ids("a".into()),
        // Sent without a claim; released without one.
        Op::MarkSent("b".into()),
        claim("b", 1_000, 2_000),
        Op::Release("never-claimed".into()),
        claim("never-claimed", 1_000, 2_000),
        // Counted before it is claimed: the claim is still won; ids in
        // arrival order, duplicates kept.
        count("c", "e-1"),
        count("c", "e-2"),
        count("c", "e-1"),
        claim("c", 1_000, 2_000),
        Op::Ids("c".into()),
        // Keys that look like other keys, are empty, non-ASCII, or past
        // DynamoDB's key size.
        claim("", 1_000, 2_000),
        claim("claim", 1_000, 2_000),
        claim("a#claim", 1_000, 2_000),
        claim("ünï cødé ☃", 1_000, 2_000),
        claim("ünï cødé ☃", 1_001, 2_000),
        claim(&long_key, 1_000, 2_000),
        claim(&long_key, 1_500, 2_000),
        claim(&long_key[..4000], 1_500, 2_000),
        count(&long_key, &long_id),
        Op::Ids(long_key.clone()),
        // Observations arriving out of order, twice, with equal times.
        observe("g", obs(30, "c", None), 0, 100),
        observe("g", obs(10, "a", Some("secret-1")), 0, 100),
        observe("other", obs(20, "x", None), 0, 100),
        observe("g", obs(20, "b", Some("secret-2")), 15, 30),
        observe("g", obs(20, "b", Some("secret-2")), 0, 100),
        observe("g", obs(20, "a", Some("secret-3")), 0, 100),
        // The same record with another value: the later one is kept.
        observe("g", obs(10, "a", Some("secret-9")), 10, 10),
        observe("g", obs(10, "a", None), 0, 100),
        // The window's edges are inclusive; an empty or inverted window.
        observe("g", obs(40, "d", None), 20, 30),
        observe("g", obs(41, "e", None), 31, 39),
        observe("g", obs(42, "f", None), 50, 10),
        // Odd times: before 1970, past 10^15 ms, the extremes.
        observe("t", obs(-5, "neg", None), i64::MIN, i64::MAX),
        observe("t", obs(1_000_000_000_000_001, "far", None), i64::MIN, i64::MAX),
        observe("t", obs(i64::MAX, "max", None), i64::MIN, i64::MAX),
        observe("t", obs(i64::MIN, "min", None), i64::MIN, i64::MAX),
        observe("t", obs(0, "zero", None), -5, 0),
        observe("t", obs(999_999_999_999_999, "edge", None), 999_999_999_999_999, 1_000_000_000_000_001),
        // Event ids that are empty, non-ASCII or past the sort key's size,
        // beside short ones at the same time; group names likewise.
        observe("ids", obs(5, &long_id, Some("long")), 0, 10),
        observe("ids", obs(5, "", None), 0, 10),
        observe("ids", obs(5, "ø", None), 0, 10),
        observe("ids", obs(5, "f", None), 0, 10),
        observe("ids", obs(5, &long_id, Some("again")), 5, 5),
        observe(&long_key, obs(1, "x", None), 0, 1),
        observe(&long_key[..4000], obs(1, "y", None), 0, 1),
        observe("", obs(1, "x", None), 0, 1),
    ];
    // Counts past the cap: the count goes on, the ids stop at the cap.
    for i in 0..MAX_REMEMBERED_IDS + 20 {
        ops.push(count("many", &format!("e-{i}")));
    }
    ops.push(Op::Ids("many".into()));
    ops.push(claim("many", 1_000, 2_000));
    ops
}

/// A pseudo-random script over few keys and groups, so that operations
/// meet: a linear congruential generator, seeded, for a reproducible run.
fn random_script(seed: u64, n: usize) -> Vec<Op> {
    let mut state = seed;
    let mut next = move |bound: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    };
    let keys = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"];
    let groups = ["g0", "g1", "g2"];
    let mut now: Millis = 1_000;
    let mut ops = Vec::with_capacity(n);
    for _ in 0..n {
        now += next(400) as Millis;
        let key = keys[next(keys.len() as u64) as usize].to_string();
        let op = match next(20) {
            0..=5 => Op::Claim { key, now, lease_until: now + next(2_000) as Millis },
            6 => Op::MarkSent(key),
            7 | 8 => Op::Release(key),
            9..=11 => Op::Count { key, event_id: format!("e-{}", next(30)) },
            12 => Op::Ids(key),
            _ => {
                let at = next(5_000) as Millis;
                let value = match next(3) {
                    0 => None,
                    v => Some(format!("v{v}")),
                };
                let from = at - next(2_000) as Millis;
                Op::Observe {
                    group: groups[next(groups.len() as u64) as usize].to_string(),
                    observation: Observation { at, event_id: format!("r-{}", next(40)), value },
                    from,
                    to: from + next(3_000) as Millis,
                }
            }
        };
        ops.push(op);
    }
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_gives_the_answers_of_the_in_memory_store() {
    let moto = Moto::start().expect("moto_server starts (make venv)");
    let (_, dynamodb) = table(&moto.endpoint(), "trailwatch-state").await;
    let ops = script();
    let memory = run(&Memory::default(), &ops).await;
    let remote = run(&dynamodb, &ops).await;
    assert_same(&ops, &memory, &remote);

    // The answers are the ones the contract gives (not merely equal).
    use Answer::{Claim as C, Done};
    let expected = [
        C(Claim::Won),
        C(Claim::Held { until: 2_000 }),
        C(Claim::Held { until: 2_000 }),
        C(Claim::Won),
        C(Claim::Held { until: 3_000 }),
        Done,
        C(Claim::Won),
        Done,
        Done,
        C(Claim::Sent),
    ];
    assert_eq!(memory[..expected.len()], expected);
    let n = MAX_REMEMBERED_IDS as u64 + 20;
    assert_eq!(remote[remote.len() - 3], Answer::Count(n), "the count goes on past the cap");
    match &remote[remote.len() - 2] {
        Answer::Ids(ids) => {
            assert_eq!(ids.len(), MAX_REMEMBERED_IDS);
            assert_eq!(ids.first().map(String::as_str), Some("e-0"));
        }
        other => panic!("{other:?}"),
    }
    let seen = |i: usize| match &remote[i] {
        Answer::Seen(s) => s.iter().map(|o| o.event_id.as_str()).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let at = |id: &str| {
        ops.iter().position(|op| matches!(op, Op::Observe { observation, .. } if observation.event_id == id))
    };
    let first_g = at("c").expect("in the script");
    assert_eq!(seen(first_g + 3), ["b", "c"], "the window [15, 30]");
    assert_eq!(seen(first_g + 4), ["a", "b", "c"], "one record observed twice counts once");
    assert_eq!(seen(first_g + 5), ["a", "a", "b", "c"], "equal times, by event id");

    let random = random_script(13, 400);
    let memory = run(&Memory::default(), &random).await;
    let (_, fresh) = table(&moto.endpoint(), "trailwatch-state-random").await;
    let remote = run(&fresh, &random).await;
    assert_same(&random, &memory, &remote);
    let kinds = |a: &Answer| match a {
        Answer::Claim(Claim::Won) => 0,
        Answer::Claim(Claim::Held { .. }) => 1,
        Answer::Claim(Claim::Sent) => 2,
        _ => 3,
    };
    for kind in 0..3 {
        assert!(memory.iter().any(|a| kinds(a) == kind), "the random script never answered claim kind {kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_of_one_key_have_one_winner_and_concurrent_counts_lose_none() {
    let moto = SerialMoto::start();
    let (_, store) = table(&moto.endpoint, "trailwatch-state-race").await;
    let store = Arc::new(store);
    const N: i64 = 16;
    let claims: Vec<_> = (0..N)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { (i, store.claim("race", 1_000, 60_000 + i, EXPIRES).await) })
        })
        .collect();
    let mut won = Vec::new();
    let mut held = Vec::new();
    for task in claims {
        let (i, claim) = task.await.expect("the task");
        match claim.expect("the claim") {
            Claim::Won => won.push(60_000 + i),
            Claim::Held { until } => held.push(until),
            Claim::Sent => panic!("nothing was sent"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one claim wins: {won:?}");
    assert_eq!(held.len(), N as usize - 1);
    assert!(held.iter().all(|until| *until == won[0]), "the others see the winner's lease: {held:?} vs {won:?}");

    const COUNTS: u64 = 8;
    let counts: Vec<_> = (0..N)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for j in 0..COUNTS {
                    seen.push(store.count("race", &format!("e-{i}-{j}"), EXPIRES).await.expect("counted"));
                }
                seen
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in counts {
        all.extend(task.await.expect("the task"));
    }
    all.sort_unstable();
    assert_eq!(all, (1..=N as u64 * COUNTS).collect::<Vec<_>>(), "every count answered once: none lost");
    let ids = store.suppressed_ids("race").await.expect("read");
    assert_eq!(ids.len(), MAX_REMEMBERED_IDS, "the ids stop at the cap, concurrently too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ttl_attribute_is_in_seconds_ttl_is_enabled_and_a_refused_claim_returns_the_old_item() {
    let moto = Moto::start().expect("moto_server starts (make venv)");
    let (client, store) = table(&moto.endpoint(), "trailwatch-state-ttl").await;
    let expires = 1_796_030_100_001; // 2026-11-30T09:15:00.001Z
    store.claim("k", 1_000, 2_000, expires).await.expect("claimed");
    store.observe("g", obs(5, "e", None), expires, 0, 10).await.expect("observed");
    let read = |pk: &str, sk: &str| {
        client
            .get_item()
            .table_name("trailwatch-state-ttl")
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
    };
    for (pk, sk) in [("alert#k", "claim"), ("group#g", "000000000000005#e")] {
        let item = read(pk, sk).await.expect("GetItem").item.unwrap_or_else(|| panic!("no item {pk} / {sk}"));
        assert_eq!(item.get("expires"), Some(&AttributeValue::N("1796030101".into())), "{pk}: seconds, rounded up");
    }
    let ttl =
        client.describe_time_to_live().table_name("trailwatch-state-ttl").send().await.expect("DescribeTimeToLive");
    let ttl = ttl.time_to_live_description.expect("a description");
    assert_eq!(ttl.time_to_live_status, Some(TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name.as_deref(), Some("expires"));

    // The claim's refusal carries the item that refused it
    // (ReturnValuesOnConditionCheckFailure = ALL_OLD), so `claim` needs no
    // second read on moto either.
    let refused = client
        .update_item()
        .table_name("trailwatch-state-ttl")
        .key("pk", AttributeValue::S("alert#k".into()))
        .key("sk", AttributeValue::S("claim".into()))
        .update_expression("SET lease_until = :l")
        .condition_expression("attribute_not_exists(pk)")
        .expression_attribute_values(":l", AttributeValue::N("1".into()))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .expect_err("the item exists");
    let item = match refused.into_service_error() {
        UpdateItemError::ConditionalCheckFailedException(e) => e.item.expect("ALL_OLD: the old item"),
        other => panic!("{other:?}"),
    };
    assert_eq!(item.get("lease_until"), Some(&AttributeValue::N("2000".into())));
    assert_eq!(item.get("status"), Some(&AttributeValue::S("claimed".into())));
}
