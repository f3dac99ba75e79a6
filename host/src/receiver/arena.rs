//! Call sites of the target as `&'static Metadata`, leaked into a process-wide arena.
//!
//! `tracing-core` wants `&'static` metadata with `&'static str`s and a `&'static dyn Callsite`.
//! A target's call sites arrive at run time, so they are leaked. To bound the leak:
//!
//! - each distinct string is leaked once and reused (a file name is shared by all the call
//!   sites in it, a target by a whole module);
//! - identical call sites (the same firmware after a reset, two receivers of the same build)
//!   share one `Metadata`;
//! - the total is capped ([`set_leak_limit`]); past the cap the receiver returns
//!   [`ReceiveError::ArenaFull`](super::ReceiveError::ArenaFull).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::mem::size_of;
use std::sync::{LazyLock, Mutex, MutexGuard, OnceLock};

use rtt_tunnel_protocol::{CallSite, Kind, Level};
use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::field::{Field, FieldSet};
use tracing_core::{Interest, Metadata};

/// The default [leak limit](set_leak_limit): 16 MiB, some 50 000 call sites of a typical size.
pub const DEFAULT_LEAK_LIMIT: usize = 16 << 20;

/// What the arena has leaked so far, process-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeakStats {
    /// Bytes leaked: strings, `Metadata`, call sites and field tables.
    pub leaked_bytes: usize,
    /// The limit ([`set_leak_limit`]).
    pub limit: usize,
    /// Distinct strings leaked.
    pub strings: usize,
    /// Distinct call sites leaked.
    pub call_sites: usize,
}

/// Sets how many bytes the receivers of this process may leak for call sites, in total
/// (default [`DEFAULT_LEAK_LIMIT`]). Lowering it below what is leaked already only stops
/// further leaks.
pub fn set_leak_limit(bytes: usize) {
    arena().limit = bytes;
}

/// What was leaked so far.
pub fn leak_stats() -> LeakStats {
    let a = arena();
    LeakStats {
        leaked_bytes: a.leaked,
        limit: a.limit,
        strings: a.strings.len(),
        call_sites: a.call_sites.values().map(Vec::len).sum(),
    }
}

/// A call site as the receiver learns it: from a `CallSite` frame or from persisted metadata.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CallSiteView<'a> {
    pub kind: Kind,
    pub level: Level,
    pub name: &'a str,
    pub target: &'a str,
    pub module_path: Option<&'a str>,
    pub file: Option<&'a str>,
    pub line: Option<u32>,
    pub fields: Vec<&'a str>,
}

impl<'a> From<&CallSite<'a>> for CallSiteView<'a> {
    fn from(c: &CallSite<'a>) -> Self {
        Self {
            kind: c.kind,
            level: c.level,
            name: c.name,
            target: c.target,
            module_path: c.module_path,
            file: c.file,
            line: c.line,
            fields: c.fields.iter().collect(),
        }
    }
}

impl CallSiteView<'_> {
    /// Whether `meta` was made from an identical call site.
    pub fn matches(&self, meta: &Metadata<'_>) -> bool {
        meta.is_span() == (self.kind == Kind::Span)
            && *meta.level() == level(self.level)
            && meta.line() == self.line
            && meta.name() == self.name
            && meta.target() == self.target
            && meta.module_path() == self.module_path
            && meta.file() == self.file
            && meta.fields().len() == self.fields.len()
            && meta
                .fields()
                .iter()
                .zip(&self.fields)
                .all(|(f, name)| f.name() == *name)
    }
}

pub(crate) fn level(level: Level) -> tracing_core::Level {
    match level {
        Level::Trace => tracing_core::Level::TRACE,
        Level::Debug => tracing_core::Level::DEBUG,
        Level::Info => tracing_core::Level::INFO,
        Level::Warn => tracing_core::Level::WARN,
        Level::Error => tracing_core::Level::ERROR,
    }
}

/// A leaked call site: the `&'static dyn Callsite` that `tracing-core` registers, its metadata
/// and its fields (so that relaying a value needs no lookup by name).
pub(crate) struct RemoteCallsite {
    meta: OnceLock<&'static Metadata<'static>>,
    fields: OnceLock<Box<[Field]>>,
}

impl RemoteCallsite {
    pub fn metadata(&self) -> &'static Metadata<'static> {
        self.meta
            .get()
            .expect("the arena sets metadata before it hands a call site out")
    }

    pub fn fields(&self) -> &[Field] {
        self.fields.get().map_or(&[], |f| f)
    }
}

impl Callsite for RemoteCallsite {
    /// Not cached: the receiver asks `Dispatch::enabled` for every span and event instead.
    /// `tracing-core` computes a call site's interest once, process-wide, with whatever
    /// dispatchers exist at that moment (with a single scoped dispatcher, the one current on
    /// the registering thread); a call site leaked by one receiver and shared with another
    /// must not inherit a `never` meant for someone else.
    fn set_interest(&self, _interest: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        RemoteCallsite::metadata(self)
    }
}

/// The call site needs more bytes than the limit leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full {
    pub needed: usize,
    pub leaked: usize,
    pub limit: usize,
}

struct Arena {
    strings: HashSet<&'static str>,
    /// Hash of a `CallSiteView` -> the call sites leaked with that hash.
    call_sites: HashMap<u64, Vec<&'static RemoteCallsite>>,
    leaked: usize,
    limit: usize,
}

static ARENA: LazyLock<Mutex<Arena>> = LazyLock::new(|| {
    Mutex::new(Arena {
        strings: HashSet::new(),
        call_sites: HashMap::new(),
        leaked: 0,
        limit: DEFAULT_LEAK_LIMIT,
    })
});

fn arena() -> MutexGuard<'static, Arena> {
    // The arena's invariants hold between statements: a panic elsewhere cannot break them.
    ARENA.lock().unwrap_or_else(|e| e.into_inner())
}

fn hash(view: &CallSiteView<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    view.hash(&mut h);
    h.finish()
}

impl Arena {
    fn string(&mut self, s: &str) -> &'static str {
        if let Some(&leaked) = self.strings.get(s) {
            return leaked;
        }
        let leaked: &'static str = Box::leak(s.into());
        self.strings.insert(leaked);
        leaked
    }

    /// Bytes that leaking `view` would add.
    fn cost(&self, view: &CallSiteView<'_>) -> usize {
        let mut new_strings: HashSet<&str> = HashSet::new();
        let all = [
            Some(view.name),
            Some(view.target),
            view.module_path,
            view.file,
        ];
        for s in all.into_iter().flatten().chain(view.fields.iter().copied()) {
            if !self.strings.contains(s) {
                new_strings.insert(s);
            }
        }
        new_strings.iter().map(|s| s.len()).sum::<usize>()
            + size_of::<RemoteCallsite>()
            + size_of::<Metadata<'static>>()
            + view.fields.len() * (size_of::<&str>() + size_of::<Field>())
    }
}

/// The leaked call site for `view`: an existing identical one, or a new one (registered with
/// `tracing-core`'s callsite registry, so that every subscriber's `register_callsite` sees it).
pub(crate) fn intern(view: &CallSiteView<'_>) -> Result<&'static RemoteCallsite, Full> {
    let key = hash(view);
    let callsite = {
        let mut a = arena();
        if let Some(existing) = a
            .call_sites
            .get(&key)
            .and_then(|bucket| bucket.iter().find(|c| view.matches(c.metadata())))
        {
            return Ok(existing);
        }
        let needed = a.cost(view);
        if a.leaked.saturating_add(needed) > a.limit {
            return Err(Full {
                needed,
                leaked: a.leaked,
                limit: a.limit,
            });
        }
        a.leaked += needed;
        let callsite: &'static RemoteCallsite = Box::leak(Box::new(RemoteCallsite {
            meta: OnceLock::new(),
            fields: OnceLock::new(),
        }));
        let names: Vec<&'static str> = view.fields.iter().map(|f| a.string(f)).collect();
        let names: &'static [&'static str] = Box::leak(names.into_boxed_slice());
        let kind = match view.kind {
            Kind::Span => tracing_core::metadata::Kind::SPAN,
            Kind::Event => tracing_core::metadata::Kind::EVENT,
        };
        let meta = Metadata::new(
            a.string(view.name),
            a.string(view.target),
            level(view.level),
            view.file.map(|s| a.string(s)),
            view.line,
            view.module_path.map(|s| a.string(s)),
            FieldSet::new(names, Identifier(callsite)),
            kind,
        );
        let meta: &'static Metadata<'static> = Box::leak(Box::new(meta));
        // Fresh cells: these cannot fail.
        let _ = callsite.meta.set(meta);
        let _ = callsite.fields.set(meta.fields().iter().collect());
        a.call_sites.entry(key).or_default().push(callsite);
        callsite
    };
    // Outside the lock: registering calls every subscriber's `register_callsite`.
    tracing_core::callsite::register(callsite);
    Ok(callsite)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(name: &'a str, fields: &[&'a str]) -> CallSiteView<'a> {
        CallSiteView {
            kind: Kind::Event,
            level: Level::Info,
            name,
            target: "arena_test",
            module_path: Some("arena_test::module"),
            file: Some("src/arena_test.rs"),
            line: Some(12),
            fields: fields.to_vec(),
        }
    }

    #[test]
    fn identical_call_sites_share_metadata_and_strings() {
        let a = intern(&view("arena dedup a", &["message", "x"])).unwrap();
        let a2 = intern(&view(&String::from("arena dedup a"), &["message", "x"])).unwrap();
        assert!(std::ptr::eq(a, a2));
        let b = intern(&view("arena dedup b", &["message", "y"])).unwrap();
        assert!(!std::ptr::eq(a, b));
        // Shared strings are the same leaked allocation.
        let (ma, mb) = (a.metadata(), b.metadata());
        assert!(std::ptr::eq(ma.target(), mb.target()));
        assert!(std::ptr::eq(ma.file().unwrap(), mb.file().unwrap()));
        assert!(std::ptr::eq(
            ma.fields().field("message").unwrap().name(),
            mb.fields().field("message").unwrap().name()
        ));
        // Fields know their call site.
        assert_eq!(a.fields().len(), 2);
        assert!(ma.fields().contains(&a.fields()[1]));
        assert!(!mb.fields().contains(&a.fields()[1]));
    }

    #[test]
    fn matches_compares_everything() {
        let c = intern(&view("arena matches", &["a"])).unwrap();
        let m = c.metadata();
        assert!(view("arena matches", &["a"]).matches(m));
        assert!(!view("arena matches", &["b"]).matches(m));
        assert!(!view("arena matches", &["a", "b"]).matches(m));
        assert!(!view("arena matches", &[]).matches(m));
        let mut v = view("arena matches", &["a"]);
        v.line = Some(13);
        assert!(!v.matches(m));
        let mut v = view("arena matches", &["a"]);
        v.kind = Kind::Span;
        assert!(!v.matches(m));
        let mut v = view("arena matches", &["a"]);
        v.level = Level::Warn;
        assert!(!v.matches(m));
        let mut v = view("arena matches", &["a"]);
        v.module_path = None;
        assert!(!v.matches(m));
    }

    #[test]
    fn cost_counts_only_new_strings() {
        let v = view("arena cost unique name", &["arena cost unique field"]);
        let fixed = size_of::<RemoteCallsite>()
            + size_of::<Metadata<'static>>()
            + size_of::<&str>()
            + size_of::<Field>();
        // Make sure the shared strings exist.
        intern(&view("arena cost other", &[])).unwrap();
        let cost = arena().cost(&v);
        assert_eq!(
            cost,
            fixed + "arena cost unique name".len() + "arena cost unique field".len()
        );
        intern(&v).unwrap();
        assert_eq!(arena().cost(&v), fixed);
    }
}
