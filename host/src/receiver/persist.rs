//! State that outlives a [`Receiver`](super::Receiver): metadata per firmware build, and the
//! spans of one boot.

use std::collections::{BTreeMap, HashMap};

use rtt_tunnel_protocol::{CallSite, CallsiteId, Kind, Level, SpanId};
use serde::{Deserialize, Serialize};
use tracing_core::span::Id;

use super::arena::CallSiteView;

/// A call site as the target announced it, owned and serializable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallSiteData {
    /// Span or event.
    pub kind: Kind,
    /// Level.
    pub level: Level,
    /// Name.
    pub name: String,
    /// Target.
    pub target: String,
    /// Module path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_path: Option<String>,
    /// Source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Source line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Field names, in index order.
    pub fields: Vec<String>,
}

impl CallSiteData {
    pub(crate) fn view(&self) -> CallSiteView<'_> {
        CallSiteView {
            kind: self.kind,
            level: self.level,
            name: &self.name,
            target: &self.target,
            module_path: self.module_path.as_deref(),
            file: self.file.as_deref(),
            line: self.line,
            fields: self.fields.iter().map(String::as_str).collect(),
        }
    }
}

impl From<&CallSite<'_>> for CallSiteData {
    fn from(c: &CallSite<'_>) -> Self {
        Self {
            kind: c.kind,
            level: c.level,
            name: c.name.into(),
            target: c.target.into(),
            module_path: c.module_path.map(Into::into),
            file: c.file.map(Into::into),
            line: c.line,
            fields: c.fields.iter().map(Into::into).collect(),
        }
    }
}

/// The call sites of firmware builds, keyed by the build's identity (`Hello::firmware`), so
/// that the call sites of one build are never applied to another. Serializable: keep it across
/// host runs and the host knows a target's call sites even when it attaches late.
///
/// A firmware that announces an empty identity is not persisted (nothing tells its builds
/// apart).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersistedMetadata {
    firmware: BTreeMap<String, BTreeMap<CallsiteId, CallSiteData>>,
}

impl PersistedMetadata {
    /// The number of call sites, all firmware builds together.
    pub fn len(&self) -> usize {
        self.firmware.values().map(BTreeMap::len).sum()
    }

    /// Whether there are no call sites.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The firmware identities that have call sites.
    pub fn firmware(&self) -> impl Iterator<Item = &str> + '_ {
        self.firmware.keys().map(String::as_str)
    }

    /// The call sites of one firmware build.
    pub fn call_sites(
        &self,
        firmware: &str,
    ) -> impl Iterator<Item = (CallsiteId, &CallSiteData)> + '_ {
        self.firmware
            .get(firmware)
            .into_iter()
            .flatten()
            .map(|(id, data)| (*id, data))
    }

    /// The call site `id` of `firmware`.
    pub fn get(&self, firmware: &str, id: CallsiteId) -> Option<&CallSiteData> {
        self.firmware.get(firmware)?.get(&id)
    }

    /// Adds a call site (replacing one with the same id).
    pub fn insert(&mut self, firmware: &str, id: CallsiteId, data: CallSiteData) {
        if !firmware.is_empty() {
            self.firmware
                .entry(firmware.into())
                .or_default()
                .insert(id, data);
        }
    }

    /// Removes the call sites of `firmware`; returns how many there were.
    pub fn remove(&mut self, firmware: &str) -> usize {
        self.firmware
            .remove(firmware)
            .map_or(0, |sites| sites.len())
    }

    /// Merges `other` in; its entries win.
    pub fn extend(&mut self, other: PersistedMetadata) {
        for (firmware, sites) in other.firmware {
            self.firmware.entry(firmware).or_default().extend(sites);
        }
    }
}

/// What the receiver knows of the boot it is relaying.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Boot {
    /// No frame yet.
    #[default]
    NotStarted,
    /// Frames, but no `Hello` yet: a host that attached to a running target.
    Unannounced,
    /// After a `Hello`.
    Announced(BootInfo),
}

/// The target's `Hello` for the current boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootInfo {
    /// The firmware identity.
    pub firmware: String,
    /// The boot value (a counter or a nonce).
    pub boot: u32,
    /// Timestamp ticks per second (0: unknown).
    pub tick_hz: u64,
}

/// A span of the target, as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SpanData {
    pub callsite: CallsiteId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<SpanId>,
    pub refs: u32,
}

/// The state of one boot of the target: its alive spans, the stack of entered spans, the
/// time. Serializable. Belongs to one stream: restore it only into a receiver that continues
/// the same stream.
///
/// Recorded values of spans are not kept: a span that must be re-created on the host (the
/// [`LocalSpans`] were lost) comes back without them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedSpans {
    pub(crate) boot: Boot,
    pub(crate) ticks: i64,
    pub(crate) epoch: u64,
    pub(crate) spans: BTreeMap<SpanId, SpanData>,
    pub(crate) entered: Vec<SpanId>,
    pub(crate) dropped_frames: u64,
    pub(crate) untracked_frames: u64,
}

impl PersistedSpans {
    /// The number of alive spans.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether no span is alive.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The entered spans, innermost last.
    pub fn entered(&self) -> &[SpanId] {
        &self.entered
    }

    /// The boot, if a `Hello` was seen.
    pub fn boot(&self) -> Option<&BootInfo> {
        match &self.boot {
            Boot::Announced(info) => Some(info),
            _ => None,
        }
    }
}

/// How a remote span lives on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Local {
    /// Not created on the host yet (restored without its [`LocalSpans`] entry): created on
    /// first use.
    Pending,
    /// The host's subscriber did not enable its call site: its children and events go to its
    /// nearest relayed ancestor, as with local `tracing`.
    Disabled,
    /// The host span; the receiver holds one reference to it.
    Relayed(Id),
}

/// The host-side spans of a stream: remote span id -> the host's span id. Not serializable:
/// it belongs to the host subscriber that created the spans, and is only valid with it.
///
/// Restoring a receiver without them (`LocalSpans::default()`) works: the spans are created
/// again on the host, without their recorded values.
#[derive(Debug, Default)]
pub struct LocalSpans {
    pub(crate) inner: HashMap<SpanId, Local>,
}

impl LocalSpans {
    /// The number of spans.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The host span of the remote span `id`, if it was relayed.
    pub fn get(&self, id: SpanId) -> Option<&Id> {
        match self.inner.get(&id) {
            Some(Local::Relayed(local)) => Some(local),
            _ => None,
        }
    }
}
