//! One RESP3 connection per process that receives pub/sub messages: task
//! completion notices (for [`wait_final`](crate::broker::Broker::wait_final))
//! and the control channel (cancellation of running tasks).
//!
//! Pub/sub messages are lost while a connection is down, so nothing relies on
//! them alone: waiters re-check the task record periodically and after every
//! reconnect, and workers re-check the cancel flags of their running tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ProtocolVersion, PushInfo, PushKind, Value};
use tokio::sync::{Notify, broadcast, mpsc};

use crate::broker::ControlEvent;
use crate::error::Result;
use crate::task::TaskId;

#[derive(Debug, Default)]
struct Channels {
    /// channel → (notify, number of interested waiters)
    done: HashMap<Vec<u8>, (Arc<Notify>, usize)>,
}

/// The pub/sub side of a [`RedisBroker`](super::RedisBroker).
#[derive(Debug, Clone)]
pub(crate) struct Listener {
    conn: ConnectionManager,
    channels: Arc<Mutex<Channels>>,
    control_channel: Vec<u8>,
    control: broadcast::Sender<ControlEvent>,
    control_subscribed: Arc<tokio::sync::OnceCell<()>>,
}

impl Listener {
    pub(crate) async fn connect(client: &redis::Client, control_channel: String) -> Result<Self> {
        let info = client.get_connection_info().clone();
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let resp3 = redis::Client::open(info.set_redis_settings(settings))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(tx)
            .set_automatic_resubscription()
            .set_number_of_retries(usize::MAX)
            .set_max_delay(std::time::Duration::from_secs(2));
        let conn = resp3.get_connection_manager_with_config(config).await?;
        let (control, _) = broadcast::channel(1024);
        let listener = Listener {
            conn,
            channels: Arc::default(),
            control_channel: control_channel.into_bytes(),
            control,
            control_subscribed: Arc::default(),
        };
        tokio::spawn(dispatch(rx, listener.clone()));
        Ok(listener)
    }

    /// Subscribes to a task's done channel; the guard unsubscribes.
    pub(crate) async fn watch(&self, channel: String) -> Result<DoneWatch> {
        let key = channel.into_bytes();
        let (notify, first) = {
            let mut ch = self.channels.lock().unwrap_or_else(|e| e.into_inner());
            let entry = ch
                .done
                .entry(key.clone())
                .or_insert_with(|| (Arc::new(Notify::new()), 0));
            entry.1 += 1;
            (Arc::clone(&entry.0), entry.1 == 1)
        };
        let guard = DoneWatch {
            listener: self.clone(),
            channel: key.clone(),
            notify,
        };
        if first {
            self.conn.clone().subscribe(&key).await?;
        }
        Ok(guard)
    }

    /// A receiver of control events; subscribes to the control channel once.
    pub(crate) async fn control(&self) -> Result<broadcast::Receiver<ControlEvent>> {
        let rx = self.control.subscribe();
        self.control_subscribed
            .get_or_try_init(|| async { self.conn.clone().subscribe(&self.control_channel).await })
            .await?;
        Ok(rx)
    }

    fn release(&self, channel: &[u8]) {
        let last = {
            let mut ch = self.channels.lock().unwrap_or_else(|e| e.into_inner());
            match ch.done.get_mut(channel) {
                Some(entry) if entry.1 > 1 => {
                    entry.1 -= 1;
                    false
                }
                Some(_) => {
                    ch.done.remove(channel);
                    true
                }
                None => false,
            }
        };
        if last {
            let mut conn = self.conn.clone();
            let channel = channel.to_vec();
            tokio::spawn(async move {
                let _ = conn.unsubscribe(&channel).await;
            });
        }
    }

    fn wake_all(&self) {
        let ch = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        for (notify, _) in ch.done.values() {
            notify.notify_waiters();
        }
    }
}

/// Interest in one task's completion; dropping it unsubscribes.
#[derive(Debug)]
pub(crate) struct DoneWatch {
    listener: Listener,
    channel: Vec<u8>,
    notify: Arc<Notify>,
}

impl DoneWatch {
    pub(crate) fn notify(&self) -> &Notify {
        &self.notify
    }
}

impl Drop for DoneWatch {
    fn drop(&mut self) {
        self.listener.release(&self.channel);
    }
}

async fn dispatch(mut rx: mpsc::UnboundedReceiver<PushInfo>, listener: Listener) {
    while let Some(push) = rx.recv().await {
        match push.kind {
            PushKind::Message => {
                let mut data = push.data.into_iter();
                let (Some(Value::BulkString(channel)), Some(payload)) = (data.next(), data.next())
                else {
                    continue;
                };
                if channel == listener.control_channel {
                    if let Value::BulkString(p) = payload
                        && let Some(id) = p.strip_prefix(b"cancel ")
                        && let Ok(id) = std::str::from_utf8(id)
                        && let Ok(id) = TaskId::new(id)
                    {
                        let _ = listener.control.send(ControlEvent::Cancel(id));
                    }
                } else {
                    let ch = listener.channels.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some((notify, _)) = ch.done.get(&channel) {
                        notify.notify_waiters();
                    }
                }
            }
            PushKind::Disconnection => {
                // Messages may have been missed: everybody re-checks.
                listener.wake_all();
                let _ = listener.control.send(ControlEvent::Resync);
            }
            _ => {}
        }
    }
}
