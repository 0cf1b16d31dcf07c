//! The checkpoint role's bookkeeping, after MirrorCheckpointTask: the last checkpoint emitted per
//! (group, target partition), which new checkpoints are worth emitting (monotonic downstream,
//! except after the upstream group rewound), and which translated offsets to commit to a target
//! group (those ahead of what the group has committed there).

use std::collections::BTreeMap;

use crate::formats::Checkpoint;

/// A target topic partition.
pub type TargetPartition = (String, i32);

/// The last checkpoint per group and target partition.
#[derive(Debug, Default)]
pub struct CheckpointStore {
    last: BTreeMap<String, BTreeMap<TargetPartition, Checkpoint>>,
}

impl CheckpointStore {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `c` should be emitted given the last checkpoint of its group and partition
    /// (MirrorCheckpointTask.checkpointIsMoreRecent).
    pub fn is_more_recent(&self, c: &Checkpoint) -> bool {
        let Some(last) = self
            .last
            .get(&c.group)
            .and_then(|m| m.get(&(c.topic.clone(), c.partition)))
        else {
            return true;
        };
        // A rewind of the upstream group is followed; otherwise downstream only moves forward.
        c.upstream_offset < last.upstream_offset || c.downstream_offset > last.downstream_offset
    }

    /// Records an emitted (or, at start, a previously stored) checkpoint.
    pub fn record(&mut self, c: Checkpoint) {
        self.last
            .entry(c.group.clone())
            .or_default()
            .insert((c.topic.clone(), c.partition), c);
    }

    /// Groups with checkpoints.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.last.keys().map(String::as_str)
    }

    /// The translated offsets of `group`, per target partition.
    pub fn translated(&self, group: &str) -> BTreeMap<TargetPartition, i64> {
        self.last
            .get(group)
            .map(|m| {
                m.iter()
                    .map(|(tp, c)| (tp.clone(), c.downstream_offset))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The offsets to commit for a target group (MirrorCheckpointTask.syncGroupOffset): each
/// translated offset for a partition the group has no offset for, or one ahead of its offset.
pub fn offsets_to_sync(
    translated: &BTreeMap<TargetPartition, i64>,
    target_committed: &BTreeMap<TargetPartition, i64>,
) -> Vec<(TargetPartition, i64)> {
    translated
        .iter()
        .filter(|(tp, off)| target_committed.get(*tp).is_none_or(|cur| *cur < **off))
        .map(|(tp, off)| (tp.clone(), *off))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(up: i64, down: i64) -> Checkpoint {
        Checkpoint {
            group: "g".into(),
            topic: "A.t".into(),
            partition: 0,
            upstream_offset: up,
            downstream_offset: down,
            metadata: String::new(),
        }
    }

    #[test]
    fn checkpoints_are_monotonic_unless_the_group_rewound() {
        let mut s = CheckpointStore::new();
        assert!(s.is_more_recent(&cp(10, 5)));
        s.record(cp(10, 5));
        assert!(!s.is_more_recent(&cp(10, 5)));
        assert!(!s.is_more_recent(&cp(12, 5)));
        // A conservative translation that would move downstream back is not emitted.
        assert!(!s.is_more_recent(&cp(20, 4)));
        assert!(s.is_more_recent(&cp(20, 6)));
        // The upstream group was reset to an earlier offset: followed.
        assert!(s.is_more_recent(&cp(3, 1)));
    }

    #[test]
    fn only_offsets_ahead_of_the_target_group_are_synced() {
        let mut s = CheckpointStore::new();
        s.record(cp(10, 5));
        let mut other = cp(10, 9);
        other.partition = 1;
        s.record(other);
        let mut third = cp(10, 3);
        third.partition = 2;
        s.record(third);
        let translated = s.translated("g");
        let committed: BTreeMap<TargetPartition, i64> =
            [(("A.t".into(), 0), 7), (("A.t".into(), 2), 2)].into();
        let out = offsets_to_sync(&translated, &committed);
        assert_eq!(
            out,
            [(("A.t".to_string(), 1), 9), (("A.t".to_string(), 2), 3)]
        );
        assert_eq!(s.groups().collect::<Vec<_>>(), ["g"]);
    }
}
