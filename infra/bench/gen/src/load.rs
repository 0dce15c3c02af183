//! `bench-load`: the load benchmark's tools, started by `infra/bench/load.py`.
//!
//! `bench-load api`: N concurrent clients against modelmon's SageMaker API for a fixed time, in
//! the mix of a dashboard and an automation, then a check of the state they left; against
//! `modelmon serve` or the create-schedule function behind the Lambda runtime API
//! (`cargo lambda watch`, its Function URL).
//!
//! Each client holds one keep-alive connection (as an SDK client does) and has one request in
//! flight at a time: List (25%), Describe (25%), ListMonitoringExecutions (15%), Create (12%),
//! Update (11%) and Delete (12%). A client creates, updates and deletes only schedules of its
//! own (at most four at a time), so it knows which of them must exist; Describe and the List of
//! executions pick one of the preloaded schedules or one of the client's own. Every answer
//! other than 200 is an error. The clients' random choices are seeded: the same run asks for
//! the same requests.
//!
//! At the end: every schedule that was created and not deleted (and every preloaded one) must
//! be listed exactly once, and nothing else of the run's prefix. A schedule whose last change
//! got no clear answer (a dropped connection) is left out of the check and counted. The report
//! (JSON) names the expected schedules so the caller can check their timers too.
//!
//! `bench-load durability`: what a durable write of the local table costs: `FileTable` updates
//! (temp file fsynced, renamed, folder fsynced) against the same file steps without the fsyncs,
//! one writer at a time and many at once; and timer updates of the `LocalScheduler`, whose
//! writers share one file and commit in groups.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use serde_json::{json, Value};
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(
    name = "bench-load",
    about = "Load on modelmon's SageMaker API, and what durable local writes cost"
)]
enum Cli {
    /// Concurrent clients against the API, then the check of the state they left.
    Api(Args),
    /// The cost of a durable write of the local table and scheduler.
    Durability(DurabilityArgs),
}

#[derive(clap::Args)]
struct Args {
    /// The API: http://127.0.0.1:PORT/ (serve) or http://127.0.0.1:PORT/lambda-url/create-schedule/.
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// How long the clients run.
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Schedules created before the clients start (what the dashboard lists and describes).
    #[arg(long, default_value_t = 50)]
    preload: usize,
    /// Every schedule name starts with this.
    #[arg(long, default_value = "load")]
    prefix: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the report goes (JSON).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    List,
    Describe,
    ListExecutions,
    Create,
    Update,
    Delete,
}

impl Op {
    const ALL: [Op; 6] = [
        Op::List,
        Op::Describe,
        Op::ListExecutions,
        Op::Create,
        Op::Update,
        Op::Delete,
    ];

    fn target(self) -> &'static str {
        match self {
            Op::List => "ListMonitoringSchedules",
            Op::Describe => "DescribeMonitoringSchedule",
            Op::ListExecutions => "ListMonitoringExecutions",
            Op::Create => "CreateMonitoringSchedule",
            Op::Update => "UpdateMonitoringSchedule",
            Op::Delete => "DeleteMonitoringSchedule",
        }
    }

    /// Draws an operation: weights 25, 25, 15, 12, 11, 12 (of 100).
    fn draw(roll: u64) -> Op {
        match roll % 100 {
            0..25 => Op::List,
            25..50 => Op::Describe,
            50..65 => Op::ListExecutions,
            65..77 => Op::Create,
            77..88 => Op::Update,
            _ => Op::Delete,
        }
    }
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One client's HTTP/1.1 keep-alive connection, made again after a failure.
struct Connection {
    address: String,
    host: String,
    path: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    fn new(url: &str) -> Result<Connection, String> {
        let rest = url.strip_prefix("http://").ok_or("the URL must start with http://")?;
        let (address, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
        Ok(Connection {
            address: address.to_string(),
            host: address.to_string(),
            path,
            sender: None,
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = TcpStream::connect(&self.address)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// One request: the status and the body, or what went wrong on the way.
    async fn call(&mut self, op: Op, body: &Value) -> Result<(u16, Value), String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(self.connect().await?);
        }
        let sender = self.sender.as_mut().expect("connected");
        sender.ready().await.map_err(|e| format!("connection: {e}"))?;
        let request = hyper::Request::post(&self.path)
            .header("host", &self.host)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("SageMaker.{}", op.target()))
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        let result = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("request: {e}"))?;
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await.map_err(|e| format!("body: {e}"))?;
            let body = serde_json::from_slice(&bytes.to_bytes()).unwrap_or(Value::Null);
            Ok((status, body))
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }
}

fn create_request(name: &str, expression: &str) -> Value {
    json!({
        "MonitoringScheduleName": name,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": expression},
            "MonitoringJobDefinition": {
                "BaselineConfig": {
                    "ConstraintsResource": {"S3Uri": "s3://models/churn/constraints.json"},
                    "StatisticsResource": {"S3Uri": "s3://models/churn/statistics.json"}
                },
                "MonitoringInputs": [{"EndpointInput": {"EndpointName": "churn-endpoint", "LocalPath": "/opt/ml/processing/input"}}],
                "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://reports/monitoring", "LocalPath": "/opt/ml/processing/output"}}]},
                "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
                "MonitoringAppSpecification": {"ImageUri": "analyzer"},
                "RoleArn": "arn:aws:iam::123456789012:role/monitoring"
            },
            "MonitoringType": "DataQuality"
        }
    })
}

/// What one client saw.
#[derive(Default)]
struct Outcome {
    /// (operation, latency in microseconds) of every answered request, errors included.
    latencies: Vec<(Op, u64)>,
    /// Errors by "operation: code".
    errors: BTreeMap<String, usize>,
    /// The client's schedules that must exist at the end.
    live: Vec<String>,
    /// Schedules whose last change got no clear answer.
    uncertain: Vec<String>,
}

const MAX_OWN: usize = 4;

async fn client(url: String, id: usize, seed: u64, prefix: String, preloaded: Vec<String>, until: Instant) -> Outcome {
    let mut connection = Connection::new(&url).expect("the URL was checked");
    let mut rng = Rng(seed ^ (id as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut outcome = Outcome::default();
    let mut created = 0usize;
    while Instant::now() < until {
        let mut op = Op::draw(rng.next());
        if matches!(op, Op::Update | Op::Delete) && outcome.live.is_empty() {
            op = Op::Create;
        } else if op == Op::Create && outcome.live.len() >= MAX_OWN {
            op = Op::Delete;
        }
        let own = |rng: &mut Rng, live: &Vec<String>| live[rng.below(live.len())].clone();
        let any = |rng: &mut Rng, live: &Vec<String>| {
            let pick = rng.below(preloaded.len() + live.len());
            preloaded
                .get(pick)
                .cloned()
                .unwrap_or_else(|| live[pick - preloaded.len()].clone())
        };
        let (body, name) = match op {
            Op::List => (json!({}), None),
            Op::Describe => {
                let name = any(&mut rng, &outcome.live);
                (json!({ "MonitoringScheduleName": name }), None)
            }
            Op::ListExecutions => {
                let name = any(&mut rng, &outcome.live);
                (json!({ "MonitoringScheduleName": name }), None)
            }
            Op::Create => {
                let name = format!("{prefix}-c{id}-{created}");
                created += 1;
                (create_request(&name, "cron(0 * ? * * *)"), Some(name))
            }
            Op::Update => {
                let name = own(&mut rng, &outcome.live);
                let mut request = create_request(&name, &format!("cron(0 {} ? * * *)", rng.below(24)));
                request.as_object_mut().expect("an object").remove("Tags");
                (request, Some(name))
            }
            Op::Delete => {
                let name = own(&mut rng, &outcome.live);
                (json!({ "MonitoringScheduleName": name }), Some(name))
            }
        };
        let started = Instant::now();
        let answer = connection.call(op, &body).await;
        let micros = started.elapsed().as_micros() as u64;
        let ok = matches!(answer, Ok((200, _)));
        match &answer {
            Ok((200, _)) => {}
            Ok((status, body)) => {
                let code = body["__type"]
                    .as_str()
                    .map_or_else(|| status.to_string(), str::to_string);
                *outcome.errors.entry(format!("{}: {code}", op.target())).or_default() += 1;
            }
            Err(err) => {
                let kind = err.split(':').next().unwrap_or("transport").to_string();
                *outcome.errors.entry(format!("{}: {kind}", op.target())).or_default() += 1;
            }
        }
        if answer.is_ok() {
            outcome.latencies.push((op, micros));
        }
        // What the client now knows of its own schedules.
        if let Some(name) = name {
            let clear = matches!(answer, Ok((status, _)) if status < 500);
            match (op, ok, clear) {
                (Op::Create, true, _) => outcome.live.push(name),
                (Op::Delete, true, _) => outcome.live.retain(|n| *n != name),
                (_, false, false) => {
                    outcome.live.retain(|n| *n != name);
                    outcome.uncertain.push(name);
                }
                _ => {}
            }
        }
    }
    outcome
}

/// Every schedule of the run's prefix, through ListMonitoringSchedules' pages.
async fn list_all(url: &str, prefix: &str) -> Result<Vec<String>, String> {
    let mut connection = Connection::new(url)?;
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = json!({ "NameContains": prefix, "SortBy": "Name", "MaxResults": 100 });
        if let Some(token) = &token {
            request["NextToken"] = json!(token);
        }
        let (status, page) = connection.call(Op::List, &request).await?;
        if status != 200 {
            return Err(format!("ListMonitoringSchedules answered {status}: {page}"));
        }
        for summary in page["MonitoringScheduleSummaries"].as_array().into_iter().flatten() {
            names.push(
                summary["MonitoringScheduleName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        match page["NextToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => return Ok(names),
        }
    }
}

/// Creates the preloaded schedules, ten at a time.
async fn preload(url: &str, prefix: &str, count: usize) -> Result<Vec<String>, String> {
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}-pre-{i}")).collect();
    for chunk in names.chunks(10) {
        let mut tasks = Vec::new();
        for name in chunk {
            let (url, name) = (url.to_string(), name.clone());
            tasks.push(tokio::spawn(async move {
                let mut connection = Connection::new(&url)?;
                match connection
                    .call(Op::Create, &create_request(&name, "cron(0 * ? * * *)"))
                    .await?
                {
                    (200, _) => Ok(()),
                    (status, body) => Err(format!("preloading {name}: {status} {body}")),
                }
            }));
        }
        for task in tasks {
            task.await.map_err(|e| e.to_string())??;
        }
    }
    Ok(names)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn summary(latencies: &mut [u64]) -> Value {
    latencies.sort_unstable();
    json!({
        "count": latencies.len(),
        "p50_ms": percentile(latencies, 50.0),
        "p99_ms": percentile(latencies, 99.0),
        "max_ms": latencies.last().map_or(0.0, |m| *m as f64 / 1000.0),
    })
}

async fn run(args: Args) -> Result<Value, String> {
    Connection::new(&args.url)?;
    let preloaded = preload(&args.url, &args.prefix, args.preload).await?;
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.seconds);
    let tasks: Vec<_> = (0..args.clients)
        .map(|id| {
            let (url, prefix, preloaded) = (args.url.clone(), args.prefix.clone(), preloaded.clone());
            tokio::spawn(client(url, id, args.seed, prefix, preloaded, until))
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.map_err(|e| e.to_string())?);
    }
    let elapsed = started.elapsed().as_secs_f64();

    let mut all: Vec<u64> = outcomes
        .iter()
        .flat_map(|o| o.latencies.iter().map(|(_, l)| *l))
        .collect();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for outcome in &outcomes {
        for (kind, count) in &outcome.errors {
            *errors.entry(kind.clone()).or_default() += count;
        }
    }
    let mut by_op = serde_json::Map::new();
    for op in Op::ALL {
        let mut latencies: Vec<u64> = outcomes
            .iter()
            .flat_map(|o| o.latencies.iter().filter(|(o, _)| *o == op).map(|(_, l)| *l))
            .collect();
        by_op.insert(op.target().to_string(), summary(&mut latencies));
    }
    // Answered requests, error answers included (a dropped connection is an error, not an answer).
    let requests = all.len();
    let overall = summary(&mut all);

    let expected: BTreeSet<String> = preloaded
        .iter()
        .cloned()
        .chain(outcomes.iter().flat_map(|o| o.live.iter().cloned()))
        .collect();
    let uncertain: BTreeSet<String> = outcomes.iter().flat_map(|o| o.uncertain.iter().cloned()).collect();
    let listed = list_all(&args.url, &args.prefix).await?;
    let mut seen = BTreeSet::new();
    let duplicates: Vec<&String> = listed.iter().filter(|name| !seen.insert(*name)).collect();
    let missing: Vec<&String> = expected.iter().filter(|name| !seen.contains(*name)).collect();
    let unexpected: Vec<&String> = seen
        .iter()
        .copied()
        .filter(|name| !expected.contains(*name) && !uncertain.contains(*name))
        .collect();
    Ok(json!({
        "clients": args.clients,
        "seconds": elapsed,
        "requests": requests,
        "rps": requests as f64 / elapsed,
        "latency": overall,
        "by_operation": by_op,
        "errors": errors,
        "error_count": errors.values().sum::<usize>(),
        "preloaded": preloaded.len(),
        "expected": expected,
        "uncertain": uncertain,
        "listed": listed.len(),
        "missing": missing,
        "unexpected": unexpected,
        "duplicates": duplicates,
        "consistent": missing.is_empty() && unexpected.is_empty() && duplicates.is_empty(),
    }))
}

#[derive(clap::Args)]
struct DurabilityArgs {
    /// A scratch folder on the file system to measure (its content is replaced).
    #[arg(long)]
    dir: PathBuf,
    /// Writes per measurement.
    #[arg(long, default_value_t = 400)]
    writes: usize,
    /// Writers at once in the concurrent measurements.
    #[arg(long, default_value_t = 16)]
    writers: usize,
    #[arg(long)]
    out: PathBuf,
}

/// A schedule record's size and shape.
fn record(n: usize) -> Value {
    let mut body = create_request(&format!("durable-{n}"), "cron(0 * ? * * *)");
    body["MonitoringScheduleArn"] = json!(format!(
        "arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/durable-{n}"
    ));
    body["CreationTime"] = json!(1_764_000_000.123);
    body["LastModifiedTime"] = json!(1_764_000_000.123);
    body["MonitoringScheduleStatus"] = json!("Scheduled");
    body
}

/// `writers` tasks, each writing its own key `writes / writers` times with `write(key, n)`;
/// returns (writes per second, per-write latencies in microseconds).
async fn measure_writes<F, Fut>(writes: usize, writers: usize, write: F) -> (f64, Vec<u64>)
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let each = (writes / writers).max(1);
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let write = write.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(each);
                for n in 0..each {
                    let t = Instant::now();
                    write(writer, n).await;
                    latencies.push(t.elapsed().as_micros() as u64);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a writer finished"));
    }
    ((each * writers) as f64 / started.elapsed().as_secs_f64(), latencies)
}

async fn durability(args: DurabilityArgs) -> Result<Value, String> {
    use modelmon_cloud::local::{FileTable, LocalScheduler};
    use modelmon_cloud::ports::{Cadence, Item, ItemKey, ScheduleSpec, Scheduler, Table};

    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let table = std::sync::Arc::new(FileTable::new(args.dir.join("table")));
    let keys = args.writers.max(1);
    for key in 0..keys {
        let item = Item {
            key: ItemKey::Schedule(format!("durable-{key}")),
            version: 1,
            body: record(key),
        };
        table.insert(&item).await.map_err(|e| e.to_string())?;
    }
    let versions: std::sync::Arc<Vec<std::sync::atomic::AtomicU64>> =
        std::sync::Arc::new((0..keys).map(|_| std::sync::atomic::AtomicU64::new(1)).collect());
    let durable = |writers: usize| {
        let (table, versions) = (table.clone(), versions.clone());
        measure_writes(args.writes, writers, move |key, _| {
            let (table, versions) = (table.clone(), versions.clone());
            async move {
                let version = versions[key].fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                let item = Item {
                    key: ItemKey::Schedule(format!("durable-{key}")),
                    version,
                    body: record(key),
                };
                table.update(&item).await.expect("a durable update");
            }
        })
    };
    // The same steps on the file system, without the two fsyncs: a temp file, renamed into place.
    let plain_dir = args.dir.join("plain");
    std::fs::create_dir_all(&plain_dir).map_err(|e| e.to_string())?;
    let plain = |writers: usize| {
        let dir = plain_dir.clone();
        measure_writes(args.writes, writers, move |key, n| {
            let dir = dir.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let bytes = serde_json::to_vec_pretty(&json!({"version": n, "body": record(key)})).expect("JSON");
                    let temp = dir.join(format!(".tmp-{key}-{n}"));
                    std::fs::write(&temp, bytes).expect("a plain write");
                    std::fs::rename(&temp, dir.join(format!("{key}.json"))).expect("a rename");
                })
                .await
                .expect("a plain write");
            }
        })
    };
    let scheduler = std::sync::Arc::new(LocalScheduler::new(args.dir.join("scheduler.json")));
    let spec = |key: usize, hour: u32| ScheduleSpec {
        name: format!("durable-{key}"),
        cadence: Cadence::Hours {
            first_hour: hour % 24,
            every_hours: 24,
        },
        enabled: true,
    };
    for key in 0..keys {
        scheduler.create(&spec(key, 0)).await.map_err(|e| e.to_string())?;
    }
    let timers = |writers: usize| {
        let scheduler = scheduler.clone();
        measure_writes(args.writes, writers, move |key, n| {
            let scheduler = scheduler.clone();
            async move {
                scheduler
                    .update(&spec(key, n as u32 + 1))
                    .await
                    .expect("a timer update")
            }
        })
    };
    let mut report = serde_json::Map::new();
    for (label, writers) in [("one", 1), ("many", args.writers)] {
        let (durable_rate, mut durable_latencies) = durable(writers).await;
        let (plain_rate, mut plain_latencies) = plain(writers).await;
        let (timer_rate, mut timer_latencies) = timers(writers).await;
        report.insert(
            label.to_string(),
            json!({
                "writers": writers,
                "table_durable": {"writes_per_s": durable_rate, "latency": summary(&mut durable_latencies)},
                "table_without_fsync": {"writes_per_s": plain_rate, "latency": summary(&mut plain_latencies)},
                "timers_durable": {"writes_per_s": timer_rate, "latency": summary(&mut timer_latencies)},
            }),
        );
    }
    Ok(Value::Object(report))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio starts");
    let (out, result) = match cli {
        Cli::Api(args) => (args.out.clone(), runtime.block_on(run(args))),
        Cli::Durability(args) => (args.out.clone(), runtime.block_on(durability(args))),
    };
    match result {
        Ok(report) => match std::fs::write(&out, serde_json::to_vec_pretty(&report).expect("JSON")) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench-load: {}: {e}", out.display());
                ExitCode::FAILURE
            }
        },
        Err(err) => {
            eprintln!("bench-load: {err}");
            ExitCode::FAILURE
        }
    }
}
