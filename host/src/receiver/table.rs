//! [`IdTable`]: the receiver's tables keyed by the target's small integer ids (span slots,
//! call sites), an array for the small ids a target uses, a map for the rest.
//!
//! A sender's span ids are its slot numbers plus one and its call-site ids count up from 0, so
//! nearly every id is small: looking one up is an index into a vector, not a hash. Ids from
//! [`DENSE`] up (a bogus or hostile stream) go to an [`IdMap`], so memory stays bounded by
//! what is alive, plus at most [`DENSE`] slots.

use std::hash::Hash;

use rtt_tunnel_protocol::{CallsiteId, SpanId};

use super::IdMap;

/// Ids below this are slots of the array; the others are hashed.
pub(crate) const DENSE: u32 = 1024;

/// A key of an [`IdTable`]: one of the target's ids, a `u32`.
pub(crate) trait SmallId: Copy + Eq + Hash {
    /// The id as a number.
    fn index(self) -> u32;
    /// The id of number `index`.
    fn from_index(index: u32) -> Self;
}

impl SmallId for SpanId {
    #[inline(always)]
    fn index(self) -> u32 {
        self.0
    }

    #[inline(always)]
    fn from_index(index: u32) -> Self {
        SpanId(index)
    }
}

impl SmallId for CallsiteId {
    #[inline(always)]
    fn index(self) -> u32 {
        self.0
    }

    #[inline(always)]
    fn from_index(index: u32) -> Self {
        CallsiteId(index)
    }
}

/// A map from the target's ids to `V`: see the [module docs](self). The methods are
/// `HashMap`'s; iteration goes through the small ids in order, then the others in any order.
pub(crate) struct IdTable<K, V> {
    /// Entry `i` holds id `i`, for ids below [`DENSE`]; grown to the largest id seen.
    dense: Vec<Option<V>>,
    /// Ids from [`DENSE`] up.
    sparse: IdMap<K, V>,
    /// Entries in `dense`.
    dense_len: usize,
}

impl<K, V> Default for IdTable<K, V> {
    fn default() -> Self {
        IdTable {
            dense: Vec::new(),
            sparse: IdMap::default(),
            dense_len: 0,
        }
    }
}

impl<K: SmallId, V> IdTable<K, V> {
    #[inline]
    pub fn get(&self, id: &K) -> Option<&V> {
        let i = id.index();
        if i < DENSE {
            self.dense.get(i as usize)?.as_ref()
        } else {
            self.sparse.get(id)
        }
    }

    #[inline]
    pub fn get_mut(&mut self, id: &K) -> Option<&mut V> {
        let i = id.index();
        if i < DENSE {
            self.dense.get_mut(i as usize)?.as_mut()
        } else {
            self.sparse.get_mut(id)
        }
    }

    #[inline]
    pub fn contains_key(&self, id: &K) -> bool {
        self.get(id).is_some()
    }

    /// Inserts `value` for `id`; returns the value it replaced.
    #[inline]
    pub fn insert(&mut self, id: K, value: V) -> Option<V> {
        let i = id.index();
        if i >= DENSE {
            return self.sparse.insert(id, value);
        }
        let i = i as usize;
        if i >= self.dense.len() {
            self.dense.resize_with(i + 1, || None);
        }
        let slot = &mut self.dense[i];
        // The usual slot is empty: its discriminant alone is read (reading a whole slot right
        // after `remove` wrote only that stalls store forwarding).
        if slot.is_none() {
            *slot = Some(value);
            self.dense_len += 1;
            return None;
        }
        slot.replace(value)
    }

    #[inline]
    pub fn remove(&mut self, id: &K) -> Option<V> {
        let i = id.index();
        if i >= DENSE {
            return self.sparse.remove(id);
        }
        let old = self.dense.get_mut(i as usize)?.take();
        if old.is_some() {
            self.dense_len -= 1;
        }
        old
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.dense_len + self.sparse.len()
    }

    pub fn clear(&mut self) {
        self.dense.clear();
        self.sparse.clear();
        self.dense_len = 0;
    }

    /// The ids present, small ones in order first.
    pub fn keys(&self) -> impl Iterator<Item = K> + '_ {
        self.dense
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.is_some())
            .map(|(i, _)| K::from_index(i as u32))
            .chain(self.sparse.keys().copied())
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.dense.iter().flatten().chain(self.sparse.values())
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.dense
            .iter_mut()
            .flatten()
            .chain(self.sparse.values_mut())
    }
}

impl<K: SmallId + 'static, V: 'static> IntoIterator for IdTable<K, V> {
    type Item = (K, V);
    type IntoIter = Box<dyn Iterator<Item = (K, V)>>;

    fn into_iter(self) -> Self::IntoIter {
        let dense = self.dense.into_iter().enumerate().filter_map(|(i, v)| {
            // `dense` has at most `DENSE` entries: `i` fits a `u32`.
            v.map(|v| (K::from_index(i as u32), v))
        });
        Box::new(dense.chain(self.sparse))
    }
}

impl<K: SmallId, V> FromIterator<(K, V)> for IdTable<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut table = IdTable::default();
        for (id, value) in iter {
            table.insert(id, value);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_ids_are_found_counted_and_removed() {
        let mut table = IdTable::<SpanId, u64>::default();
        let ids = [0, 1, 7, DENSE - 1, DENSE, DENSE + 5, u32::MAX];
        for (n, &id) in ids.iter().enumerate() {
            assert_eq!(table.insert(SpanId(id), u64::from(id)), None);
            assert_eq!(table.len(), n + 1);
        }
        assert_eq!(table.insert(SpanId(7), 70), Some(7));
        assert_eq!(table.insert(SpanId(DENSE), 10), Some(u64::from(DENSE)));
        assert_eq!(table.len(), ids.len());
        assert_eq!(table.get(&SpanId(7)), Some(&70));
        assert_eq!(table.get(&SpanId(DENSE)), Some(&10));
        assert_eq!(table.get(&SpanId(u32::MAX)), Some(&u64::from(u32::MAX)));
        for absent in [2, DENSE - 2, DENSE + 1, u32::MAX - 1] {
            assert_eq!(table.get(&SpanId(absent)), None);
            assert_eq!(table.remove(&SpanId(absent)), None);
        }
        *table.get_mut(&SpanId(1)).unwrap() = 11;
        assert_eq!(table.remove(&SpanId(1)), Some(11));
        assert_eq!(table.remove(&SpanId(1)), None);
        assert_eq!(table.remove(&SpanId(DENSE + 5)), Some(u64::from(DENSE + 5)));
        assert_eq!(table.len(), ids.len() - 2);
        let mut values: Vec<u64> = table.values().copied().collect();
        values.sort_unstable();
        let max = u64::from(u32::MAX);
        assert_eq!(values, [0, 10, 70, u64::from(DENSE - 1), max]);
        let mut keys: Vec<u32> = table.keys().map(|k| k.0).collect();
        keys.sort_unstable();
        assert_eq!(keys, [0, 7, DENSE - 1, DENSE, u32::MAX]);
        for v in table.values_mut() {
            *v += 1;
        }
        let mut pairs: Vec<(u32, u64)> = table.into_iter().map(|(k, v)| (k.0, v)).collect();
        pairs.sort_unstable();
        let dense = u64::from(DENSE);
        assert_eq!(
            pairs,
            [
                (0, 1),
                (7, 71),
                (DENSE - 1, dense),
                (DENSE, 11),
                (u32::MAX, max + 1)
            ]
        );
    }

    #[test]
    fn collect_and_clear() {
        let mut table: IdTable<CallsiteId, &str> = [(CallsiteId(3), "a"), (CallsiteId(DENSE), "b")]
            .into_iter()
            .collect();
        assert_eq!(table.len(), 2);
        assert!(table.contains_key(&CallsiteId(3)));
        assert!(!table.contains_key(&CallsiteId(4)));
        table.clear();
        assert_eq!(table.len(), 0);
        assert!(!table.contains_key(&CallsiteId(3)));
        assert!(!table.contains_key(&CallsiteId(DENSE)));
    }
}
