//! Typed, copy-on-write access to the records of a batch.
//!
//! A [`Record`] borrows its key, value and headers from the batch the host sent, so a plugin
//! that only reads (a partitioner) or changes one field (an uppercase transform) copies nothing
//! else; changed fields become owned and the rest are written back straight from the input.

use std::borrow::Cow;
use std::cell::RefCell;

use weft_batch::{BatchWriter, EncodeError, HeadersView, RecordView};

thread_local! {
    /// Key and value buffers that records written out gave back, for the next ones a transform
    /// writes anew: in wasm, a dlmalloc and a dlfree per record cost field transforms ~5%.
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Buffers kept for reuse, and the largest kept: enough for a record's key and value, without
/// holding on to the memory of one huge record.
const SPARE_BUFFERS: usize = 4;
const SPARE_CAPACITY: usize = 64 * 1024;

/// An empty buffer of at least `capacity` bytes for a key or value written anew, given back for
/// reuse once its record is written out (the SDK's glue does that after `apply`).
pub fn buffer(capacity: usize) -> Vec<u8> {
    let mut b = SPARE.with(|s| s.borrow_mut().pop()).unwrap_or_default();
    b.reserve(capacity);
    b
}

/// Keeps a key or value buffer a record no longer needs for [`buffer`]: one written out, or one
/// replaced (a chain of transforms in one instance replaces the value each stage wrote).
pub(crate) fn give_back(part: Option<Cow<'_, [u8]>>) {
    if let Some(Cow::Owned(mut b)) = part {
        if b.capacity() <= SPARE_CAPACITY {
            b.clear();
            SPARE.with(|s| {
                let mut s = s.borrow_mut();
                if s.len() < SPARE_BUFFERS {
                    s.push(b);
                }
            });
        }
    }
}

/// One record, borrowing from its batch until a field is changed.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// Topic (a router transform changes it).
    pub topic: Cow<'a, str>,
    /// Partition, if assigned.
    pub partition: Option<i32>,
    /// Timestamp in ms since the Unix epoch.
    pub timestamp: Option<i64>,
    /// Log offset, set on records read from a log.
    pub offset: Option<i64>,
    /// Key; `None` is a null key.
    pub key: Option<Cow<'a, [u8]>>,
    /// Value; `None` is a null value (a tombstone).
    pub value: Option<Cow<'a, [u8]>>,
    /// Headers.
    pub headers: Headers<'a>,
}

impl<'a> Record<'a> {
    /// A record for `topic` with only a value.
    pub fn new(topic: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, [u8]>>) -> Self {
        Record {
            topic: topic.into(),
            partition: None,
            timestamp: None,
            offset: None,
            key: None,
            value: Some(value.into()),
            headers: Headers::default(),
        }
    }

    /// Borrows a record of an input batch.
    pub fn from_view(v: RecordView<'a>) -> Self {
        Record {
            topic: Cow::Borrowed(v.topic),
            partition: v.partition,
            timestamp: v.timestamp,
            offset: v.offset,
            key: v.key.map(Cow::Borrowed),
            value: v.value.map(Cow::Borrowed),
            headers: Headers {
                raw: Some(v.headers),
                owned: Vec::new(),
            },
        }
    }

    /// The key as bytes (`None` for a null key).
    pub fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }

    /// The value as bytes (`None` for a tombstone).
    pub fn value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }

    /// The key as UTF-8 text, if it is text.
    pub fn key_str(&self) -> Option<&str> {
        self.key().and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The value as UTF-8 text, if it is text.
    pub fn value_str(&self) -> Option<&str> {
        self.value().and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Replaces the value.
    pub fn set_value(&mut self, value: impl Into<Vec<u8>>) {
        give_back(self.value.replace(Cow::Owned(value.into())));
    }

    /// Replaces the key.
    pub fn set_key(&mut self, key: impl Into<Vec<u8>>) {
        give_back(self.key.replace(Cow::Owned(key.into())));
    }

    /// True when the value is null (a tombstone).
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// Appends the record to a batch being written.
    pub fn write_to(&self, w: &mut BatchWriter) -> Result<(), EncodeError> {
        match (&self.headers.raw, self.headers.owned.is_empty()) {
            (Some(raw), true) => w.push_with_raw_headers(
                &self.topic,
                self.partition,
                self.timestamp,
                self.offset,
                self.key.as_deref(),
                self.value.as_deref(),
                raw,
            ),
            _ => w.push(
                &self.topic,
                self.partition,
                self.timestamp,
                self.offset,
                self.key.as_deref(),
                self.value.as_deref(),
                self.headers.iter(),
            ),
        }
    }

    /// Gives the key and value buffers this record owns back for [`buffer`], once it was
    /// written out.
    pub(crate) fn recycle(self) {
        give_back(self.key);
        give_back(self.value);
    }

    /// Copies every borrowed field so the record outlives its batch.
    pub fn into_owned(self) -> Record<'static> {
        Record {
            topic: Cow::Owned(self.topic.into_owned()),
            partition: self.partition,
            timestamp: self.timestamp,
            offset: self.offset,
            key: self.key.map(|k| Cow::Owned(k.into_owned())),
            value: self.value.map(|v| Cow::Owned(v.into_owned())),
            headers: self.headers.into_owned(),
        }
    }
}

/// One owned-or-borrowed header: name and nullable value.
type HeaderCow<'a> = (Cow<'a, str>, Option<Cow<'a, [u8]>>);

/// A record's headers: borrowed from the batch until modified, then owned.
#[derive(Debug, Clone, Default)]
pub struct Headers<'a> {
    // Invariant: when `raw` is Some, `owned` is empty (the headers have not been modified).
    raw: Option<HeadersView<'a>>,
    owned: Vec<HeaderCow<'a>>,
}

impl<'a> Headers<'a> {
    fn materialize(&mut self) {
        if let Some(raw) = self.raw.take() {
            self.owned = raw
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k), v.map(Cow::Borrowed)))
                .collect();
        }
    }

    /// Iterates `(name, value)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&[u8]>)> + '_ {
        let raw = self.raw.iter().flat_map(|r| r.iter());
        let owned = self.owned.iter().map(|(k, v)| (k.as_ref(), v.as_deref()));
        raw.chain(owned)
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.raw.map_or(0, |r| r.len()) + self.owned.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The last value of `name` (Kafka's rule for duplicates); `Some(None)` is a null value.
    pub fn get(&self, name: &str) -> Option<Option<&[u8]>> {
        self.iter()
            .filter(|(k, _)| *k == name)
            .last()
            .map(|(_, v)| v)
    }

    /// True when a header `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|(k, _)| k == name)
    }

    /// Appends a header (duplicates are allowed, as in Kafka).
    pub fn push(&mut self, name: impl Into<String>, value: Option<Vec<u8>>) {
        self.materialize();
        self.owned
            .push((Cow::Owned(name.into()), value.map(Cow::Owned)));
    }

    /// Keeps only the headers for which `keep(name)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.materialize();
        self.owned.retain(|(k, _)| keep(k));
    }

    /// Removes every header named `name`.
    pub fn remove(&mut self, name: &str) {
        self.retain(|k| k != name);
    }

    fn into_owned(mut self) -> Headers<'static> {
        self.materialize();
        Headers {
            raw: None,
            owned: self
                .owned
                .into_iter()
                .map(|(k, v)| {
                    (
                        Cow::Owned(k.into_owned()),
                        v.map(|v| Cow::Owned(v.into_owned())),
                    )
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_batch::BatchReader;

    #[test]
    fn written_records_give_their_own_buffers_back_and_only_those() {
        // Each test runs on a thread of its own, so the pool starts empty.
        let r = Record::new("t", &b"borrowed"[..]);
        r.recycle();
        assert_eq!(
            buffer(0).capacity(),
            0,
            "a borrowed value is not the record's to give"
        );

        let mut value = buffer(100);
        value.extend_from_slice(b"{\"a\":1}");
        let cap = value.capacity();
        let mut r = Record::new("t", &b""[..]);
        r.set_value(value);
        r.set_key(Vec::with_capacity(SPARE_CAPACITY + 1));
        r.recycle();
        let again = buffer(10);
        assert!(again.is_empty() && again.capacity() == cap);
        assert_eq!(
            buffer(0).capacity(),
            0,
            "a huge buffer is dropped, not kept"
        );

        for _ in 0..SPARE_BUFFERS + 3 {
            let mut r = Record::new("t", &b""[..]);
            r.set_value(Vec::with_capacity(8));
            r.recycle();
        }
        let kept = std::iter::from_fn(|| Some(buffer(0)))
            .take_while(|b| b.capacity() > 0)
            .count();
        assert_eq!(kept, SPARE_BUFFERS);
    }

    #[test]
    fn unchanged_and_changed_records_round_trip() {
        let mut src = weft_batch::Record::new("t", "v");
        src.key = Some(b"k".to_vec());
        src.headers.push(weft_batch::Header {
            key: "a".into(),
            value: Some(b"1".to_vec()),
        });
        let bytes = weft_batch::encode(&[src.clone()]).unwrap();
        let reader = BatchReader::new(&bytes).unwrap();
        let view = reader.records().next().unwrap().unwrap();

        let mut w = BatchWriter::for_output_of(&reader);
        Record::from_view(view).write_to(&mut w).unwrap();
        let mut changed = Record::from_view(view);
        changed.set_value("V");
        changed.headers.push("b", None);
        changed.headers.remove("a");
        assert_eq!(changed.headers.get("b"), Some(None));
        changed.write_to(&mut w).unwrap();

        let out = weft_batch::decode(&w.finish().unwrap()).unwrap();
        assert_eq!(out[0], src);
        assert_eq!(out[1].value.as_deref(), Some(&b"V"[..]));
        assert_eq!(out[1].headers.len(), 1);
        assert_eq!(out[1].headers[0].key, "b");
    }
}
