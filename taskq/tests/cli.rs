//! The `taskq` command line tool, run as a process against a private
//! redis-server.
#![cfg(feature = "cli")]

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{eventually, spawn};
use redis::AsyncCommands;
use serde_json::Value;
use taskq::beat::{Schedule, Schedules, When};
use taskq::testing::RedisServer;
use taskq::worker::Worker;
use taskq::{Client, Priority, RedisBroker, RedisConfig, TaskError, task};

const NS: &str = "clitest";

#[task(name = "cli.echo")]
async fn echo(text: String) -> Result<String, TaskError> {
    Ok(text)
}

fn taskq(server: &RedisServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taskq"))
        .args(["--url", &server.url(), "--namespace", NS])
        .args(args)
        .output()
        .expect("run the taskq binary")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "taskq failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(server: &RedisServer, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&stdout(&taskq(server, &all))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspects_and_manages_a_deployment() {
    let server = RedisServer::start().unwrap();
    let broker = RedisBroker::connect_with(RedisConfig::new(server.url()).namespace(NS))
        .await
        .unwrap();
    let client = Client::new(broker.clone());

    // Waiting tasks in a queue nobody serves.
    let waiting = client
        .send_batch((0..3).map(|i| echo::call(format!("w{i}")).queue("idle")))
        .await
        .unwrap();
    client
        .send(
            echo::call("urgent".into())
                .queue("idle")
                .priority(Priority::High),
        )
        .await
        .unwrap();
    let text = stdout(&taskq(&server, &["queues"]));
    let line = text.lines().find(|l| l.starts_with("idle")).unwrap();
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["idle", "1", "3", "0", "0"],
        "{text}"
    );
    let queues = json(&server, &["queues"]);
    assert_eq!(queues[0]["queue"], "idle");
    assert_eq!(queues[0]["normal"], 3);

    // One task's record; cancel it.
    let id = waiting[0].id().to_string();
    let rec = json(&server, &["task", &id]);
    assert_eq!(
        (rec["state"].as_str(), rec["name"].as_str()),
        (Some("pending"), Some("cli.echo"))
    );
    let canceled = json(&server, &["cancel", &id]);
    assert_eq!(canceled["status"], "canceled");
    assert!(stdout(&taskq(&server, &["task", &id])).contains("state     canceled"));
    let missing = taskq(&server, &["task", "no-such-task"]);
    assert_eq!(missing.status.code(), Some(1));

    // Purge the queue (three normal frames, the canceled one included, and
    // the urgent one).
    assert!(stdout(&taskq(&server, &["purge", "idle"])).contains("purged 4 task(s)"));
    assert_eq!(json(&server, &["queues"])[0]["normal"], 0);

    // A worker, its finished task's result, and a dead letter.
    let w = spawn(
        Worker::builder(broker.clone())
            .register::<echo>()
            .concurrency(3),
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            json(&server, &["workers"])
                .as_array()
                .is_some_and(|a| a.len() == 1)
        })
        .await
    );
    let workers = json(&server, &["workers"]);
    assert_eq!(workers[0]["pid"], std::process::id());
    assert_eq!(workers[0]["concurrency"], 3);
    assert_eq!(workers[0]["queues"][0], "default");
    assert!(stdout(&taskq(&server, &["workers"])).contains("HEARTBEAT"));

    let done = client.send(echo::call("hello".into())).await.unwrap();
    done.wait(Duration::from_secs(10)).await.unwrap();
    let rec = json(&server, &["task", done.id().as_str()]);
    assert_eq!(
        (rec["state"].as_str(), rec["result"].as_str()),
        (Some("succeeded"), Some("hello"))
    );

    let _: () = broker
        .connection()
        .lpush(format!("{{{NS}}}:q:default:1"), "not a frame")
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || async {
            json(&server, &["dead-letters"])
                .as_array()
                .is_some_and(|a| a.len() == 1)
        })
        .await
    );
    assert!(stdout(&taskq(&server, &["dead-letters", "--limit", "5"])).contains("malformed frame"));
    // It cannot be decoded, so it stays.
    assert_eq!(json(&server, &["requeue-dead"])["requeued"], 0);
    w.shutdown().await;

    // Schedules, with the URL from the environment this time.
    Schedules::new(&broker)
        .put(&Schedule::new(
            "hourly-echo",
            When::every(Duration::from_secs(3600)).unwrap(),
            echo::call("tick".into()).into_raw().unwrap(),
        ))
        .await
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_taskq"))
        .env("TASKQ_REDIS_URL", server.url())
        .env("TASKQ_NAMESPACE", NS)
        .arg("schedules")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("hourly-echo") && text.contains("every 1h"),
        "{text}"
    );
    let schedules = json(&server, &["schedules"]);
    assert_eq!(schedules[0]["task"], "cli.echo");
    assert_eq!(schedules[0]["enabled"], true);
    assert!(schedules[0]["next_run_ms"].as_u64().is_some());
}
