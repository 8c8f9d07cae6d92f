//! What resource reservations cost: processing rate of no-op tasks by one
//! worker process (concurrency 256), from a prefilled backlog, in three
//! modes measured side by side in every run:
//!
//! - `plain`: no resources (the baseline);
//! - `1000x`: every task holds one exclusive resource out of 1,000
//!   (`res:<i mod 1000>`), so at most 1,000 could run at once;
//! - `10x`: every task holds one exclusive resource out of 10, so at most
//!   10 run at once and each resource is a FIFO of a tenth of the backlog.
//!
//! The rate is measured as in `throughput` ([`benches::drain_rate`]): tasks
//! finished (outcome recorded) between the first observed completion and
//! the last, divided by that time.
//!
//! Run with: `cargo run --release -p benches --bin reservations [-- --runs 3 --tasks 50000]`
//!
//! Prints each run (rate, and Redis CPU time per task from `INFO cpu`), then
//! medians and the ratio to the plain rate; the last line is one JSON
//! object. With `BENCH_REDIS_STATS=1`, also prints to stderr the calls and
//! time per task of every Redis command (`INFO commandstats`).

use std::process::{Child, Command, Stdio};

use benches::{drain_rate, machine, median};
use taskq::testing::RedisServer;
use taskq::worker::Worker;
use taskq::{Client, RedisBroker, RedisConfig, TaskError, task};

const NS: &str = "bench";

#[task(name = "bench.noop")]
async fn noop(i: u64) -> Result<u64, TaskError> {
    Ok(i)
}

struct Args {
    runs: usize,
    tasks: u64,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        runs: 3,
        tasks: 50_000,
        concurrency: 256,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i + 1 < argv.len() {
        let v = &argv[i + 1];
        match argv[i].as_str() {
            "--runs" => a.runs = v.parse().unwrap_or(a.runs),
            "--tasks" => a.tasks = v.parse().unwrap_or(a.tasks),
            "--concurrency" => a.concurrency = v.parse().unwrap_or(a.concurrency),
            _ => {}
        }
        i += 2;
    }
    a
}

async fn broker(url: &str) -> RedisBroker {
    RedisBroker::connect_with(RedisConfig::new(url).namespace(NS))
        .await
        .expect("connect to redis")
}

/// Child mode: `reservations --worker <url> <concurrency>`.
fn run_worker(url: &str, concurrency: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        Worker::builder(broker(url).await)
            .register::<noop>()
            .concurrency(concurrency)
            .build()
            .unwrap()
            .run()
            .await
            .unwrap();
    });
}

fn spawn_worker(url: &str, concurrency: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--worker", url, &concurrency.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn worker process")
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

/// Resources per task: none, one of 1,000, one of 10.
#[derive(Clone, Copy)]
enum Mode {
    Plain,
    OneOf(u64),
}

impl Mode {
    fn label(self) -> String {
        match self {
            Mode::Plain => "plain".into(),
            Mode::OneOf(n) => format!("{n}x"),
        }
    }
}

async fn measure(a: &Args, mode: Mode) -> Measured {
    let server = RedisServer::start().expect("start redis-server");
    let url = server.url();
    let b = broker(&url).await;
    let client = Client::new(b.clone());
    let mut sent = 0;
    while sent < a.tasks {
        let n = (a.tasks - sent).min(1000);
        client
            .send_batch((sent..sent + n).map(|i| match mode {
                Mode::Plain => noop::call(i),
                Mode::OneOf(k) => noop::call(i).exclusive(format!("res:{}", i % k)),
            }))
            .await
            .unwrap();
        sent += n;
    }
    let stats = std::env::var_os("BENCH_REDIS_STATS").is_some();
    if stats {
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query(&mut sync_conn(&url))
            .unwrap();
    }
    let before = redis_cpu_s(&url);
    let worker = spawn_worker(&url, a.concurrency);
    let rate = drain_rate(&b).await;
    stop(worker);
    let cpu_us = (redis_cpu_s(&url) - before) * 1e6 / a.tasks as f64;
    if stats {
        print_command_stats(&url, mode, a.tasks);
    }
    Measured { rate, cpu_us }
}

/// What one mode measured.
struct Measured {
    /// Tasks finished per second.
    rate: f64,
    /// Redis CPU time (user + system) per task, in µs.
    cpu_us: f64,
}

fn sync_conn(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

/// Seconds of CPU the Redis server has used so far.
fn redis_cpu_s(url: &str) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query(&mut sync_conn(url))
        .unwrap();
    info.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k, "used_cpu_user" | "used_cpu_sys").then(|| v.trim().parse::<f64>().ok())?
        })
        .sum()
}

/// Prints, per task, the calls and µs of every Redis command since the
/// worker started (commands run inside scripts included), to stderr.
fn print_command_stats(url: &str, mode: Mode, tasks: u64) {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut sync_conn(url))
        .unwrap();
    eprintln!("# {} (per task):", mode.label());
    for line in info.lines().filter_map(|l| l.strip_prefix("cmdstat_")) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let field = |k: &str| {
            rest.split(',')
                .find_map(|f| f.strip_prefix(k)?.strip_prefix('='))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let n = tasks as f64;
        eprintln!(
            "#   {name:<16} {:>6.2} calls {:>7.2} µs",
            field("calls") / n,
            field("usec") / n
        );
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--worker") {
        run_worker(&argv[2], argv[3].parse().unwrap_or(256));
        return;
    }
    let a = args();
    println!("# taskq reservations: {}", machine());
    println!(
        "# {} runs; {} tasks per mode, worker concurrency {}",
        a.runs, a.tasks, a.concurrency
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let modes = [Mode::Plain, Mode::OneOf(1000), Mode::OneOf(10)];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut cpus: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for run in 0..a.runs {
        let mut line = format!("run {}:", run + 1);
        for (i, mode) in modes.iter().enumerate() {
            let r = rt.block_on(measure(&a, *mode));
            line.push_str(&format!(
                " {} {:.0}/s ({:.1} µs Redis CPU/task)",
                mode.label(),
                r.rate,
                r.cpu_us
            ));
            rates[i].push(r.rate);
            cpus[i].push(r.cpu_us);
        }
        println!("{line}");
    }
    let m: Vec<f64> = rates.iter().map(|r| median(r)).collect();
    let c: Vec<f64> = cpus.iter().map(|r| median(r)).collect();
    println!(
        "median Redis CPU per task: plain {:.1} µs, one of 1000 {:.1} µs, one of 10 {:.1} µs",
        c[0], c[1], c[2]
    );
    println!(
        "median: plain {:.0}/s, one of 1000 exclusive {:.0}/s ({:.2}x slower), one of 10 exclusive {:.0}/s ({:.2}x slower)",
        m[0],
        m[1],
        m[0] / m[1],
        m[2],
        m[0] / m[2]
    );
    println!(
        "{{\"plain_per_s\": {:.0}, \"exclusive_1000_per_s\": {:.0}, \"exclusive_10_per_s\": {:.0}}}",
        m[0], m[1], m[2]
    );
}
