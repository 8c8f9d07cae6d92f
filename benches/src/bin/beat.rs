//! Beat firing delay: how long after its scheduled time an occurrence is
//! enqueued, with several beat processes competing for every occurrence.
//!
//! Creates `--schedules` one-second schedules (half cron `* * * * * *`, half
//! `every 1s`), runs `--beats` beat processes for `--seconds`, then reads the
//! record of every fired task: delay = the record's `created` time (set by
//! the script that enqueued it) minus the due time in its id
//! (`beat:<name>:<due ms>`). Also reports occurrences fired twice or missed
//! (both must be 0). No worker runs: only the enqueue is measured.
//!
//! Run with: `cargo run --release -p benches --bin beat [-- --beats 3 --schedules 10 --seconds 30]`

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use benches::{machine, percentile};
use redis::AsyncCommands;
use taskq::beat::{Beat, BeatConfig, Schedule, Schedules, When};
use taskq::testing::RedisServer;
use taskq::{RedisBroker, RedisConfig, TaskError, task};

const NS: &str = "bench";

#[task(name = "bench.tick")]
async fn tick() -> Result<(), TaskError> {
    Ok(())
}

struct Args {
    beats: usize,
    schedules: usize,
    seconds: u64,
}

fn args() -> Args {
    let mut a = Args {
        beats: 3,
        schedules: 10,
        seconds: 30,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i + 1 < argv.len() {
        let v = &argv[i + 1];
        match argv[i].as_str() {
            "--beats" => a.beats = v.parse().unwrap_or(a.beats),
            "--schedules" => a.schedules = v.parse().unwrap_or(a.schedules),
            "--seconds" => a.seconds = v.parse().unwrap_or(a.seconds),
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

/// Child mode: `beat --beat <url>`.
fn run_beat(url: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let schedules = Schedules::new(&broker(url).await);
        Beat::new(schedules, BeatConfig::default())
            .run_until(taskq::worker::shutdown_signal())
            .await
            .unwrap();
    });
}

fn spawn_beat(url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--beat", url])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn beat process")
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--beat") {
        run_beat(&argv[2]);
        return;
    }
    let a = args();
    println!("# taskq beat firing delay: {}", machine());
    println!(
        "# {} beat processes, {} one-second schedules, {} s",
        a.beats, a.schedules, a.seconds
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = RedisServer::start().expect("start redis-server");
        let url = server.url();
        let b = broker(&url).await;
        let schedules = Schedules::new(&b);
        for i in 0..a.schedules {
            let when = if i % 2 == 0 {
                When::cron("* * * * * *").unwrap()
            } else {
                When::every(Duration::from_secs(1)).unwrap()
            };
            schedules
                .put(&Schedule::new(
                    format!("s{i}"),
                    when,
                    tick::call().into_raw().unwrap(),
                ))
                .await
                .unwrap();
        }
        let beats: Vec<Child> = (0..a.beats).map(|_| spawn_beat(&url)).collect();
        tokio::time::sleep(Duration::from_secs(a.seconds)).await;
        for s in 0..a.schedules {
            schedules.set_enabled(&format!("s{s}"), false).await.unwrap();
        }
        for child in beats {
            stop(child);
        }

        let mut conn = b.connection();
        let keys: Vec<String> = conn.keys(format!("{{{NS}}}:t:beat:*")).await.unwrap();
        let mut delays = Vec::with_capacity(keys.len());
        let mut per_schedule: HashMap<String, Vec<u64>> = HashMap::new();
        for key in &keys {
            let created: u64 = conn.hget(key, "created").await.unwrap();
            let id = key.rsplit_once(":t:").map(|(_, id)| id).unwrap_or_default();
            let (name, due) = id
                .strip_prefix("beat:")
                .and_then(|rest| rest.rsplit_once(':'))
                .unwrap();
            let due: u64 = due.parse().unwrap();
            delays.push(Duration::from_millis(created.saturating_sub(due)));
            per_schedule.entry(name.to_owned()).or_default().push(due);
        }
        let mut fired_twice = 0u64;
        let mut missed = 0u64;
        for s in 0..a.schedules {
            let entry = schedules.get(&format!("s{s}")).await.unwrap().unwrap();
            let mut dues = per_schedule.remove(&format!("s{s}")).unwrap_or_default();
            dues.sort_unstable();
            fired_twice += entry.total_runs.saturating_sub(dues.len() as u64);
            missed += dues
                .windows(2)
                .map(|w| (w[1] - w[0]) / 1000 - 1)
                .sum::<u64>();
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{} occurrences fired; delay p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; fired twice: {fired_twice}, missed: {missed}",
            delays.len(),
            ms(percentile(&delays, 50.0)),
            ms(percentile(&delays, 99.0)),
            ms(percentile(&delays, 100.0)),
        );
        println!(
            "{{\"beats\": {}, \"occurrences\": {}, \"delay_p50_ms\": {:.1}, \"delay_p99_ms\": {:.1}, \"fired_twice\": {fired_twice}, \"missed\": {missed}}}",
            a.beats,
            delays.len(),
            ms(percentile(&delays, 50.0)),
            ms(percentile(&delays, 99.0)),
        );
    });
}
