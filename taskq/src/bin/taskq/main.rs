//! `taskq`: inspect and manage a taskq deployment on Redis.
//!
//! ```text
//! taskq [--url redis://host:6379/] [--namespace taskq] [--json] <command>
//!
//!   workers                 registered workers: host, pid, queues, concurrency, in flight, heartbeat age
//!   queues                  tasks waiting per queue: ready per priority, delayed
//!   task <id>               a task's full record
//!   dead-letters [--limit]  the newest dead letters
//!   requeue-dead [--limit]  move dead letters (oldest first) back to their queues
//!   purge <queue>           remove every waiting task of a queue (their records are canceled)
//!   cancel <id>             cancel a task (queued, waiting or running)
//!   schedules               beat schedules and their state
//! ```
//!
//! The URL comes from `--url`, else `TASKQ_REDIS_URL`, else
//! `redis://127.0.0.1:6379/`; the namespace from `--namespace`, else
//! `TASKQ_NAMESPACE`, else `taskq`. `--json` prints JSON instead of tables.
//! Build with `cargo build -p taskq --features cli --bin taskq`.

mod render;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use taskq::beat::Schedules;
use taskq::broker::Broker;
use taskq::{CancelStatus, RedisBroker, RedisConfig, TaskId};

use render::{Table, age, bytes_value, time};

/// Inspect and manage a taskq deployment on Redis.
#[derive(Debug, Parser)]
#[command(name = "taskq", version, about)]
struct Cli {
    /// Redis URL.
    #[arg(
        long,
        env = "TASKQ_REDIS_URL",
        default_value = "redis://127.0.0.1:6379/",
        global = true
    )]
    url: String,
    /// Key namespace of the deployment.
    #[arg(long, env = "TASKQ_NAMESPACE", default_value = "taskq", global = true)]
    namespace: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Registered workers: host, pid, queues, concurrency, in flight, last heartbeat.
    Workers,
    /// Tasks waiting per queue: ready ones per priority, and delayed ones.
    Queues,
    /// The full record of a task.
    Task {
        /// The task's id.
        id: String,
    },
    /// The newest dead letters.
    DeadLetters {
        /// How many to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Moves dead letters (oldest first) back to their queues.
    RequeueDead {
        /// How many to move at most.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Removes every ready and delayed task of a queue; their records become canceled.
    Purge {
        /// The queue.
        queue: String,
    },
    /// Cancels a task: a queued or waiting one never runs, a running one is told to stop.
    Cancel {
        /// The task's id.
        id: String,
    },
    /// Beat schedules and their state.
    Schedules,
}

/// An error for the user: the message, then its causes.
fn report(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        // Some errors repeat their cause's text in their own.
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("taskq: {}", report(&e));
            ExitCode::from(2)
        }
    }
}

async fn run(cli: &Cli) -> taskq::Result<ExitCode> {
    let broker =
        RedisBroker::connect_with(RedisConfig::new(&cli.url).namespace(&cli.namespace)).await?;
    let out = match &cli.command {
        Command::Workers => workers(&broker).await?,
        Command::Queues => queues(&broker).await?,
        Command::Task { id } => match task(&broker, id).await? {
            Some(out) => out,
            None => {
                eprintln!("taskq: no task with id {id}");
                return Ok(ExitCode::from(1));
            }
        },
        Command::DeadLetters { limit } => dead_letters(&broker, *limit).await?,
        Command::RequeueDead { limit } => {
            let n = broker.requeue_dead_letters(*limit).await?;
            Output::new(
                json!({ "requeued": n }),
                format!("requeued {n} dead letter(s)"),
            )
        }
        Command::Purge { queue } => {
            let n = broker.purge_queue(queue).await?;
            Output::new(
                json!({ "queue": queue, "purged": n }),
                format!("purged {n} task(s) from queue {queue}"),
            )
        }
        Command::Cancel { id } => cancel(&broker, id).await?,
        Command::Schedules => schedules(&broker).await?,
    };
    if cli.json {
        println!("{}", out.json);
    } else {
        println!("{}", out.text.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

/// What a command prints, in both forms.
struct Output {
    json: Value,
    text: String,
}

impl Output {
    fn new(json: Value, text: String) -> Self {
        Output { json, text }
    }
}

async fn workers(broker: &RedisBroker) -> taskq::Result<Output> {
    let mut workers = broker.workers().await?;
    workers.sort_by(|a, b| (&a.host, a.pid).cmp(&(&b.host, b.pid)));
    let mut table = Table::new([
        "ID",
        "HOST",
        "PID",
        "QUEUES",
        "CONCURRENCY",
        "IN FLIGHT",
        "HEARTBEAT",
    ]);
    let mut rows = Vec::new();
    for w in &workers {
        table.row([
            w.id.clone(),
            w.host.clone(),
            w.pid.to_string(),
            w.queues.join(","),
            w.concurrency.to_string(),
            w.in_flight.to_string(),
            format!("{} ago", age(w.heartbeat_ms)),
        ]);
        rows.push(json!({
            "id": w.id, "host": w.host, "pid": w.pid, "queues": w.queues,
            "concurrency": w.concurrency, "in_flight": w.in_flight,
            "started_ms": w.started_ms, "heartbeat_ms": w.heartbeat_ms,
            "heartbeat_age_ms": render::now_ms().saturating_sub(w.heartbeat_ms),
            "version": w.version,
        }));
    }
    Ok(Output::new(Value::Array(rows), table.render()))
}

async fn queues(broker: &RedisBroker) -> taskq::Result<Output> {
    let depths = broker.queue_depths().await?;
    let mut table = Table::new(["QUEUE", "HIGH", "NORMAL", "LOW", "DELAYED"]);
    let mut rows = Vec::new();
    for d in &depths {
        table.row([
            d.queue.clone(),
            d.ready[0].to_string(),
            d.ready[1].to_string(),
            d.ready[2].to_string(),
            d.delayed.to_string(),
        ]);
        rows.push(json!({
            "queue": d.queue, "high": d.ready[0], "normal": d.ready[1],
            "low": d.ready[2], "delayed": d.delayed,
        }));
    }
    Ok(Output::new(Value::Array(rows), table.render()))
}

async fn task(broker: &RedisBroker, id: &str) -> taskq::Result<Option<Output>> {
    let Some(r) = broker.record(&TaskId::new(id)?).await? else {
        return Ok(None);
    };
    let result = r.result.as_deref().map(bytes_value);
    let progress = r.progress.as_deref().map(bytes_value);
    let json = json!({
        "id": r.id.as_str(), "name": r.name, "queue": r.queue, "state": r.state.as_str(),
        "attempt": r.attempt, "created_ms": r.created_ms, "started_ms": r.started_ms,
        "finished_ms": r.finished_ms, "eta_ms": r.eta_ms, "worker": r.worker,
        "result": result, "progress": progress,
        "error": r.error.as_ref().map(|e| json!({ "kind": e.kind.as_str(), "message": e.message })),
        "cancel_requested": r.cancel_requested, "resources": r.resources,
    });
    let opt_time = |t: Option<u64>| t.map(time).unwrap_or_else(|| "-".into());
    let mut lines = vec![
        ("id", r.id.to_string()),
        ("name", r.name.clone()),
        ("queue", r.queue.clone()),
        ("state", r.state.to_string()),
        ("attempt", r.attempt.to_string()),
        ("created", time(r.created_ms)),
        ("eta", opt_time(r.eta_ms)),
        ("started", opt_time(r.started_ms)),
        ("finished", opt_time(r.finished_ms)),
        ("worker", r.worker.clone().unwrap_or_else(|| "-".into())),
    ];
    if !r.resources.is_empty() {
        lines.push(("resources", r.resources.join(" ")));
    }
    if r.cancel_requested {
        lines.push(("cancel", "requested".into()));
    }
    if let Some(e) = &r.error {
        lines.push(("error", format!("{} ({})", e.message, e.kind.as_str())));
    }
    if let Some(v) = &result {
        lines.push(("result", v.to_string()));
    }
    if let Some(v) = &progress {
        lines.push(("progress", v.to_string()));
    }
    let text = lines.iter().map(|(k, v)| format!("{k:<9} {v}\n")).collect();
    Ok(Some(Output::new(json, text)))
}

async fn dead_letters(broker: &RedisBroker, limit: usize) -> taskq::Result<Output> {
    let letters = broker.dead_letters(limit).await?;
    let mut table = Table::new(["AT", "TASK", "REASON"]);
    let mut rows = Vec::new();
    for d in &letters {
        let id = d.id.clone().unwrap_or_else(|| "-".into());
        table.row([time(d.at_ms), id, d.reason.clone()]);
        rows.push(json!({
            "at_ms": d.at_ms, "id": d.id, "reason": d.reason, "frame_bytes": d.frame.len(),
        }));
    }
    Ok(Output::new(Value::Array(rows), table.render()))
}

async fn cancel(broker: &RedisBroker, id: &str) -> taskq::Result<Output> {
    let status = broker.cancel(&TaskId::new(id)?).await?;
    let (word, text) = match status {
        CancelStatus::Canceled => ("canceled", format!("task {id} canceled; it will not run")),
        CancelStatus::Canceling => (
            "canceling",
            format!("task {id} is running; its worker was told to stop it"),
        ),
        CancelStatus::AlreadyFinished(s) => (
            "already_finished",
            format!("task {id} had already ended: {s}"),
        ),
        CancelStatus::Unknown => ("unknown", format!("no task with id {id}")),
        _ => ("other", format!("task {id}: {status:?}")),
    };
    Ok(Output::new(json!({ "id": id, "status": word }), text))
}

async fn schedules(broker: &RedisBroker) -> taskq::Result<Output> {
    let entries = Schedules::new(broker).list().await?;
    let mut table = Table::new([
        "NAME",
        "WHEN",
        "TASK",
        "ENABLED",
        "NEXT RUN",
        "LAST RUN",
        "LAST OUTCOME",
        "FAILURES",
        "REMAINING",
        "RUNS",
    ]);
    let mut rows = Vec::new();
    let dash = || "-".to_owned();
    for e in &entries {
        let s = &e.schedule;
        let enabled = match (&e.disabled_reason, s.enabled) {
            (_, true) => "yes".to_owned(),
            (Some(why), false) => format!("no ({why})"),
            (None, false) => "no".to_owned(),
        };
        table.row([
            s.name.clone(),
            s.when.to_string(),
            s.task.name.clone(),
            enabled,
            e.next_run_ms.map(time).unwrap_or_else(dash),
            e.last_run_ms.map(time).unwrap_or_else(dash),
            e.last_outcome.map(|o| o.to_string()).unwrap_or_else(dash),
            e.consecutive_failures.to_string(),
            e.remaining_runs.map(|n| n.to_string()).unwrap_or_else(dash),
            e.total_runs.to_string(),
        ]);
        rows.push(json!({
            "name": s.name, "when": s.when.to_string(), "task": s.task.name,
            "queue": s.task.options.queue, "enabled": s.enabled,
            "failure_threshold": s.failure_threshold, "next_run_ms": e.next_run_ms,
            "last_run_ms": e.last_run_ms, "last_fired_ms": e.last_fired_ms,
            "last_task": e.last_task.as_ref().map(TaskId::as_str),
            "last_outcome": e.last_outcome.map(|o| o.as_str()),
            "consecutive_failures": e.consecutive_failures,
            "remaining_runs": e.remaining_runs, "total_runs": e.total_runs,
            "disabled_reason": e.disabled_reason,
        }));
    }
    Ok(Output::new(Value::Array(rows), table.render()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
