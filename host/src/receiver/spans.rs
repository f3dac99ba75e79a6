//! Span lifecycle and events: remote span ids -> host spans, the mirror of the target's stack
//! of entered spans, and parent resolution.

use rtt_tunnel_protocol::{CallsiteId, Kind, LiveSpan, Parent, SpanId, Values};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::Event;

use super::arena::RemoteCallsite;
use super::host_spans::HostSpans;
use super::persist::{Local, SpanData};
use super::{check_values, dispatch_busy, values, HandlerParents, IdTable, ReceiveError, Receiver};

/// A remote span that is alive.
pub(crate) struct SpanState {
    callsite_id: CallsiteId,
    /// Its call site, once resolved (restored spans resolve it on first use).
    callsite: Option<&'static RemoteCallsite>,
    /// The remote parent, as resolved when the span was created.
    parent: Option<SpanId>,
    /// Spans whose `parent` is this one: closing a span with none is O(1).
    children: u32,
    refs: u32,
    pub(crate) local: Local,
}

impl SpanState {
    pub(crate) fn restored(data: SpanData, local: Local) -> Self {
        Self {
            callsite_id: data.callsite,
            callsite: None,
            parent: data.parent,
            children: 0,
            refs: data.refs.max(1),
            local,
        }
    }

    pub(crate) fn into_persisted(self) -> (SpanData, Local) {
        let data = SpanData {
            callsite: self.callsite_id,
            parent: self.parent,
            refs: self.refs,
        };
        (data, self.local)
    }
}

/// The host span of `id` in `spans`, or of its nearest relayed ancestor.
pub(super) fn effective_local_in(
    spans: &IdTable<SpanId, SpanState>,
    id: Option<SpanId>,
) -> Option<Id> {
    let mut next = id;
    // A parent chain cannot be longer than the table (bogus streams could make a cycle).
    for _ in 0..=spans.len() {
        let state = spans.get(&next?)?;
        match &state.local {
            Local::Relayed(local) => return Some(local.clone()),
            Local::Disabled | Local::Pending => next = state.parent,
        }
    }
    None
}

/// Registers the restored host spans of `spans` in `host_spans`, each with its host parent,
/// for closing them without recursion.
pub(super) fn hold_restored(spans: &mut IdTable<SpanId, SpanState>, host_spans: &mut HostSpans) {
    let parents: Vec<SpanId> = spans.values().filter_map(|s| s.parent).collect();
    for parent in parents {
        if let Some(state) = spans.get_mut(&parent) {
            state.children = state.children.saturating_add(1);
        }
    }
    let spans = &*spans;
    let restored = spans
        .values()
        .filter_map(|s| match &s.local {
            Local::Relayed(id) => Some((id.clone(), effective_local_in(spans, s.parent))),
            _ => None,
        })
        .collect();
    host_spans.restore(restored);
}

/// Where a new span or event goes, on the target and on the host.
struct Resolved {
    /// The remote parent (for the span table).
    remote: Option<SpanId>,
    /// The host parent: `None` is an explicit root.
    local: Option<Id>,
}

impl Receiver {
    /// Checks that `parent` can be resolved, without side effects.
    fn check_parent(&self, parent: Parent, message: &'static str) -> Result<(), ReceiveError> {
        match parent {
            Parent::Explicit(id) if id != SpanId::UNTRACKED && !self.spans.contains_key(&id) => {
                Err(ReceiveError::UnknownSpan { span: id, message })
            }
            _ => Ok(()),
        }
    }

    /// Resolves a checked `parent`.
    ///
    /// The usual parent, the current span, is found here, inlined into the handlers: none
    /// when nothing is entered, else the innermost entry when it is of the frame's context
    /// and relayed (what the walks of [`resolve_parent_other`](Self::resolve_parent_other)
    /// find first then, without walking).
    #[inline(always)]
    fn resolve_parent(&mut self, parent: Parent) -> Resolved {
        if parent == Parent::Current {
            let Some(i) = self.entered.len().checked_sub(1) else {
                return Resolved {
                    remote: None,
                    local: None,
                };
            };
            if self.can_be_current(i) {
                let remote = self.entered[i];
                if let Some(Local::Relayed(local)) = self.spans.get(&remote).map(|s| &s.local) {
                    return Resolved {
                        remote: Some(remote),
                        local: Some(local.clone()),
                    };
                }
            }
        }
        self.resolve_parent_other(parent)
    }

    /// [`resolve_parent`](Self::resolve_parent) of any parent.
    #[inline(never)]
    fn resolve_parent_other(&mut self, parent: Parent) -> Resolved {
        match parent {
            Parent::Root => Resolved {
                remote: None,
                local: None,
            },
            Parent::Explicit(id) if id != SpanId::UNTRACKED => Resolved {
                remote: Some(id),
                local: self.resolve(id),
            },
            // `Explicit(UNTRACKED)`: the nearest thing the target told us is its current span.
            Parent::Current | Parent::Explicit(_) => {
                let remote = self
                    .current_entries()
                    .next()
                    .and_then(|i| self.entered.get(i).copied());
                Resolved {
                    remote,
                    local: self.current_local(),
                }
            }
        }
    }

    /// The host span that stands for the target's current span (see
    /// [`current_local`](Self::current_local)), for events the host makes of what the target
    /// logged another way (defmt).
    pub(crate) fn current_span(&mut self) -> Option<Id> {
        self.current_local()
    }

    /// The host span that stands for the target's current span: the innermost entered span
    /// that is relayed (disabled spans are not entered on the host, as with local `tracing`).
    fn current_local(&mut self) -> Option<Id> {
        // Indices, not `current_entries()`: the loop needs `self` mutably, and relaying must
        // not allocate.
        for i in (0..self.entered.len()).rev() {
            if !self.can_be_current(i) {
                continue;
            }
            let id = self.entered[i];
            match self.spans.get(&id).map(|s| &s.local) {
                Some(Local::Relayed(local)) => return Some(local.clone()),
                Some(Local::Pending) => {
                    self.ensure_local(id);
                    if let Some(Local::Relayed(local)) = self.spans.get(&id).map(|s| &s.local) {
                        return Some(local.clone());
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// The indices of `entered` that can be the current span of the frame being relayed,
    /// innermost first: every entry, or those entered in the frame's own context (see
    /// [`HandlerParents`]).
    fn current_entries(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.entered.len())
            .rev()
            .filter(|&i| self.can_be_current(i))
    }

    /// Whether entry `i` of `entered` can be the current span of the frame being relayed.
    fn can_be_current(&self, i: usize) -> bool {
        self.handler_parents == HandlerParents::Preempted
            || self.entered_in.get(i) == Some(&self.exception)
    }

    /// The host span that stands for the remote span `id`: itself if relayed, else its
    /// nearest relayed ancestor.
    fn resolve(&mut self, id: SpanId) -> Option<Id> {
        self.ensure_local(id);
        self.effective_local(id)
    }

    /// [`resolve`](Self::resolve) without creating pending spans (they count as disabled).
    fn effective_local(&self, id: SpanId) -> Option<Id> {
        effective_local_in(&self.spans, Some(id))
    }

    /// The host span of `id` itself, if relayed.
    fn own_local(&mut self, id: SpanId) -> Option<Id> {
        match &self.spans.get(&id)?.local {
            Local::Relayed(local) => return Some(local.clone()),
            Local::Disabled => return None,
            Local::Pending => self.ensure_local(id),
        }
        match &self.spans.get(&id)?.local {
            Local::Relayed(local) => Some(local.clone()),
            _ => None,
        }
    }

    /// Creates the host spans of `id` and of its pending ancestors, outermost first. Only
    /// restored spans whose [`LocalSpans`](super::LocalSpans) were lost are pending.
    fn ensure_local(&mut self, id: SpanId) {
        // Every span but a restored one is relayed or disabled from the start: one look-up.
        if !matches!(self.spans.get(&id), Some(state) if state.local == Local::Pending) {
            return;
        }
        let mut chain = Vec::new();
        let mut next = Some(id);
        while let Some(id) = next {
            match self.spans.get(&id) {
                Some(state)
                    if state.local == Local::Pending
                        && !chain.contains(&id)
                        && chain.len() < self.spans.len() =>
                {
                    chain.push(id);
                    next = state.parent;
                }
                _ => break,
            }
        }
        for id in chain.into_iter().rev() {
            let Some(state) = self.spans.get(&id) else {
                continue;
            };
            let (callsite_id, parent, known) = (state.callsite_id, state.parent, state.callsite);
            // A restored span whose call site is not known (any more) cannot be relayed.
            let callsite = match known {
                Some(callsite) => Ok(callsite),
                None => self.callsite_of_kind(callsite_id, Kind::Span, "restored span"),
            };
            let local_parent = parent.and_then(|p| self.effective_local(p));
            let local = match callsite {
                Ok(callsite) => {
                    self.new_local_span(callsite, local_parent, &values::Decoded::empty())
                }
                Err(_) => Local::Disabled,
            };
            if let Some(state) = self.spans.get_mut(&id) {
                state.callsite = callsite.ok();
                state.local = local;
            }
        }
    }

    /// Creates the host span, if the host subscriber enables it.
    fn new_local_span(
        &mut self,
        callsite: &'static RemoteCallsite,
        parent: Option<Id>,
        values: &values::Decoded<'_>,
    ) -> Local {
        let meta = callsite.metadata();
        // Whether the host's subscriber wants the span now (what the `tracing` macros check;
        // per-layer filters rely on it being asked right before), then the span: one look-up
        // of the default dispatcher for both, as `Span::new` does.
        let id = dispatch_busy(|d| {
            if !d.enabled(meta) {
                return None;
            }
            let id = values::with_value_set(meta.fields(), callsite.fields(), values, |values| {
                let attrs = match &parent {
                    Some(parent) => Attributes::child_of(parent.clone(), meta, values),
                    None => Attributes::new_root(meta, values),
                };
                d.new_span(&attrs)
            });
            Some(id)
        });
        let Some(id) = id else {
            return Local::Disabled;
        };
        self.host_spans.created(&id, parent.as_ref());
        Local::Relayed(id)
    }

    /// Makes the host span of a new remote span `id` (a `NewSpan`, or a `LiveSpan` the host
    /// did not know) under `parent`, and keeps it in the span table.
    fn insert_new_span(
        &mut self,
        id: SpanId,
        callsite_id: CallsiteId,
        callsite: &'static RemoteCallsite,
        parent: Parent,
        values: &values::Decoded<'_>,
    ) {
        let parent = self.resolve_parent(parent);
        let local = self.new_local_span(callsite, parent.local, values);
        self.spans.insert(
            id,
            SpanState {
                callsite_id,
                callsite: Some(callsite),
                parent: parent.remote,
                children: 0,
                refs: 1,
                local,
            },
        );
        self.adopted(parent.remote, 1);
    }

    pub(super) fn on_event(
        &mut self,
        id: CallsiteId,
        parent: Parent,
        values: Values<'_>,
        flash: Option<&mut dyn super::FlashSource>,
    ) -> Result<(), ReceiveError> {
        const MESSAGE: &str = "Event";
        let callsite = self.callsite_of_kind(id, Kind::Event, MESSAGE)?;
        let raw = values;
        let mut values = values::Decoded::empty();
        check_values(callsite, id, raw, MESSAGE, &mut values)?;
        self.check_parent(parent, MESSAGE)?;
        // Kept even while the host filters the call site out: later markers may be shown.
        if values.has_constant() {
            self.constants.learn(id, raw, &mut self.flash, flash);
        }
        let parent = self.resolve_parent(parent).local;
        let meta = callsite.metadata();
        let constants = &self.constants;
        values.resolve(|field| constants.get(id, field));
        // One look-up of the default dispatcher for both calls, as `Event::dispatch` does; the
        // parent is resolved first, so that nothing is dispatched between the two.
        dispatch_busy(|d| {
            if d.enabled(meta) {
                values::with_value_set(meta.fields(), callsite.fields(), &values, |values| {
                    d.event(&Event::new_child_of(parent.clone(), meta, values));
                });
            }
        });
        Ok(())
    }

    pub(super) fn on_new_span(
        &mut self,
        id: SpanId,
        callsite_id: CallsiteId,
        parent: Parent,
        values: Values<'_>,
    ) -> Result<(), ReceiveError> {
        const MESSAGE: &str = "NewSpan";
        if id == SpanId::UNTRACKED {
            self.untracked_frames += 1;
            return Ok(());
        }
        let callsite = self.callsite_of_kind(callsite_id, Kind::Span, MESSAGE)?;
        let raw = values;
        let mut values = values::Decoded::empty();
        check_values(callsite, callsite_id, raw, MESSAGE, &mut values)?;
        self.check_parent(parent, MESSAGE)?;
        if self.spans.contains_key(&id) {
            if parent == Parent::Explicit(id) {
                return Err(ReceiveError::SpanExists {
                    span: id,
                    message: MESSAGE,
                });
            }
            // The target reuses a span's id (its slot) only after closing it: the `Close` was
            // lost. Close the old span here, as the target did.
            self.remove_span(id);
            self.replaced_spans += 1;
        }
        self.check_span_room(id, MESSAGE)?;
        self.insert_new_span(id, callsite_id, callsite, parent, &values);
        Ok(())
    }

    /// The state of a known span, or the error for `message`.
    fn known(&self, id: SpanId, message: &'static str) -> Result<&SpanState, ReceiveError> {
        self.spans
            .get(&id)
            .ok_or(ReceiveError::UnknownSpan { span: id, message })
    }

    fn known_mut(
        &mut self,
        id: SpanId,
        message: &'static str,
    ) -> Result<&mut SpanState, ReceiveError> {
        self.spans
            .get_mut(&id)
            .ok_or(ReceiveError::UnknownSpan { span: id, message })
    }

    /// Counts `n` more children of `parent`.
    fn adopted(&mut self, parent: Option<SpanId>, n: u32) {
        if let Some(parent) = parent.and_then(|p| self.spans.get_mut(&p)) {
            parent.children = parent.children.saturating_add(n);
        }
    }

    /// Refuses a new span when [`Limits::spans`](super::Limits::spans) are alive.
    fn check_span_room(&mut self, id: SpanId, message: &'static str) -> Result<(), ReceiveError> {
        if self.spans.len() >= self.limits.spans {
            self.limit_stats.spans_refused += 1;
            return Err(ReceiveError::SpanLimit {
                span: id,
                limit: self.limits.spans,
                message,
            });
        }
        self.limit_stats.spans_peak = self.limit_stats.spans_peak.max(self.spans.len() + 1);
        Ok(())
    }

    /// Refuses `more` entries when they would take the stack past
    /// [`Limits::entered`](super::Limits::entered).
    fn check_enter_room(&mut self, id: SpanId, more: usize) -> Result<(), ReceiveError> {
        if self.entered.len() + more > self.limits.entered {
            self.limit_stats.entries_refused += more as u64;
            return Err(ReceiveError::EnteredLimit {
                span: id,
                depth: self.entered.len(),
                limit: self.limits.entered,
            });
        }
        self.limit_stats.entered_peak =
            self.limit_stats.entered_peak.max(self.entered.len() + more);
        Ok(())
    }

    pub(super) fn enter(&mut self, id: SpanId) {
        if let Some(local) = self.own_local(id) {
            self.host_spans.dispatch(|d| d.enter(&local));
        }
        self.entered.push(id);
        self.entered_in.push(self.exception);
    }

    /// Removes the innermost entry of `id` from the stack and exits it on the host.
    pub(super) fn exit(&mut self, id: SpanId) -> bool {
        if self.entered.last() == Some(&id) {
            // The usual exit, of the innermost entry: popped, not moved over by `remove`
            // (two calls of `memmove` with nothing to move).
            self.entered.pop();
            let at = self.entered.len();
            if at + 1 == self.entered_in.len() {
                self.entered_in.pop();
            } else if at < self.entered_in.len() {
                self.entered_in.remove(at);
            }
        } else {
            let Some(at) = self.entered.iter().rposition(|&e| e == id) else {
                return false;
            };
            self.entered.remove(at);
            if at < self.entered_in.len() {
                self.entered_in.remove(at);
            }
        }
        if let Some(Local::Relayed(local)) = self.spans.get(&id).map(|s| &s.local) {
            self.host_spans.dispatch(|d| d.exit(local));
        }
        true
    }

    pub(super) fn on_enter(&mut self, id: SpanId) -> Result<(), ReceiveError> {
        if id == SpanId::UNTRACKED {
            self.untracked_frames += 1;
            return Ok(());
        }
        self.known(id, "Enter")?;
        self.check_enter_room(id, 1)?;
        self.enter(id);
        Ok(())
    }

    pub(super) fn on_exit(&mut self, id: SpanId) -> Result<(), ReceiveError> {
        if id == SpanId::UNTRACKED {
            self.untracked_frames += 1;
            return Ok(());
        }
        self.known(id, "Exit")?;
        if self.exit(id) {
            Ok(())
        } else {
            Err(ReceiveError::NotEntered { span: id })
        }
    }

    // Rare: kept out of `try_receive`, whose code is the hot path.
    #[inline(never)]
    pub(super) fn on_clone(&mut self, id: SpanId) -> Result<(), ReceiveError> {
        if id == SpanId::UNTRACKED {
            self.untracked_frames += 1;
            return Ok(());
        }
        let state = self.known_mut(id, "Clone")?;
        // The host span is not cloned: the receiver counts the target's references itself.
        state.refs = state.refs.saturating_add(1);
        Ok(())
    }

    pub(super) fn on_close(&mut self, id: SpanId) -> Result<(), ReceiveError> {
        if id == SpanId::UNTRACKED {
            self.untracked_frames += 1;
            return Ok(());
        }
        let state = self.known_mut(id, "Close")?;
        state.refs -= 1;
        if state.refs == 0 {
            self.remove_span(id);
        }
        Ok(())
    }

    /// Exits every entry of `id`, closes its host span and forgets it. Its children are
    /// adopted by its parent, so that a reused id never becomes a stale parent.
    pub(super) fn remove_span(&mut self, id: SpanId) {
        // Usually exited already (its `Exit` came before its `Close`): no call to find that.
        if self.entered.contains(&id) {
            while self.exit(id) {}
        }
        let Some(state) = self.spans.remove(&id) else {
            return;
        };
        if let Some(parent) = state.parent.and_then(|p| self.spans.get_mut(&p)) {
            parent.children = parent.children.saturating_sub(1);
        }
        if state.children > 0 {
            let mut adopted = 0;
            for child in self.spans.values_mut() {
                if child.parent == Some(id) {
                    child.parent = state.parent;
                    adopted += 1;
                }
            }
            self.adopted(state.parent, adopted);
        }
        if let Local::Relayed(local) = state.local {
            self.host_spans.release(&local);
        }
    }

    // Rare: kept out of `try_receive`, whose code is the hot path.
    #[inline(never)]
    pub(super) fn on_record(&mut self, id: SpanId, values: Values<'_>) -> Result<(), ReceiveError> {
        const MESSAGE: &str = "Record";
        if id == SpanId::UNTRACKED {
            self.untracked_frames += 1;
            return Ok(());
        }
        let state = self.known(id, MESSAGE)?;
        let (callsite_id, callsite) = (state.callsite_id, state.callsite);
        let callsite = match callsite {
            Some(callsite) => callsite,
            None => self.callsite_of_kind(callsite_id, Kind::Span, MESSAGE)?,
        };
        let raw = values;
        let mut values = values::Decoded::empty();
        check_values(callsite, callsite_id, raw, MESSAGE, &mut values)?;
        if let Some(local) = self.own_local(id) {
            let meta = callsite.metadata();
            values::with_value_set(meta.fields(), callsite.fields(), &values, |values| {
                let record = Record::new(values);
                self.host_spans.dispatch(|d| d.record(&local, &record));
            });
        }
        Ok(())
    }

    // Rare: kept out of `try_receive`, whose code is the hot path.
    #[inline(never)]
    pub(super) fn on_follows_from(
        &mut self,
        span: SpanId,
        follows: SpanId,
    ) -> Result<(), ReceiveError> {
        const MESSAGE: &str = "FollowsFrom";
        if span == SpanId::UNTRACKED || follows == SpanId::UNTRACKED {
            self.untracked_frames += 1;
            return Ok(());
        }
        self.known(span, MESSAGE)?;
        self.known(follows, MESSAGE)?;
        if let (Some(span), Some(follows)) = (self.own_local(span), self.own_local(follows)) {
            self.host_spans
                .dispatch(|d| d.record_follows_from(&span, &follows));
        }
        Ok(())
    }

    // Rare: kept out of `try_receive`, whose code is the hot path.
    #[inline(never)]
    pub(super) fn on_live_span(&mut self, live: LiveSpan) -> Result<(), ReceiveError> {
        const MESSAGE: &str = "LiveSpan";
        let LiveSpan {
            id,
            callsite: callsite_id,
            parent,
            entered,
        } = live;
        if id == SpanId::UNTRACKED {
            self.untracked_frames += 1;
            return Ok(());
        }
        if entered > self.limits.live_entries {
            self.limit_stats.live_spans_refused += 1;
            return Err(ReceiveError::TooManyEntries {
                span: id,
                entered,
                max: self.limits.live_entries,
            });
        }
        let now = self.entered.iter().filter(|&&e| e == id).count();
        let want = entered as usize;
        if !self.spans.contains_key(&id) {
            let callsite = self.callsite_of_kind(callsite_id, Kind::Span, MESSAGE)?;
            self.check_parent(parent, MESSAGE)?;
            self.check_enter_room(id, want.saturating_sub(now))?;
            self.check_span_room(id, MESSAGE)?;
            self.insert_new_span(id, callsite_id, callsite, parent, &values::Decoded::empty());
        } else {
            self.check_enter_room(id, want.saturating_sub(now))?;
        }
        for _ in now..want {
            self.enter(id);
        }
        for _ in want..now {
            self.exit(id);
        }
        Ok(())
    }

    /// Enters on the host the spans of the restored stack (after [`Receiver::new`]).
    pub(super) fn reenter(&mut self) {
        for i in 0..self.entered.len() {
            let id = self.entered[i];
            if let Some(local) = self.own_local(id) {
                self.host_spans.dispatch(|d| d.enter(&local));
            }
        }
    }

    /// Exits every entered span and closes every span on the host; forgets them. Returns how
    /// many entries were exited and how many spans closed.
    pub(super) fn end_boot(&mut self) -> (usize, usize) {
        let exited = self.entered.len();
        self.entered_in.clear();
        while let Some(id) = self.entered.pop() {
            if let Some(Local::Relayed(local)) = self.spans.get(&id).map(|s| &s.local) {
                self.host_spans.dispatch(|d| d.exit(local));
            }
        }
        let closed = self.spans.len();
        // Any order: the host spans wait for their children (see `host_spans`).
        let spans = std::mem::take(&mut self.spans);
        for (_, state) in spans {
            if let Local::Relayed(local) = state.local {
                self.host_spans.release(&local);
            }
        }
        (exited, closed)
    }
}
