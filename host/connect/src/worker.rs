//! Task threads: each task runs its delivery loop on a named OS thread of its own; the worker
//! starts it, asks it to pause, resume or stop, and waits for it within the graceful shutdown
//! timeout. A task that fails or panics ends with FAILED and the reason, and nothing else.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use crate::errors::TaskFailure;
use crate::model::{ConnectorType, State};
use crate::task::{sink, source, Target, TaskControl, TaskEnv, TaskReport};

/// A running (or finished) task.
pub struct TaskHandle {
    pub id: u32,
    pub config: Vec<(String, String)>,
    pub control: Arc<TaskControl>,
    pub report: Arc<TaskReport>,
    done: Option<Receiver<()>>,
}

impl TaskHandle {
    /// Whether the thread is still running.
    pub fn alive(&self) -> bool {
        match &self.done {
            Some(rx) => matches!(rx.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty)),
            None => false,
        }
    }

    /// Asks the task to stop and waits up to `timeout` for it to commit and close. A task still
    /// inside a component call past the timeout is left to finish on its own (its call deadline
    /// bounds how long) and reported as such.
    pub fn stop(&mut self, timeout: Duration) -> bool {
        self.control.set(Target::Stop);
        let Some(rx) = self.done.take() else {
            return true;
        };
        match rx.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(
                    task = self.id,
                    ?timeout,
                    "task did not stop within task.shutdown.graceful.timeout.ms"
                );
                false
            }
        }
    }

    /// Stop without waiting (the thread ends on its own).
    pub fn signal_stop(&self) {
        self.control.set(Target::Stop);
    }
}

/// Starts a task's thread. `initial` is Run or Pause.
pub fn spawn(
    kind: ConnectorType,
    mut env: TaskEnv,
    initial: Target,
    report: Arc<TaskReport>,
) -> Result<TaskHandle, String> {
    let control = TaskControl::new(initial);
    env.control = control.clone();
    env.report = report.clone();
    let id = env.task;
    let config = env.task_config.clone();
    let (tx, rx) = channel();
    let name = format!("task-{}-{}", env.spec.name, env.task);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(|| match kind {
                ConnectorType::Sink => sink::run(&env),
                _ => source::run(&env),
            }));
            let outcome = match r {
                Ok(r) => r,
                Err(p) => {
                    let msg = p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panic".into());
                    Err(TaskFailure::new(None, "worker", format!("the task thread panicked: {msg}")))
                }
            };
            match outcome {
                Err(f) => {
                    tracing::error!(connector = %env.spec.name, task = env.task, error = %f.message, "task failed");
                    env.report.fail(&f);
                }
                Ok(()) => {
                    if env.control.stopping() {
                        env.report.set_state(State::Unassigned);
                    }
                }
            }
            let _ = tx.send(());
        })
        .map_err(|e| format!("cannot start a task thread: {e}"))?;
    Ok(TaskHandle {
        id,
        config,
        control,
        report,
        done: Some(rx),
    })
}
