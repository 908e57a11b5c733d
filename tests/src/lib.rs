//! Fixtures shared by the end-to-end tests: the real CloudTrail records of
//! the shared dataset (`../shared/data/cloudtrail`, beside the clone, never
//! copied into the project), and the EventBridge events CloudTrail would
//! deliver for them as the independent benchmark generator
//! (`../shared/bench/gen_patterns.py`) writes them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// The project's root directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shared folder beside the clone (`../shared`), or `$TRAILWATCH_SHARED`;
/// an error that says where it was looked for when it is absent.
pub fn shared() -> Result<PathBuf> {
    let dir = std::env::var_os("TRAILWATCH_SHARED").map(PathBuf::from).unwrap_or_else(|| root().join("../shared"));
    if !dir.join("data/cloudtrail").is_dir() {
        bail!(
            "the shared dataset is not at {}: these tests read the real CloudTrail records from ../shared/data/cloudtrail beside the clone (CI has it); put it there or set TRAILWATCH_SHARED",
            dir.join("data/cloudtrail").display()
        );
    }
    Ok(dir)
}

/// (rule id, first event id) -> how many alerts.
pub type Tally = std::collections::BTreeMap<(String, String), usize>;

/// The alerts in SNS messages read back from the subscriber queue, counted
/// by (rule id, event id).
pub fn delivered(messages: &[Value]) -> Tally {
    let mut t = Tally::new();
    for m in messages {
        let alert: Value = serde_json::from_str(m["Message"].as_str().expect("a message")).expect("the JSON alert");
        let key = (
            alert["rule_id"].as_str().unwrap_or_default().to_string(),
            alert["event_id"].as_str().unwrap_or_default().to_string(),
        );
        *t.entry(key).or_default() += 1;
    }
    t
}

/// Every real record of the shared dataset, in the generator's order
/// (sorted Invictus files, then sorted Stratus detonation logs).
pub fn records() -> Result<Vec<Value>> {
    let base = shared()?.join("data/cloudtrail");
    let mut out = Vec::new();
    for dir in ["invictus-aws-dataset/CloudTrail", "stratus-red-team/detonation-logs"] {
        let mut files: Vec<_> = std::fs::read_dir(base.join(dir))
            .with_context(|| format!("reading {dir}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&f)?)?;
            let items = match v {
                Value::Object(mut m) => m.remove("Records").unwrap_or(Value::Null),
                other => other,
            };
            match items {
                Value::Array(a) => out.extend(a),
                _ => bail!("{} holds no records", f.display()),
            }
        }
    }
    Ok(out)
}

/// Run the shared benchmark generator (Python, independent of this code
/// base) with these arguments; its standard output.
fn generator(args: &[&str]) -> Result<String> {
    let shared = shared()?;
    let out = Command::new("python3")
        .arg(shared.join("bench/gen_patterns.py"))
        .args(args)
        .output()
        .context("running python3 ../shared/bench/gen_patterns.py")?;
    if !out.status.success() {
        bail!("gen_patterns.py {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The records as EventBridge events, written by the benchmark generator.
pub fn eventbridge_events() -> Result<Vec<Value>> {
    let text = generator(&["--events", "/dev/stdout"])?;
    text.lines().map(|l| serde_json::from_str(l).context("an event line")).collect()
}

/// The standard benchmark patterns for N, as the generator writes them.
pub fn bench_patterns(n: usize) -> Result<Vec<Value>> {
    Ok(serde_json::from_str(&generator(&[&n.to_string()])?)?)
}

/// Local stand-ins for AWS: a moto server and cargo-lambda's emulator, on
/// loopback, started and stopped by the tests themselves.
pub mod local {
    use std::net::{TcpListener, TcpStream};
    use std::path::PathBuf;
    use std::process::{Child, Command, Output, Stdio};
    use std::time::{Duration, Instant};

    use anyhow::{bail, Context, Result};
    use serde_json::Value;

    use super::root;

    /// The project's virtual environment's tools (`make venv` makes it).
    pub fn venv_bin(tool: &str) -> Result<PathBuf> {
        let p = root().join(".venv/bin").join(tool);
        if !p.exists() {
            bail!(
                "{} is missing: run `make venv` (or `make test`) to create the project's virtual environment",
                p.display()
            );
        }
        Ok(p)
    }

    /// A free TCP port on 127.0.0.1.
    pub fn free_port() -> Result<u16> {
        Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
    }

    fn wait_for(port: u16, what: &str) -> Result<()> {
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(30) {
                bail!("{what} did not listen on 127.0.0.1:{port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// A child process killed when dropped.
    pub struct Guard(pub Child);

    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// A moto server as the SNS endpoint, with the alert topic and a queue
    /// subscribed to it.
    pub struct Moto {
        pub port: u16,
        pub topic: String,
        pub queue: String,
        server: Option<Guard>,
    }

    impl Moto {
        /// Start on a free port.
        pub fn start() -> Result<Moto> {
            Moto::start_on(free_port()?)
        }

        /// Start on this port and create the topic and queue.
        pub fn start_on(port: u16) -> Result<Moto> {
            let child = Command::new(venv_bin("moto_server")?)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting moto_server")?;
            let server = Guard(child);
            wait_for(port, "moto_server")?;
            let out = ctl(&["setup", &endpoint(port)])?;
            let ids: Value = serde_json::from_slice(&out.stdout).context("moto setup output")?;
            Ok(Moto {
                port,
                topic: ids["topic"].as_str().unwrap_or_default().to_string(),
                queue: ids["queue"].as_str().unwrap_or_default().to_string(),
                server: Some(server),
            })
        }

        pub fn endpoint(&self) -> String {
            endpoint(self.port)
        }

        /// Every SNS message that reached the queue (the SQS bodies).
        pub fn drain(&self) -> Result<Vec<Value>> {
            let out = ctl(&["drain", &self.endpoint(), &self.queue])?;
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| serde_json::from_str(l).context("an SQS message body"))
                .collect()
        }

        /// Create the state table (as the template makes it) named `name`.
        pub fn state_table(&self, name: &str) -> Result<()> {
            ctl(&["table", &self.endpoint(), name]).map(|_| ())
        }

        /// Stop the server (as a network failure would).
        pub fn stop(&mut self) {
            self.server = None;
        }
    }

    fn endpoint(port: u16) -> String {
        format!("http://127.0.0.1:{port}")
    }

    /// CloudTrail's delivery to S3 in the moto server (`tests/support/s3_ctl.py`).
    pub fn s3_ctl(args: &[&str]) -> Result<Output> {
        script("tests/support/s3_ctl.py", args)
    }

    fn ctl(args: &[&str]) -> Result<Output> {
        script("tests/support/moto_ctl.py", args)
    }

    fn script(path: &str, args: &[&str]) -> Result<Output> {
        let out = Command::new(venv_bin("python")?)
            .arg(root().join(path))
            .args(args)
            .output()
            .with_context(|| format!("running {path}"))?;
        if !out.status.success() {
            bail!("{path} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(out)
    }

    /// A function binary served by cargo-lambda's runtime emulator
    /// (`cargo lambda watch --only-lambda-apis`): the real Lambda runtime
    /// client, invoked through the emulator's Invoke API.
    pub struct Function {
        port: u16,
        stdout: PathBuf,
        _function: Guard,
        _emulator: Guard,
    }

    impl Function {
        /// Serve the built binary `name` (from the workspace's target
        /// directory) with these environment variables.
        pub fn start(name: &str, env: &[(&str, String)]) -> Result<Function> {
            let bin = target_dir()?.join(name);
            if !bin.exists() {
                bail!("{} is not built: run `cargo build -p {name}` (make test does)", bin.display());
            }
            let port = free_port()?;
            let emulator = Command::new(venv_bin("cargo-lambda")?)
                .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1", "--invoke-port"])
                .arg(port.to_string())
                .current_dir(root())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting cargo lambda watch")?;
            let emulator = Guard(emulator);
            wait_for(port, "cargo lambda watch")?;
            let stdout = std::env::temp_dir().join(format!("trailwatch-{name}-{port}.out"));
            let log = std::fs::File::create(&stdout)?;
            let mut cmd = Command::new(&bin);
            cmd.env_clear()
                .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
                .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
                .env("AWS_LAMBDA_FUNCTION_NAME", "_")
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_REGION", "us-east-1")
                .stdout(log)
                .stderr(Stdio::null());
            for (k, v) in env {
                cmd.env(k, v);
            }
            let function = Guard(cmd.spawn().with_context(|| format!("starting {}", bin.display()))?);
            Ok(Function { port, stdout, _function: function, _emulator: emulator })
        }

        /// Invoke with this payload: Ok(response) or Err(the function's error).
        pub fn invoke(&self, payload: &Value) -> Result<std::result::Result<Value, String>> {
            let file = std::env::temp_dir().join(format!("trailwatch-payload-{}.json", self.port));
            std::fs::write(&file, payload.to_string())?;
            let out = Command::new(venv_bin("cargo-lambda")?)
                .args(["lambda", "invoke", "_", "--invoke-address", "127.0.0.1", "--invoke-port"])
                .arg(self.port.to_string())
                .arg("--data-file")
                .arg(&file)
                .output()
                .context("cargo lambda invoke")?;
            if out.status.success() {
                Ok(Ok(serde_json::from_slice(&out.stdout).context("the function's response")?))
            } else {
                Ok(Err(String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)))
            }
        }

        /// What the function wrote to stdout (its EMF metric lines).
        pub fn stdout(&self) -> String {
            std::fs::read_to_string(&self.stdout).unwrap_or_default()
        }
    }

    /// The target directory the test binary was built in (`target/debug`).
    pub fn target_dir() -> Result<PathBuf> {
        let exe = std::env::current_exe()?;
        // target/debug/deps/<test>-<hash>
        exe.parent().and_then(|deps| deps.parent()).map(PathBuf::from).context("locating the target directory")
    }
}
