//! The epoch ticker: the thread that advances the engine's epoch every tick (how call deadlines
//! fire), running only while some store exists, so a process with no plugin instance does not
//! wake every few milliseconds for nothing.
//!
//! Wasm runs only inside a store, and every store holds a [`StoreLease`] from its creation to its
//! drop, so no guest code can run while the ticker sleeps: the deadline is enforced by
//! construction, not by every call site remembering to start the clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use wasmtime::Engine;

#[derive(Default)]
struct State {
    stores: usize,
    stop: bool,
}

/// The ticker's shared state; the thread holds one reference, the runtime and each lease others.
pub(crate) struct Ticker {
    state: Mutex<State>,
    wake: Condvar,
    ticks: AtomicU64,
}

impl Ticker {
    /// Starts the ticker thread, idle until the first lease.
    pub(crate) fn start(engine: Engine, tick: Duration) -> std::io::Result<Arc<Ticker>> {
        let ticker = Arc::new(Ticker {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            ticks: AtomicU64::new(0),
        });
        let shared = ticker.clone();
        std::thread::Builder::new()
            .name("weft-epoch".into())
            .spawn(move || shared.run(&engine, tick))?;
        Ok(ticker)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is two plain fields, valid whatever a panicking holder was doing.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self, engine: &Engine, tick: Duration) {
        loop {
            {
                let mut s = self.lock();
                while s.stores == 0 && !s.stop {
                    s = self.wake.wait(s).unwrap_or_else(|e| e.into_inner());
                }
                if s.stop {
                    return;
                }
            }
            std::thread::sleep(tick);
            engine.increment_epoch();
            self.ticks.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Keeps the ticker running until the lease is dropped; taken by every store.
    pub(crate) fn lease(self: &Arc<Self>) -> StoreLease {
        let mut s = self.lock();
        s.stores += 1;
        if s.stores == 1 {
            self.wake.notify_one();
        }
        StoreLease(self.clone())
    }

    /// Ends the thread (when the runtime is dropped).
    pub(crate) fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
    }

    /// Epochs advanced so far.
    pub(crate) fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }
}

/// A store's claim on the ticker.
pub(crate) struct StoreLease(Arc<Ticker>);

impl Drop for StoreLease {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.stores = s.stores.saturating_sub(1);
    }
}
