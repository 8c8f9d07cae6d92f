//! The `#[task]` attribute of [taskq](https://docs.rs/taskq). Use it through
//! `taskq::task`; this crate is an implementation detail.

mod attr;
mod expand;

use proc_macro::TokenStream;

/// Turns an `async fn` into a taskq task.
///
/// ```
/// use taskq::{task, TaskError};
///
/// #[task(name = "math.add", queue = "math", max_retries = 3, retry_delay = "500ms", time_limit = "30s")]
/// async fn add(x: i64, y: i64) -> Result<i64, TaskError> {
///     Ok(x + y)
/// }
///
/// // The function stays callable as is (handy in unit tests)...
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// assert_eq!(add(1, 2).await.unwrap(), 3);
/// // ...and a type of the same name is the task: `add::call(..)` builds a
/// // call to send, `.register::<add>()` adds it to a worker.
/// let call = add::call(1, 2);
/// assert_eq!(call.options().queue, "math");
/// # }
/// ```
///
/// The function's parameters become the task's arguments (owned,
/// serde-serializable types); its `Ok` type is the output. A first parameter
/// of type `TaskContext<S>` receives the run's context with the worker's
/// state `S`; `TaskContext` without a type argument works on any worker.
///
/// Options (all but `name` optional):
///
/// | option | value | default |
/// |---|---|---|
/// | `name` | the stable wire name, e.g. `"rpm.sync"` | required |
/// | `queue` | queue name | `"default"` |
/// | `priority` | `"high"`, `"normal"`, `"low"` | `"normal"` |
/// | `max_retries` | integer | `0` |
/// | `retry_delay` | duration of the first retry's backoff | `"1s"` |
/// | `retry_delay_max` | longest backoff | `"10m"` |
/// | `retry_jitter` | `true` / `false` | `true` |
/// | `soft_time_limit` | duration; the cancellation token fires | none |
/// | `time_limit` | duration; the future is dropped | none |
/// | `expires` | duration after sending | none |
/// | `result_ttl` | duration the result is kept | `"1d"` |
/// | `on_worker_lost` | `"requeue"` or `"fail"` | `"requeue"` |
/// | `rate_limit` | `"100/s"`, `"30/m"`, `"1000/h"`: cluster-wide starts per window (see `taskq::RateLimit`) | none |
/// | `crate` | path of the taskq crate | `"taskq"` |
///
/// Durations are written `"250ms"`, `"30s"`, `"5m"`, `"2h"`, `"1d"`.
/// Set `TASKQ_MACROS_DEBUG=1` to print each expansion at compile time.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::task(args.into(), item.into()).into()
}
