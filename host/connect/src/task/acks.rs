//! Which source positions may be stored: a position reached by a poll is ready once every
//! record before it in that poll (by `after-records`), and every record of earlier polls, was
//! acknowledged by the cluster or given up under `errors.tolerance=all`. A ready position is
//! kept twice: once for the connector's `commit` (told at once) and once for the offset store
//! (written at the flush interval). For a position whose attributed record (the one at index
//! `after-records - 1`) was written, where the cluster stored it is kept too, for the
//! connector's `written-positions` (only those records' delivery reports are looked at, so
//! nothing is allocated per record).

use std::collections::{BTreeMap, VecDeque};

use crate::task::component::Position;
use weft_runtime::WrittenPosition;

/// Most records one poll may return (the index shares the delivery tag with the poll's id).
pub const MAX_POLL_RECORDS: usize = 1 << INDEX_BITS;
const INDEX_BITS: u32 = 24;

/// The delivery tag of record `index` of poll `poll`: what the producer hands back with the
/// acknowledgement, so no allocation is made per record.
pub fn tag(poll: u64, index: u32) -> usize {
    ((poll << INDEX_BITS) | u64::from(index)) as usize
}

fn untag(tag: usize) -> (u64, u32) {
    let t = tag as u64;
    (t >> INDEX_BITS, (t & ((1 << INDEX_BITS) - 1)) as u32)
}

/// Where the cluster stored a record: topic, partition, offset.
pub type Stored<'a> = (&'a str, i32, i64);
/// [`Stored`], owned.
type StoredOwned = (String, i32, i64);

#[derive(Debug)]
struct Poll {
    id: u64,
    done: Vec<bool>,
    /// The first `prefix` records are done.
    prefix: usize,
    positions: VecDeque<Position>,
    /// The record indexes positions are attributed to (ascending, each once) and where the
    /// cluster stored each, once its delivery report came.
    attributed: Vec<(u32, Option<StoredOwned>)>,
}

impl Poll {
    fn stored_at(&self, after_records: u32) -> Option<&StoredOwned> {
        let index = after_records.checked_sub(1)?;
        let i = self
            .attributed
            .binary_search_by_key(&index, |(x, _)| *x)
            .ok()?;
        self.attributed.get(i)?.1.as_ref()
    }
}

/// Outstanding polls and the positions ready to store.
#[derive(Debug, Default)]
pub struct Acks {
    polls: VecDeque<Poll>,
    next_id: u64,
    ready: BTreeMap<String, String>,
    /// Ready positions the connector has not been told of yet.
    to_commit: BTreeMap<String, String>,
    /// Ready positions whose record was written, and where (latest per source partition), for
    /// the connector's `written-positions`.
    written: BTreeMap<String, WrittenPosition>,
    /// Records not yet acknowledged.
    pub outstanding: u64,
}

impl Acks {
    /// Registers a poll of `len` records and its positions; returns its id (for [`tag`]).
    pub fn begin(&mut self, len: usize, positions: Vec<Position>) -> u64 {
        let id = self.next_id;
        // Poll ids wrap long after any poll could still be outstanding.
        self.next_id = (self.next_id + 1) & ((1 << (64 - INDEX_BITS)) - 1);
        let mut attributed: Vec<(u32, Option<StoredOwned>)> = positions
            .iter()
            .filter_map(|p| p.after_records.checked_sub(1))
            .filter(|i| (*i as usize) < len)
            .map(|i| (i, None))
            .collect();
        attributed.dedup_by_key(|(i, _)| *i);
        self.polls.push_back(Poll {
            id,
            done: vec![false; len],
            prefix: 0,
            positions: positions.into(),
            attributed,
        });
        self.outstanding += len as u64;
        id
    }

    /// Forgets every outstanding poll and every position not yet taken (an aborted
    /// transaction's), keeping the poll ids counting so that a late acknowledgement of a
    /// forgotten poll can never mark a later one's record.
    pub fn forget(&mut self) {
        self.polls.clear();
        self.ready.clear();
        self.to_commit.clear();
        self.written.clear();
        self.outstanding = 0;
    }

    /// Marks record `index` of poll `id` done (sent, filtered, or given up).
    pub fn done(&mut self, id: u64, index: u32) {
        self.done_at(id, index, None);
    }

    /// Marks record `index` of poll `id` done; `stored` is where the cluster wrote it (none
    /// when it was filtered or given up).
    pub fn done_at(&mut self, id: u64, index: u32, stored: Option<Stored<'_>>) {
        if let Some(p) = self.polls.iter_mut().find(|p| p.id == id) {
            if let Some((t, part, off)) = stored {
                if let Ok(i) = p.attributed.binary_search_by_key(&index, |(x, _)| *x) {
                    if let Some(slot) = p.attributed.get_mut(i) {
                        slot.1 = Some((t.to_string(), part, off));
                    }
                }
            }
            if let Some(d) = p.done.get_mut(index as usize) {
                if !*d {
                    *d = true;
                    self.outstanding = self.outstanding.saturating_sub(1);
                }
            }
        }
    }

    /// As [`Acks::done`], from a delivery tag.
    pub fn done_tag(&mut self, tag: usize) {
        let (id, index) = untag(tag);
        self.done(id, index);
    }

    /// As [`Acks::done_at`], from a delivery tag.
    pub fn done_tag_at(&mut self, tag: usize, stored: Option<Stored<'_>>) {
        let (id, index) = untag(tag);
        self.done_at(id, index, stored);
    }

    /// Moves every position whose records are all done into the ready set.
    pub fn advance(&mut self) {
        while let Some(p) = self.polls.front_mut() {
            while p.prefix < p.done.len() && p.done[p.prefix] {
                p.prefix += 1;
            }
            while let Some(pos) = p.positions.front() {
                if pos.after_records as usize <= p.prefix {
                    if let Some(pos) = p.positions.pop_front() {
                        let stored = p.stored_at(pos.after_records).cloned();
                        mark_ready(
                            &mut self.ready,
                            &mut self.to_commit,
                            &mut self.written,
                            pos,
                            stored,
                        );
                    }
                } else {
                    break;
                }
            }
            if p.prefix == p.done.len() {
                // Positions past the end of the poll are ready with its last record.
                let rest: Vec<Position> = p.positions.drain(..).collect();
                for pos in rest {
                    let stored = p.stored_at(pos.after_records).cloned();
                    mark_ready(
                        &mut self.ready,
                        &mut self.to_commit,
                        &mut self.written,
                        pos,
                        stored,
                    );
                }
                self.polls.pop_front();
            } else {
                break;
            }
        }
    }

    /// Takes the positions ready to store (latest per source partition).
    pub fn take_ready(&mut self) -> BTreeMap<String, String> {
        std::mem::take(&mut self.ready)
    }

    /// Takes the positions that became ready since the connector was last told (latest per
    /// source partition, so many acknowledgements make one `commit`).
    pub fn take_to_commit(&mut self) -> BTreeMap<String, String> {
        std::mem::take(&mut self.to_commit)
    }

    /// Takes the ready positions whose record was written, with where it was written (latest
    /// per source partition since the last call).
    pub fn take_written(&mut self) -> Vec<WrittenPosition> {
        std::mem::take(&mut self.written).into_values().collect()
    }
}

fn mark_ready(
    ready: &mut BTreeMap<String, String>,
    to_commit: &mut BTreeMap<String, String>,
    written: &mut BTreeMap<String, WrittenPosition>,
    pos: Position,
    stored: Option<StoredOwned>,
) {
    match stored {
        Some((topic, partition, offset)) => {
            written.insert(
                pos.partition.clone(),
                WrittenPosition {
                    position: (pos.partition.clone(), pos.position.clone()),
                    topic,
                    partition,
                    offset,
                },
            );
        }
        // A later position of the partition whose record was not written (filtered, given
        // up, or none) must not leave an older pair behind as if it were the latest.
        None => {
            written.remove(&pos.partition);
        }
    }
    to_commit.insert(pos.partition.clone(), pos.position.clone());
    ready.insert(pos.partition, pos.position);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(after: u32, p: &str, o: &str) -> Position {
        Position {
            after_records: after,
            partition: p.into(),
            position: o.into(),
        }
    }

    #[test]
    fn a_position_waits_for_every_record_before_it() {
        let mut a = Acks::default();
        let p0 = a.begin(3, vec![pos(1, "f", "10"), pos(3, "f", "30")]);
        let p1 = a.begin(1, vec![pos(1, "f", "40")]);
        a.done(p1, 0);
        a.done(p0, 2);
        a.advance();
        assert!(
            a.take_ready().is_empty(),
            "record 0 of the first poll is not acknowledged"
        );
        a.done(p0, 0);
        a.advance();
        assert_eq!(a.take_ready().get("f").map(String::as_str), Some("10"));
        a.done(p0, 1);
        a.advance();
        assert_eq!(a.take_ready().get("f").map(String::as_str), Some("40"));
        assert_eq!(a.outstanding, 0);
        // The connector hears of the latest ready position once, whatever the store took.
        assert_eq!(a.take_to_commit().get("f").map(String::as_str), Some("40"));
        assert!(a.take_to_commit().is_empty());
    }

    #[test]
    fn written_positions_carry_where_their_record_landed() {
        let mut a = Acks::default();
        // Two source partitions; positions after records 2 (a) and 4 (b), and one after 3 (a).
        let p0 = a.begin(
            4,
            vec![
                pos(2, "a", "{\"offset\":2}"),
                pos(3, "a", "{\"offset\":3}"),
                pos(4, "b", "{\"offset\":9}"),
            ],
        );
        a.done_tag_at(tag(p0, 0), Some(("t", 0, 100)));
        a.done_tag_at(tag(p0, 1), Some(("t", 0, 101)));
        a.advance();
        let w = a.take_written();
        assert_eq!(
            w,
            vec![WrittenPosition {
                position: ("a".into(), "{\"offset\":2}".into()),
                topic: "t".into(),
                partition: 0,
                offset: 101,
            }]
        );
        assert!(a.take_written().is_empty(), "taken once");
        // Record 2 was filtered: position a@3 is ready but has no written record.
        a.done(p0, 2);
        a.done_tag_at(tag(p0, 3), Some(("u", 5, 7)));
        a.advance();
        let w = a.take_written();
        assert_eq!(
            w.len(),
            1,
            "only b: a's latest position has no written record: {w:?}"
        );
        assert_eq!(w[0].position.0, "b");
        assert_eq!(
            (w[0].topic.as_str(), w[0].partition, w[0].offset),
            ("u", 5, 7)
        );
        // A poll with no records: its position has no record, nothing is written.
        a.begin(0, vec![pos(0, "c", "1")]);
        a.advance();
        assert!(a.take_written().is_empty());
    }

    #[test]
    fn forgotten_polls_stay_forgotten_when_their_acknowledgements_come_late() {
        let mut a = Acks::default();
        let old = a.begin(2, vec![pos(2, "p", "old")]);
        a.done(old, 0);
        a.forget();
        let new = a.begin(1, vec![pos(1, "p", "new")]);
        assert_ne!(old, new);
        a.done(old, 1);
        a.advance();
        assert!(
            a.take_ready().is_empty(),
            "a forgotten poll's record counted"
        );
        a.done(new, 0);
        a.advance();
        assert_eq!(a.take_ready().get("p").map(String::as_str), Some("new"));
        assert_eq!(a.outstanding, 0);
    }

    #[test]
    fn tags_round_trip_and_empty_polls_pass_their_positions() {
        assert_eq!(untag(tag(12345, 77)), (12345, 77));
        let mut a = Acks::default();
        a.begin(0, vec![pos(0, "f", "5")]);
        a.advance();
        assert_eq!(a.take_ready().len(), 1);
    }
}
