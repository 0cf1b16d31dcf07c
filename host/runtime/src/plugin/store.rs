//! One store with the sandbox applied: memory and count limits, call deadline, fuel, and the
//! translation of a failed call into the typed error for the limit it hit.

use std::sync::Arc;

use std::time::Instant;

use wasmtime::{Store, UpdateDeadline};

use crate::config::{Grants, Sandbox, KEY_MEMORY};
use crate::engine::Runtime;
use crate::error::{Result, RuntimeError};
use crate::host::{HostState, Metrics};
use crate::limits::{count_limit, Limit};
use crate::plugin::data::TrapKind;
use crate::plugin::task::TaskLink;

/// A store for one instance of `plugin`: its grants, the sandbox's limits and a deadline armed.
pub(super) fn new_store(
    runtime: &Runtime,
    plugin: &str,
    grants: &Grants,
    sandbox: &Sandbox,
    metrics: Metrics,
    task: Arc<TaskLink>,
) -> Result<Store<HostState>> {
    let state = HostState::new(
        Arc::from(plugin),
        grants,
        sandbox,
        runtime.inner.log.clone(),
        metrics,
        task,
        runtime.inner.ticker.lease(),
    )
    .map_err(|message| RuntimeError::Instantiate {
        plugin: plugin.to_string(),
        message,
    })?;
    let mut store = Store::new(runtime.engine(), state);
    // The count limits are read from the limiter here, once, before anything is instantiated.
    store.limiter(|s| &mut s.limiter);
    // A call from the guest into the host may make the host allocate this much (the strings and
    // lists it passes); more than the guest's own memory cap is never needed.
    store.set_hostcall_fuel(sandbox.memory_bytes);
    // When the deadline fires, time the call spent in host waits is given back: the deadline
    // is on time inside the component (see `HostState::wait`).
    let tick = runtime.inner.tick;
    store.epoch_deadline_callback(move |ctx| {
        let state = ctx.data();
        let used = state.time_in_component();
        if used >= state.call_timeout {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(UpdateDeadline::Continue(ticks_for(
            state.call_timeout - used,
            tick,
        )))
    });
    arm(&mut store, runtime, sandbox);
    Ok(store)
}

/// Epochs to wait for `d` to pass.
fn ticks_for(d: std::time::Duration, tick: std::time::Duration) -> u64 {
    // +1: the current epoch may be about to end, so a deadline of n ticks can fire early by
    // up to one tick; rounding up keeps the promise "at least the configured timeout".
    d.as_nanos().div_ceil(tick.as_nanos().max(1)) as u64 + 1
}

/// Sets the deadline (and fuel) for the next call.
pub(super) fn arm(store: &mut Store<HostState>, runtime: &Runtime, sandbox: &Sandbox) {
    store.set_epoch_deadline(ticks_for(sandbox.call_timeout, runtime.inner.tick));
    let state = store.data_mut();
    state.call_started = Instant::now();
    state.host_wait = std::time::Duration::ZERO;
    if runtime.inner.fuel {
        // Ignoring the error is right: it only fails when fuel is disabled, checked above.
        let _ = store.set_fuel(sandbox.fuel.unwrap_or(u64::MAX));
    }
    store.data_mut().last_error = None;
}

/// Turns a failed call into the typed error for this plugin.
pub(super) fn classify(
    plugin: &str,
    sandbox: &Sandbox,
    state: &HostState,
    e: wasmtime::Error,
) -> RuntimeError {
    if let Some(hit) = state.limiter.hit_limit() {
        if hit.config_key == KEY_MEMORY {
            return RuntimeError::MemoryLimit {
                plugin: plugin.to_string(),
                limit: hit.value,
            };
        }
        return resource_limit(plugin, hit);
    }
    if let Some(hit) = count_limit(sandbox, &e) {
        return resource_limit(plugin, hit);
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => RuntimeError::DeadlineExceeded {
            plugin: plugin.to_string(),
            limit: sandbox.call_timeout,
        },
        Some(wasmtime::Trap::OutOfFuel) => RuntimeError::FuelExhausted {
            plugin: plugin.to_string(),
        },
        _ => {
            let mut message = format!("{e:#}");
            if let Some(logged) = &state.last_error {
                message.push_str(&format!(" (last error logged: {logged})"));
            }
            RuntimeError::Trap {
                plugin: plugin.to_string(),
                message,
            }
        }
    }
}

/// The kind of a failed call, for the instance's trap counts: `unreachable` says whether
/// wasmtime's trap code was `UnreachableCodeReached` (what `classify` keeps only as text).
pub(super) fn trap_kind(classified: &RuntimeError, unreachable: bool) -> TrapKind {
    match classified {
        RuntimeError::DeadlineExceeded { .. } => TrapKind::Deadline,
        RuntimeError::MemoryLimit { .. } => TrapKind::OutOfMemory,
        RuntimeError::Trap { .. } if unreachable => TrapKind::Unreachable,
        _ => TrapKind::Other,
    }
}

fn resource_limit(plugin: &str, hit: Limit) -> RuntimeError {
    RuntimeError::ResourceLimit {
        plugin: plugin.to_string(),
        what: hit.what,
        limit: hit.value,
        config_key: hit.config_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RuntimeOptions;

    #[test]
    fn hostcall_fuel_is_no_larger_than_the_memory_cap() {
        let rt = Runtime::with_options(RuntimeOptions {
            cache_dir: None,
            ..RuntimeOptions::default()
        })
        .unwrap();
        let sandbox = Sandbox {
            memory_bytes: 3 << 20,
            ..Sandbox::default()
        };
        let store = new_store(
            &rt,
            "t",
            &Grants::default(),
            &sandbox,
            Metrics::default(),
            Arc::default(),
        )
        .unwrap();
        assert_eq!(store.hostcall_fuel(), 3 << 20);
    }
}
