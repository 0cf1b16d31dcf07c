//! Which source positions may be stored: a position reached by a poll is ready once every
//! record before it in that poll (by `after-records`), and every record of earlier polls, was
//! acknowledged by the cluster or given up under `errors.tolerance=all`. A ready position is
//! kept twice: once for the connector's `commit` (told at once) and once for the offset store
//! (written at the flush interval).

use std::collections::{BTreeMap, VecDeque};

use crate::task::component::Position;

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

#[derive(Debug)]
struct Poll {
    id: u64,
    done: Vec<bool>,
    /// The first `prefix` records are done.
    prefix: usize,
    positions: VecDeque<Position>,
}

/// Outstanding polls and the positions ready to store.
#[derive(Debug, Default)]
pub struct Acks {
    polls: VecDeque<Poll>,
    next_id: u64,
    ready: BTreeMap<String, String>,
    /// Ready positions the connector has not been told of yet.
    to_commit: BTreeMap<String, String>,
    /// Records not yet acknowledged.
    pub outstanding: u64,
}

impl Acks {
    /// Registers a poll of `len` records and its positions; returns its id (for [`tag`]).
    pub fn begin(&mut self, len: usize, positions: Vec<Position>) -> u64 {
        let id = self.next_id;
        // Poll ids wrap long after any poll could still be outstanding.
        self.next_id = (self.next_id + 1) & ((1 << (64 - INDEX_BITS)) - 1);
        self.polls.push_back(Poll {
            id,
            done: vec![false; len],
            prefix: 0,
            positions: positions.into(),
        });
        self.outstanding += len as u64;
        id
    }

    /// Marks record `index` of poll `id` done (sent, filtered, or given up).
    pub fn done(&mut self, id: u64, index: u32) {
        if let Some(p) = self.polls.iter_mut().find(|p| p.id == id) {
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

    /// Moves every position whose records are all done into the ready set.
    pub fn advance(&mut self) {
        while let Some(p) = self.polls.front_mut() {
            while p.prefix < p.done.len() && p.done[p.prefix] {
                p.prefix += 1;
            }
            while let Some(pos) = p.positions.front() {
                if pos.after_records as usize <= p.prefix {
                    if let Some(pos) = p.positions.pop_front() {
                        self.to_commit
                            .insert(pos.partition.clone(), pos.position.clone());
                        self.ready.insert(pos.partition, pos.position);
                    }
                } else {
                    break;
                }
            }
            if p.prefix == p.done.len() {
                // Positions past the end of the poll are ready with its last record.
                for pos in p.positions.drain(..) {
                    self.to_commit
                        .insert(pos.partition.clone(), pos.position.clone());
                    self.ready.insert(pos.partition, pos.position);
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
    fn tags_round_trip_and_empty_polls_pass_their_positions() {
        assert_eq!(untag(tag(12345, 77)), (12345, 77));
        let mut a = Acks::default();
        a.begin(0, vec![pos(0, "f", "5")]);
        a.advance();
        assert_eq!(a.take_ready().len(), 1);
    }
}
