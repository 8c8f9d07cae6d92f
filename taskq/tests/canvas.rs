//! Canvas primitives, against both brokers. Chains: each link receives the
//! previous link's output, and a failing link ends the chain. Groups: `join`
//! returns the members' outputs in member order. Chords: the callback
//! receives every member's output in member order, runs once even when a
//! member runs twice, and never runs when a member fails.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Backend, Probe, ProbeState, eventually, spawn};
use taskq::broker::{GroupReport, GroupStatus, MemberOutcome};
use taskq::canvas::{chain, chord, group};
use taskq::worker::Worker;
use taskq::{Error, RawSignature, TaskContext, TaskError, TaskId, TaskState, task};

/// Squares `x` after `ms` milliseconds (so members finish out of order).
#[task(name = "chord.square")]
async fn square(ctx: TaskContext<ProbeState>, x: u64, ms: u64) -> Result<u64, TaskError> {
    ctx.state().bump(&format!("square:{x}"));
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(x * x)
}

#[task(name = "chord.refuse")]
async fn refuse(x: u64) -> Result<u64, TaskError> {
    Err(TaskError::fail(format!("member {x} refuses")))
}

/// The callback: receives the members' outputs first.
#[task(name = "chord.collect")]
async fn collect(
    ctx: TaskContext<ProbeState>,
    parts: Vec<u64>,
    label: String,
) -> Result<(String, Vec<u64>), TaskError> {
    ctx.state().bump("callback");
    Ok((label, parts))
}

/// A chain link: applies `op` to its input (the previous link's output)
/// and logs what it computed.
#[task(name = "chain.step")]
async fn step(
    ctx: TaskContext<ProbeState>,
    input: i64,
    op: String,
    operand: i64,
) -> Result<i64, TaskError> {
    let out = match op.as_str() {
        "add" => input + operand,
        "mul" => input * operand,
        other => return Err(TaskError::fail(format!("unknown op {other}"))),
    };
    ctx.state().bump("step");
    ctx.state().push(format!("{op}({input},{operand})={out}"));
    Ok(out)
}

/// The last link of a chain, of another type: logs its own id so that the
/// test can wait for its result.
#[task(name = "chain.describe")]
async fn describe(
    ctx: TaskContext<ProbeState>,
    n: i64,
    label: String,
) -> Result<String, TaskError> {
    ctx.state().bump("describe");
    ctx.state().push(format!("id:{}", ctx.id()));
    Ok(format!("{label}={n}"))
}

/// A link that fails for good; logs its id.
#[task(name = "chain.refuse")]
async fn refuse_link(ctx: TaskContext<ProbeState>, input: i64) -> Result<i64, TaskError> {
    ctx.state().bump("refuse");
    ctx.state().push(format!("id:{}", ctx.id()));
    Err(TaskError::fail(format!("link refuses {input}")))
}

/// A group member: fails when asked to, else squares after `ms`.
#[task(name = "group.member")]
async fn member(
    ctx: TaskContext<ProbeState>,
    x: u64,
    ms: u64,
    fail: bool,
) -> Result<u64, TaskError> {
    ctx.state().bump("member");
    tokio::time::sleep(Duration::from_millis(ms)).await;
    if fail {
        return Err(TaskError::fail(format!("member {x} fails")));
    }
    Ok(x * x)
}

fn worker(b: &Backend, p: &ProbeState) -> taskq::worker::WorkerBuilder<ProbeState> {
    Worker::builder(b.client())
        .state_arc(Arc::new(Arc::clone(p)))
        .register::<square>()
        .register::<refuse>()
        .register::<collect>()
        .register::<step>()
        .register::<describe>()
        .register::<refuse_link>()
        .register::<member>()
        .concurrency(8)
}

/// The id a task logged as `id:<id>`, once it has run.
async fn logged_id(p: &ProbeState) -> TaskId {
    let mut found = None;
    assert!(
        eventually(WAIT, || {
            found = p
                .events()
                .iter()
                .find_map(|e| e.strip_prefix("id:").map(str::to_owned));
            let done = found.is_some();
            async move { done }
        })
        .await,
        "the logging link never ran: {:?}",
        p.events()
    );
    TaskId::new(found.unwrap()).unwrap()
}

/// Sends a task behind everything queued so far and waits for it: with a
/// worker of concurrency 1 and one FIFO queue, whatever was queued before
/// has then run to its end.
async fn barrier(b: &Backend) {
    let r = b.client().send(square::call(0, 0)).await.unwrap();
    r.wait(WAIT).await.unwrap();
}

async fn chain_passes_each_output_to_the_next_link(b: Backend) {
    let p = Arc::new(Probe::default());
    let w = spawn(worker(&b, &p));
    let client = b.client();
    // ((2 + 3) * 4) + 1, then described: "result=21".
    let first = chain([
        step::call(2, "add".into(), 3).into_raw().unwrap(),
        RawSignature::partial::<step>(&("mul", 4i64)).unwrap(),
        RawSignature::partial::<step>(&("add", 1i64)).unwrap(),
        RawSignature::partial::<describe>(&("result",)).unwrap(),
    ])
    .unwrap();
    let (first_id, _) = client.send_raw(first).await.unwrap();
    assert_eq!(
        client.result::<i64>(first_id).wait(WAIT).await.unwrap(),
        5,
        "the first link returns its own output"
    );
    let last = client.result::<String>(logged_id(&p).await);
    assert_eq!(last.wait(WAIT).await.unwrap(), "result=21");
    let steps: Vec<String> = p
        .events()
        .into_iter()
        .filter(|e| !e.starts_with("id:"))
        .collect();
    assert_eq!(steps, ["add(2,3)=5", "mul(5,4)=20", "add(20,1)=21"]);
    assert_eq!(
        (p.count("step"), p.count("describe")),
        (3, 1),
        "each link ran once"
    );
    // Rest arguments that are not a tuple could never receive the output:
    // refused when the chain is built, not discovered by a worker.
    assert!(matches!(
        chain([
            step::call(1, "add".into(), 1).into_raw().unwrap(),
            RawSignature::partial::<step>(&7i64).unwrap(),
        ]),
        Err(Error::Config(_))
    ));
    w.shutdown().await;
}

async fn a_failing_link_ends_the_chain(b: Backend) {
    let p = Arc::new(Probe::default());
    let w = spawn(worker(&b, &p).concurrency(1));
    let client = b.client();
    let first = chain([
        step::call(1, "add".into(), 1).into_raw().unwrap(),
        RawSignature::partial::<refuse_link>(&()).unwrap(),
        RawSignature::partial::<step>(&("mul", 10i64)).unwrap(),
        RawSignature::partial::<describe>(&("never",)).unwrap(),
    ])
    .unwrap();
    let (first_id, _) = client.send_raw(first).await.unwrap();
    assert_eq!(client.result::<i64>(first_id).wait(WAIT).await.unwrap(), 2);
    let failed = client.result::<i64>(logged_id(&p).await);
    match failed.wait(WAIT).await {
        Err(Error::TaskFailed(f)) => assert!(f.message.contains("link refuses 2"), "{f}"),
        other => panic!("expected the link's failure, got {other:?}"),
    }
    // Follow-ups are sent before a link's outcome is recorded, so anything
    // the failed link had sent is queued by now; the barrier waits it out.
    barrier(&b).await;
    assert_eq!(p.count("step"), 1, "no link after the failure ran");
    assert_eq!(p.count("describe"), 0, "no link after the failure ran");
    assert_eq!(p.count("refuse"), 1, "a permanent failure is not retried");
    assert_eq!(
        p.events(),
        vec!["add(1,1)=2".to_owned(), format!("id:{}", failed.id())]
    );
    w.shutdown().await;
}

async fn group_join_returns_outputs_in_member_order(b: Backend) {
    let p = Arc::new(Probe::default());
    let w = spawn(worker(&b, &p));
    let client = b.client();
    // Later members finish first.
    let g = group(
        &client,
        (0..8u64).map(|x| member::call(x, (8 - x) * 25, false)),
    )
    .await
    .unwrap();
    assert_eq!(g.members().len(), 8);
    assert_eq!(
        g.join(WAIT).await.unwrap(),
        (0..8u64).map(|x| x * x).collect::<Vec<_>>()
    );
    for m in g.members() {
        assert_eq!(m.state().await.unwrap(), TaskState::Succeeded);
    }
    // A failing member makes join report that failure.
    let g = group(&client, (0..4u64).map(|x| member::call(x, 0, x == 2)))
        .await
        .unwrap();
    match g.join(WAIT).await {
        Err(Error::TaskFailed(f)) => assert!(f.message.contains("member 2 fails"), "{f}"),
        other => panic!("expected member 2's failure, got {other:?}"),
    }
    for m in g.members() {
        assert!(
            eventually(WAIT, || async { m.state().await.unwrap().is_final() }).await,
            "member {} ended",
            m.id()
        );
    }
    assert_eq!(p.count("member"), 12, "every member ran once");
    w.shutdown().await;
}

const WAIT: Duration = Duration::from_secs(30);

async fn callback_gets_results_in_member_order(b: Backend) {
    let p = Arc::new(Probe::default());
    let w = spawn(worker(&b, &p));
    let client = b.client();
    // Later members finish first.
    let members = (0..10u64)
        .map(|x| square::call(x, (10 - x) * 20).into_raw())
        .collect::<taskq::Result<Vec<_>>>()
        .unwrap();
    let c = chord(
        members,
        RawSignature::partial::<collect>(&("squares",)).unwrap(),
    )
    .unwrap();
    // A member that runs twice (at-least-once delivery): the same member
    // call, sent again under another id, reports the same index.
    let mut again = c.members()[3].clone();
    again.options.id = None;
    let sent = c.send::<(String, Vec<u64>)>(&client).await.unwrap();
    let (again_id, _) = client.send_raw(again).await.unwrap();

    let (label, parts) = sent.wait(WAIT).await.unwrap();
    assert_eq!(label, "squares");
    assert_eq!(parts, (0..10u64).map(|x| x * x).collect::<Vec<_>>());
    client
        .result::<u64>(again_id)
        .wait(WAIT)
        .await
        .expect("the repeated member ran");
    assert_eq!(p.count("square:3"), 2, "member 3 ran twice");
    let state = sent.state().await.unwrap();
    assert_eq!(state.succeeded, 10, "each index counted once");
    assert_eq!(state.failed, None);
    assert_eq!(p.count("callback"), 1, "the callback ran once");
    w.shutdown().await;
}

async fn a_failed_member_means_no_callback(b: Backend) {
    let p = Arc::new(Probe::default());
    let w = spawn(worker(&b, &p));
    let client = b.client();
    let mut members = (0..4u64)
        .map(|x| square::call(x, 0).into_raw())
        .collect::<taskq::Result<Vec<_>>>()
        .unwrap();
    members.insert(2, refuse::call(2).into_raw().unwrap());
    let c = chord(
        members,
        RawSignature::partial::<collect>(&("never",)).unwrap(),
    )
    .unwrap();
    let callback_id = c.callback_id().clone();
    let sent = c.send::<(String, Vec<u64>)>(&client).await.unwrap();
    match sent.wait(WAIT).await {
        Err(Error::TaskFailed(f)) => assert!(f.message.contains("member 2 refuses"), "{f}"),
        other => panic!("expected the member's failure, got {other:?}"),
    }
    for id in sent.members() {
        let r = client.result::<serde::de::IgnoredAny>(id.clone());
        assert!(
            eventually(WAIT, || async { r.state().await.unwrap().is_final() }).await,
            "member {id} ended"
        );
    }
    let state = sent.state().await.unwrap();
    let failure = state
        .failed
        .clone()
        .expect("the failure is recorded on the group");
    assert_eq!(failure.index, 2);
    assert!(failure.reason.contains("member 2 refuses"), "{failure:?}");
    // Members that succeed after the failure are not collected.
    assert!(state.succeeded < 5, "{state:?}");
    // Every member has ended: the callback was never sent and never ran.
    assert!(client.record(&callback_id).await.unwrap().is_none());
    assert_eq!(p.count("callback"), 0);
    w.shutdown().await;
}

/// The broker's side of the protocol, replayed by hand: repeated reports
/// of one index count once; the completing report returns the outputs in
/// member order until the callback is known; a failure after a member's
/// success is ignored.
async fn group_reports_are_idempotent(b: Backend) {
    let broker = &b.broker;
    let cb = TaskId::new("cb-1").unwrap();
    let report = |index: u32, outcome: MemberOutcome| GroupReport {
        group_id: "g-1".into(),
        index,
        size: 3,
        callback_id: cb.clone(),
        ttl_s: 60,
        outcome,
    };
    let ok = |v: u8| MemberOutcome::Succeeded(rmp_serde::to_vec(&v).unwrap());
    assert_eq!(
        broker.group_report(&report(2, ok(20))).await.unwrap(),
        GroupStatus::Pending { done: 1 }
    );
    // Index 2 again, with another output: still one, and the first output stays.
    assert_eq!(
        broker.group_report(&report(2, ok(99))).await.unwrap(),
        GroupStatus::Pending { done: 1 }
    );
    // A failure of a member that already succeeded does not fail the group.
    assert_eq!(
        broker
            .group_report(&report(2, MemberOutcome::Failed("late".into())))
            .await
            .unwrap(),
        GroupStatus::Pending { done: 1 }
    );
    broker.group_report(&report(0, ok(0))).await.unwrap();
    let outputs = match broker.group_report(&report(1, ok(10))).await.unwrap() {
        GroupStatus::Complete(o) => o,
        other => panic!("expected completion, got {other:?}"),
    };
    let decoded: Vec<u8> = outputs
        .iter()
        .map(|o| rmp_serde::from_slice(o).unwrap())
        .collect();
    assert_eq!(decoded, [0, 10, 20]);
    // Until the callback is known, a repeat still says complete (the
    // callback's send is deduplicated by its id)...
    assert!(matches!(
        broker.group_report(&report(1, ok(10))).await.unwrap(),
        GroupStatus::Complete(_)
    ));
    // ...and once it is, a repeat is told it was sent.
    let mut call = RawSignature::partial::<collect>(&("x",)).unwrap();
    call.options.id = Some(cb.clone());
    b.client().send_raw(call).await.unwrap();
    assert_eq!(
        broker.group_report(&report(0, ok(0))).await.unwrap(),
        GroupStatus::CallbackSent
    );
    let state = broker.group_state("g-1").await.unwrap();
    assert_eq!((state.succeeded, state.failed), (3, None));
    assert_eq!(
        b.client().record(&cb).await.unwrap().unwrap().state,
        TaskState::Pending
    );
}

both_brokers!(
    chain_passes_each_output_to_the_next_link,
    a_failing_link_ends_the_chain,
    group_join_returns_outputs_in_member_order,
    callback_gets_results_in_member_order,
    a_failed_member_means_no_callback,
    group_reports_are_idempotent,
);
