//! The resource limits of one store (one plugin instance): the sum of all its linear memories
//! against the memory cap, and the number of instances, memories, tables and table elements.
//!
//! wasmtime's `StoreLimits` bounds each linear memory on its own, so a component with many core
//! instances or memories could take the cap many times over; [`Limiter`] adds up every memory
//! of the store and delegates the count limits to a `StoreLimits`.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

use crate::config::{
    Sandbox, KEY_INSTANCES, KEY_MEMORIES, KEY_MEMORY, KEY_TABLES, KEY_TABLE_ELEMENTS,
};

/// Which limit a store ran into, remembered so the resulting trap or instantiation error can be
/// reported as that limit rather than as a generic failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hit {
    /// The sum of all linear memories would pass the cap.
    Memory,
    /// One table would hold more elements than allowed.
    TableElements,
}

/// A limit the sandbox enforces: what it counts, its value, and the config key that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    pub(crate) what: &'static str,
    pub(crate) value: usize,
    pub(crate) config_key: &'static str,
}

/// The store's `ResourceLimiter`.
pub(crate) struct Limiter {
    cap: usize,
    table_elements: usize,
    counts: StoreLimits,
    /// Bytes of every linear memory of the store, added up. Growth that wasmtime fails after
    /// the limiter granted it stays counted: the failure traps and the store is dropped.
    total: usize,
    pub(crate) hit: Option<Hit>,
}

impl Limiter {
    pub(crate) fn new(sandbox: &Sandbox) -> Self {
        let counts = StoreLimitsBuilder::new()
            .memory_size(sandbox.memory_bytes)
            .table_elements(sandbox.table_elements)
            .instances(sandbox.instances)
            .memories(sandbox.memories)
            .tables(sandbox.tables)
            .trap_on_grow_failure(true)
            .build();
        Limiter {
            cap: sandbox.memory_bytes,
            table_elements: sandbox.table_elements,
            counts,
            total: 0,
            hit: None,
        }
    }

    /// Bytes of linear memory the store holds, summed over all its memories.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.total
    }

    /// The limit that was hit, if any.
    pub(crate) fn hit_limit(&self) -> Option<Limit> {
        self.hit.map(|h| match h {
            Hit::Memory => Limit {
                what: "bytes of linear memory",
                value: self.cap,
                config_key: KEY_MEMORY,
            },
            Hit::TableElements => Limit {
                what: "table elements",
                value: self.table_elements,
                config_key: KEY_TABLE_ELEMENTS,
            },
        })
    }
}

/// Recognises wasmtime's refusal to create one more instance, memory or table in a store. The
/// count limits are checked by wasmtime itself, which reports them only as a message
/// ("resource limit exceeded: instance count too high at N"); the runtime tests pin the wording.
pub(crate) fn count_limit(sandbox: &Sandbox, e: &wasmtime::Error) -> Option<Limit> {
    let text = format!("{e:#}");
    if !text.contains("resource limit exceeded") {
        return None;
    }
    let (what, value, config_key) = if text.contains("instance count too high") {
        ("instances", sandbox.instances, KEY_INSTANCES)
    } else if text.contains("memory count too high") {
        ("memories", sandbox.memories, KEY_MEMORIES)
    } else if text.contains("table count too high") {
        ("tables", sandbox.tables, KEY_TABLES)
    } else {
        return None;
    };
    Some(Limit {
        what,
        value,
        config_key,
    })
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Creating a memory reports a growth from 0 to its initial size, so every byte of every
        // memory passes through here.
        let delta = desired.saturating_sub(current);
        let total = self.total.saturating_add(delta);
        if total > self.cap {
            self.hit = Some(Hit::Memory);
            // Trapping here (rather than returning false) stops the guest at the allocation
            // instead of letting it run on with a failed allocation.
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} bytes for all memories reached (holding {}, wanted {delta} more)",
                self.cap, self.total
            )));
        }
        if !self.counts.memory_growing(current, desired, maximum)? {
            return Ok(false);
        }
        self.total = total;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.counts.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.hit = Some(Hit::TableElements);
            return Err(wasmtime::Error::msg(format!(
                "table element limit of {} reached (wanted {desired})",
                self.table_elements
            )));
        }
        self.counts.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.counts.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.counts.instances()
    }

    fn tables(&self) -> usize {
        self.counts.tables()
    }

    fn memories(&self) -> usize {
        self.counts.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_holds_for_the_sum_of_all_memories() {
        let sandbox = Sandbox {
            memory_bytes: 10 << 20,
            ..Sandbox::default()
        };
        let mut l = Limiter::new(&sandbox);
        // Three memories created at 3 MiB each: every one is far below the cap, 9 MiB in all.
        for _ in 0..3 {
            assert!(l.memory_growing(0, 3 << 20, None).unwrap());
        }
        assert_eq!(l.memory_bytes(), 9 << 20);
        // Growing one of them by 512 KiB fits; a fourth memory of 3 MiB does not.
        assert!(l
            .memory_growing(3 << 20, (3 << 20) + (512 << 10), None)
            .unwrap());
        assert!(l.hit_limit().is_none());
        assert!(l.memory_growing(0, 3 << 20, None).is_err());
        let hit = l.hit_limit().unwrap();
        assert_eq!((hit.value, hit.config_key), (10 << 20, KEY_MEMORY));
        assert_eq!(l.memory_bytes(), (9 << 20) + (512 << 10));
    }

    #[test]
    fn counts_come_from_the_sandbox_and_wasmtime_refusals_are_recognised() {
        let sandbox = Sandbox {
            instances: 7,
            memories: 2,
            tables: 3,
            table_elements: 10,
            ..Sandbox::default()
        };
        let mut l = Limiter::new(&sandbox);
        assert_eq!((l.instances(), l.memories(), l.tables()), (7, 2, 3));
        assert!(l.table_growing(0, 10, None).unwrap());
        assert!(l.table_growing(10, 11, None).is_err());
        assert_eq!(l.hit_limit().unwrap().config_key, KEY_TABLE_ELEMENTS);

        let refusal = |desc: &str| {
            wasmtime::Error::msg(format!(
                "resource limit exceeded: {desc} count too high at 8"
            ))
        };
        let limit = |desc| count_limit(&sandbox, &refusal(desc)).map(|l| (l.what, l.value));
        assert_eq!(limit("instance"), Some(("instances", 7)));
        assert_eq!(limit("memory"), Some(("memories", 2)));
        assert_eq!(limit("table"), Some(("tables", 3)));
        assert_eq!(
            count_limit(&sandbox, &wasmtime::Error::msg("unreachable")),
            None
        );
    }
}
