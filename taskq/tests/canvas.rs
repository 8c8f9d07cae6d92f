//! Chords, against both brokers: the callback receives every member's
//! output in member order, runs once even when a member runs twice, and
//! never runs when a member fails.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Backend, Probe, ProbeState, eventually, spawn};
use taskq::broker::{GroupReport, GroupStatus, MemberOutcome};
use taskq::canvas::chord;
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

fn worker(b: &Backend, p: &ProbeState) -> taskq::worker::WorkerBuilder<ProbeState> {
    Worker::builder(b.client())
        .state_arc(Arc::new(Arc::clone(p)))
        .register::<square>()
        .register::<refuse>()
        .register::<collect>()
        .concurrency(8)
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
    callback_gets_results_in_member_order,
    a_failed_member_means_no_callback,
    group_reports_are_idempotent,
);
