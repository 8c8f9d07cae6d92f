//! Task handlers by wire name, with their types erased.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::error::{Error, Result};
use crate::task::{Handler, TaskContext, TaskError};

/// A handler that decodes its own arguments and encodes its own output.
pub(crate) trait ErasedHandler<S>: Send + Sync {
    /// Decodes `args` and starts the task.
    fn call(
        &self,
        ctx: TaskContext<S>,
        args: &[u8],
    ) -> Result<BoxFuture<'static, Result<Vec<u8>, TaskError>>>;
}

struct HandlerFn<T>(PhantomData<fn() -> T>);

impl<S, T> ErasedHandler<S> for HandlerFn<T>
where
    S: Send + Sync + 'static,
    T: Handler<S>,
{
    fn call(
        &self,
        ctx: TaskContext<S>,
        args: &[u8],
    ) -> Result<BoxFuture<'static, Result<Vec<u8>, TaskError>>> {
        let args: T::Args = rmp_serde::from_slice(args)
            .map_err(|e| Error::decode(format!("arguments of task {}", T::NAME), e))?;
        Ok(Box::pin(async move {
            let output = T::run(ctx, args).await?;
            rmp_serde::to_vec(&output)
                .map_err(|e| TaskError::fail(format!("could not encode the result: {e}")))
        }))
    }
}

/// The tasks a worker knows.
pub(crate) struct Registry<S> {
    handlers: HashMap<&'static str, Arc<dyn ErasedHandler<S>>>,
}

impl<S> Default for Registry<S> {
    fn default() -> Self {
        Registry {
            handlers: HashMap::new(),
        }
    }
}

impl<S: Send + Sync + 'static> Registry<S> {
    pub(crate) fn register<T: Handler<S>>(&mut self) -> Result<()> {
        if self.handlers.contains_key(T::NAME) {
            return Err(Error::Config(format!(
                "task {:?} registered twice",
                T::NAME
            )));
        }
        self.handlers
            .insert(T::NAME, Arc::new(HandlerFn::<T>(PhantomData)));
        Ok(())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<dyn ErasedHandler<S>>> {
        self.handlers.get(name)
    }

    pub(crate) fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.handlers.keys().copied().collect();
        names.sort_unstable();
        names
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }
}
