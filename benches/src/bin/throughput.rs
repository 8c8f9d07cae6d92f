//! taskq throughput and latency, with Redis on the same machine.
//!
//! Run with: `cargo run --release -p benches --bin throughput [-- --runs 3 --tasks 200000]`
//!
//! Measures, per run, on a private redis-server (or `$REDIS_URL`):
//! - enqueue rate, one `send` at a time (one round trip each);
//! - enqueue rate with `send_batch` (1,000 per call);
//! - processing rate of no-op tasks by one worker *process* (concurrency
//!   256), from a prefilled backlog: tasks finished (outcome recorded)
//!   between the first observed completion and the last, divided by that
//!   time, as the Celery harness in ../shared/bench measures it
//!   ([`benches::drain_rate`]);
//! - send → run → await round trip, one task at a time, p50 and p99;
//! - the worker process's peak RSS (VmHWM).
//!
//! Prints each run, then medians; the last line is one JSON object.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use benches::{drain_rate, machine, median, percentile, proc_status_mb};
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
    single: u64,
    rtt: usize,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        runs: 3,
        tasks: 200_000,
        single: 20_000,
        rtt: 1000,
        concurrency: 256,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i + 1 < argv.len() {
        let v = &argv[i + 1];
        match argv[i].as_str() {
            "--runs" => a.runs = v.parse().unwrap_or(a.runs),
            "--tasks" => a.tasks = v.parse().unwrap_or(a.tasks),
            "--single" => a.single = v.parse().unwrap_or(a.single),
            "--rtt" => a.rtt = v.parse().unwrap_or(a.rtt),
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

/// Child mode: `throughput --worker <url> <concurrency>`.
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

struct Run {
    enqueue: f64,
    enqueue_batched: f64,
    process: f64,
    p50: f64,
    p99: f64,
    rss: f64,
}

async fn one_run(a: &Args) -> Run {
    let server = match std::env::var("REDIS_URL") {
        Ok(_) => None,
        Err(_) => Some(RedisServer::start().expect("start redis-server")),
    };
    let url = server
        .as_ref()
        .map(RedisServer::url)
        .unwrap_or_else(|| std::env::var("REDIS_URL").unwrap());
    let b = broker(&url).await;
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut b.connection())
        .await
        .unwrap();
    let client = Client::new(b.clone());

    // Enqueue, one send per task.
    let t = Instant::now();
    for i in 0..a.single {
        client.send(noop::call(i)).await.unwrap();
    }
    let enqueue = a.single as f64 / t.elapsed().as_secs_f64();

    // Enqueue, batched.
    let t = Instant::now();
    let mut sent = 0;
    while sent < a.tasks {
        let n = (a.tasks - sent).min(1000);
        client
            .send_batch((sent..sent + n).map(noop::call))
            .await
            .unwrap();
        sent += n;
    }
    let enqueue_batched = a.tasks as f64 / t.elapsed().as_secs_f64();

    // Process the whole backlog with one worker process.
    let worker = spawn_worker(&url, a.concurrency);
    let pid = worker.id();
    let process = drain_rate(&b).await;

    // Round trip, one at a time, on the now idle worker.
    let mut samples = Vec::with_capacity(a.rtt);
    for i in 0..(a.rtt + 20) {
        let t = Instant::now();
        let r = client.send(noop::call(i as u64)).await.unwrap();
        r.wait(Duration::from_secs(10)).await.unwrap();
        if i >= 20 {
            samples.push(t.elapsed());
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let rss = proc_status_mb(pid, "VmHWM:").unwrap_or(0.0);
    stop(worker);
    Run {
        enqueue,
        enqueue_batched,
        process,
        p50: ms(percentile(&samples, 50.0)),
        p99: ms(percentile(&samples, 99.0)),
        rss,
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--worker") {
        run_worker(&argv[2], argv[3].parse().unwrap_or(256));
        return;
    }
    let a = args();
    println!("# taskq throughput: {}", machine());
    println!(
        "# {} runs; {} single sends, {} batched sends, worker concurrency {}, {} round trips",
        a.runs, a.single, a.tasks, a.concurrency, a.rtt
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut runs = Vec::new();
    for i in 0..a.runs {
        let r = rt.block_on(one_run(&a));
        println!(
            "run {}: enqueue {:.0}/s, enqueue batched {:.0}/s, process {:.0}/s, rtt p50 {:.3} ms p99 {:.3} ms, worker peak RSS {:.1} MB",
            i + 1,
            r.enqueue,
            r.enqueue_batched,
            r.process,
            r.p50,
            r.p99,
            r.rss
        );
        runs.push(r);
    }
    let m = |f: fn(&Run) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    println!(
        "{{\"enqueue_per_s\": {:.0}, \"enqueue_batched_per_s\": {:.0}, \"process_per_s\": {:.0}, \"rtt_p50_ms\": {:.3}, \"rtt_p99_ms\": {:.3}, \"worker_rss_mb\": {:.1}}}",
        m(|r| r.enqueue),
        m(|r| r.enqueue_batched),
        m(|r| r.process),
        m(|r| r.p50),
        m(|r| r.p99),
        m(|r| r.rss)
    );
}
