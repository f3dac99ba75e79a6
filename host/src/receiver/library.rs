//! The receiver's [`PersistedMetadata`] with its bounds: firmware identities used least
//! recently are dropped first ([`Limits::firmware`], [`Limits::metadata_bytes`]).

use std::collections::HashMap;
use std::mem::size_of;

use rtt_tunnel_protocol::CallsiteId;

use super::limits::Limits;
use super::persist::{CallSiteData, PersistedMetadata};
use super::RECEIVER_TARGET;

/// Roughly what one persisted call site costs: its strings, the struct, the map's node.
fn cost(data: &CallSiteData) -> usize {
    let text = data.name.len()
        + data.target.len()
        + data.module_path.as_ref().map_or(0, String::len)
        + data.file.as_ref().map_or(0, String::len)
        + data
            .fields
            .iter()
            .map(|f| f.len() + size_of::<String>())
            .sum::<usize>();
    text + size_of::<CallSiteData>() + size_of::<CallsiteId>() + 32
}

/// Use and size of one firmware identity's call sites.
#[derive(Debug, Default)]
struct Use {
    /// When it was last announced or added to (a counter, not a time).
    last: u64,
    /// [`cost`] of its call sites.
    bytes: usize,
}

/// See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Library {
    metadata: PersistedMetadata,
    uses: HashMap<String, Use>,
    clock: u64,
    bytes: usize,
    dropped: u64,
    not_persisted: u64,
}

impl Library {
    pub fn new(metadata: PersistedMetadata) -> Self {
        let mut uses = HashMap::new();
        let mut bytes = 0;
        for firmware in metadata.firmware() {
            let size: usize = metadata.call_sites(firmware).map(|(_, d)| cost(d)).sum();
            bytes += size;
            uses.insert(
                firmware.to_owned(),
                Use {
                    last: 0,
                    bytes: size,
                },
            );
        }
        Library {
            metadata,
            uses,
            clock: 0,
            bytes,
            dropped: 0,
            not_persisted: 0,
        }
    }

    pub fn metadata(&self) -> &PersistedMetadata {
        &self.metadata
    }

    /// Firmware identities dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Call sites not persisted: the running firmware's alone filled the bytes bound.
    pub fn not_persisted(&self) -> u64 {
        self.not_persisted
    }

    /// `firmware` was announced: it becomes the most recently used.
    pub fn touch(&mut self, firmware: &str) {
        self.clock += 1;
        if let Some(entry) = self.uses.get_mut(firmware) {
            entry.last = self.clock;
        }
    }

    /// Adds a call site of the running `firmware`, dropping the identities used least
    /// recently to stay within `limits`.
    pub fn insert(&mut self, firmware: &str, id: CallsiteId, data: CallSiteData, limits: &Limits) {
        if firmware.is_empty() {
            return;
        }
        let old = self.metadata.get(firmware, id).map_or(0, cost);
        let new = cost(&data);
        let is_new = !self.uses.contains_key(firmware);
        let want_identities = self.uses.len() + usize::from(is_new);
        let want_bytes = self.bytes - old + new;
        self.make_room(firmware, want_identities, want_bytes, limits);
        let own = self.uses.get(firmware).map_or(0, |u| u.bytes);
        if self.bytes - old + new > limits.metadata_bytes || limits.firmware == 0 {
            if self.not_persisted == 0 {
                tracing::warn!(
                    target: RECEIVER_TARGET,
                    parent: None,
                    firmware,
                    bytes = own,
                    limit = limits.metadata_bytes,
                    "the call sites of firmware {firmware:?} fill the persisted metadata \
                     ({own} bytes, bound {} bytes): its further call sites are relayed but not \
                     persisted",
                    limits.metadata_bytes,
                );
            }
            self.not_persisted += 1;
            return;
        }
        self.clock += 1;
        let entry = self.uses.entry(firmware.to_owned()).or_default();
        entry.last = self.clock;
        entry.bytes = entry.bytes - old + new;
        self.bytes = self.bytes - old + new;
        self.metadata.insert(firmware, id, data);
    }

    /// Drops identities other than `keep`, least recently used first, until `identities`
    /// and `bytes` fit.
    fn make_room(&mut self, keep: &str, identities: usize, bytes: usize, limits: &Limits) {
        let mut identities = identities;
        let mut bytes = bytes;
        while identities > limits.firmware.max(1) || bytes > limits.metadata_bytes {
            let Some(victim) = self
                .uses
                .iter()
                .filter(|(name, _)| name.as_str() != keep)
                .min_by_key(|(name, u)| (u.last, name.as_str()))
                .map(|(name, _)| name.clone())
            else {
                return;
            };
            let freed = self.uses.remove(&victim).map_or(0, |u| u.bytes);
            let sites = self.metadata.remove(&victim);
            self.bytes -= freed;
            bytes -= freed;
            identities -= 1;
            self.dropped += 1;
            if self.dropped == 1 {
                tracing::warn!(
                    target: RECEIVER_TARGET,
                    parent: None,
                    firmware = victim.as_str(),
                    call_sites = sites,
                    identities = limits.firmware,
                    bytes = limits.metadata_bytes,
                    "the persisted metadata holds call sites of at most {} firmware builds \
                     ({} bytes): the one used least recently ({victim:?}, {sites} call sites) \
                     was dropped, and others will be as new builds come",
                    limits.firmware,
                    limits.metadata_bytes,
                );
            }
        }
    }
}
