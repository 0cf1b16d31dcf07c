//! Readers for the consumer protocol's subscription and assignment bytes, which the broker otherwise
//! relays untouched; only OffsetDelete's subscription check and `weft groups describe` look inside.
//!
//! Layouts (all versions share the prefix we read): Subscription = version i16, topics [string], ...;
//! Assignment = version i16, [topic string, partitions [i32]], user_data bytes.

/// Reads a big-endian cursor without panicking on short input.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N)?;
        self.0 = rest;
        head.try_into().ok()
    }
    fn i16(&mut self) -> Option<i16> {
        self.take::<2>().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take::<4>().map(i32::from_be_bytes)
    }
    fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.i16()?).ok()?;
        let (s, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(String::from_utf8_lossy(s).into_owned())
    }
}

/// Topics a member subscribes to; empty if the bytes are not a consumer subscription.
pub fn subscription_topics(meta: &[u8]) -> Vec<String> {
    let mut c = Cursor(meta);
    let mut out = Vec::new();
    let Some(_version) = c.i16() else { return out };
    let Some(n) = c.i32() else { return out };
    for _ in 0..n.max(0) {
        match c.string() {
            Some(t) => out.push(t),
            None => break,
        }
    }
    out
}

/// The (topic, partition) pairs of a consumer assignment; empty if unreadable.
pub fn assignment_partitions(assignment: &[u8]) -> Vec<(String, i32)> {
    let mut c = Cursor(assignment);
    let mut out = Vec::new();
    let Some(_version) = c.i16() else { return out };
    let Some(n) = c.i32() else { return out };
    for _ in 0..n.max(0) {
        let Some(topic) = c.string() else { break };
        let Some(np) = c.i32() else { break };
        for _ in 0..np.max(0) {
            match c.i32() {
                Some(p) => out.push((topic.clone(), p)),
                None => return out,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_assignment_and_subscription() {
        let mut a = vec![
            0, 1, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 5,
        ];
        a.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            assignment_partitions(&a),
            vec![("t".to_string(), 3), ("t".to_string(), 5)]
        );
        let s = [0, 0, 0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c'];
        assert_eq!(subscription_topics(&s), vec!["a", "bc"]);
        assert!(assignment_partitions(&[0, 1, 0, 0]).is_empty());
        assert!(subscription_topics(&[0, 0, 0, 0, 0, 9, 0]).is_empty());
    }
}
