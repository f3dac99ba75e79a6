//! Span lifecycle and events: remote span ids -> host spans, the mirror of the target's stack
//! of entered spans, and parent resolution.

use rtt_tunnel_protocol::{CallsiteId, Kind, LiveSpan, Parent, SpanId, Values};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::Event;

use super::arena::RemoteCallsite;
use super::persist::{Local, SpanData};
use super::{check_values, dispatch, values, HandlerParents, ReceiveError, Receiver};

/// The most entries of one span a `LiveSpan` may claim.
const MAX_LIVE_ENTRIES: u32 = 1024;

/// A remote span that is alive.
pub(crate) struct SpanState {
    callsite_id: CallsiteId,
    /// Its call site, once resolved (restored spans resolve it on first use).
    callsite: Option<&'static RemoteCallsite>,
    /// The remote parent, as resolved when the span was created.
    parent: Option<SpanId>,
    refs: u32,
    pub(crate) local: Local,
}

impl SpanState {
    pub(crate) fn restored(data: SpanData, local: Local) -> Self {
        Self {
            callsite_id: data.callsite,
            callsite: None,
            parent: data.parent,
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

/// Whether the host's subscriber wants `callsite` now (what the `tracing` macros check before
/// they make a span or an event; per-layer filters rely on it being asked right before).
fn enabled(callsite: &RemoteCallsite) -> bool {
    dispatch(|d| d.enabled(callsite.metadata()))
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
    fn resolve_parent(&mut self, parent: Parent) -> Resolved {
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
            self.ensure_local(id);
            if let Some(Local::Relayed(local)) = self.spans.get(&id).map(|s| &s.local) {
                return Some(local.clone());
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
        let mut next = Some(id);
        // A parent chain cannot be longer than the table (bogus streams could make a cycle).
        for _ in 0..=self.spans.len() {
            let state = self.spans.get(&next?)?;
            match &state.local {
                Local::Relayed(local) => return Some(local.clone()),
                Local::Disabled | Local::Pending => next = state.parent,
            }
        }
        None
    }

    /// The host span of `id` itself, if relayed.
    fn own_local(&mut self, id: SpanId) -> Option<Id> {
        self.ensure_local(id);
        match &self.spans.get(&id)?.local {
            Local::Relayed(local) => Some(local.clone()),
            _ => None,
        }
    }

    /// Creates the host spans of `id` and of its pending ancestors, outermost first. Only
    /// restored spans whose [`LocalSpans`](super::LocalSpans) were lost are pending.
    fn ensure_local(&mut self, id: SpanId) {
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
                    Self::new_local_span(callsite, local_parent, &values::Decoded::empty())
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
        callsite: &'static RemoteCallsite,
        parent: Option<Id>,
        values: &values::Decoded<'_>,
    ) -> Local {
        if !enabled(callsite) {
            return Local::Disabled;
        }
        let meta = callsite.metadata();
        let id = values::with_value_set(meta.fields(), callsite.fields(), values, |values| {
            let attrs = match parent {
                Some(parent) => Attributes::child_of(parent, meta, values),
                None => Attributes::new_root(meta, values),
            };
            dispatch(|d| d.new_span(&attrs))
        });
        Local::Relayed(id)
    }

    pub(super) fn on_event(
        &mut self,
        id: CallsiteId,
        parent: Parent,
        values: Values<'_>,
    ) -> Result<(), ReceiveError> {
        const MESSAGE: &str = "Event";
        let callsite = self.callsite_of_kind(id, Kind::Event, MESSAGE)?;
        let raw = values;
        let values = check_values(callsite, id, raw, MESSAGE)?;
        self.check_parent(parent, MESSAGE)?;
        // Kept even while the host filters the call site out: later markers may be shown.
        if values.has_constant() {
            self.constants.learn(id, raw);
        }
        if !enabled(callsite) {
            return Ok(());
        }
        let parent = self.resolve_parent(parent).local;
        let meta = callsite.metadata();
        let constants = &self.constants;
        let mut values = values;
        values.resolve(|field| constants.get(id, field));
        values::with_value_set(meta.fields(), callsite.fields(), &values, |values| {
            let event = Event::new_child_of(parent, meta, values);
            dispatch(|d| d.event(&event));
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
        let values = check_values(callsite, callsite_id, values, MESSAGE)?;
        self.check_parent(parent, MESSAGE)?;
        if self.spans.contains_key(&id) && parent != Parent::Explicit(id) {
            // The target reuses a span's id (its slot) only after closing it: the `Close` was
            // lost. Close the old span here, as the target did.
            self.remove_span(id);
            self.replaced_spans += 1;
        }
        if self.spans.contains_key(&id) {
            return Err(ReceiveError::SpanExists {
                span: id,
                message: MESSAGE,
            });
        }
        let parent = self.resolve_parent(parent);
        let local = Self::new_local_span(callsite, parent.local, &values);
        self.spans.insert(
            id,
            SpanState {
                callsite_id,
                callsite: Some(callsite),
                parent: parent.remote,
                refs: 1,
                local,
            },
        );
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

    fn enter(&mut self, id: SpanId) {
        if let Some(local) = self.own_local(id) {
            dispatch(|d| d.enter(&local));
        }
        self.entered.push(id);
        self.entered_in.push(self.exception);
    }

    /// Removes the innermost entry of `id` from the stack and exits it on the host.
    fn exit(&mut self, id: SpanId) -> bool {
        let Some(at) = self.entered.iter().rposition(|&e| e == id) else {
            return false;
        };
        self.entered.remove(at);
        if at < self.entered_in.len() {
            self.entered_in.remove(at);
        }
        if let Some(Local::Relayed(local)) = self.spans.get(&id).map(|s| &s.local) {
            dispatch(|d| d.exit(local));
        }
        true
    }

    pub(super) fn on_enter(&mut self, id: SpanId) -> Result<(), ReceiveError> {
        if id == SpanId::UNTRACKED {
            self.untracked_frames += 1;
            return Ok(());
        }
        self.known(id, "Enter")?;
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
    fn remove_span(&mut self, id: SpanId) {
        while self.exit(id) {}
        let Some(state) = self.spans.remove(&id) else {
            return;
        };
        for child in self.spans.values_mut() {
            if child.parent == Some(id) {
                child.parent = state.parent;
            }
        }
        if let Local::Relayed(local) = state.local {
            dispatch(|d| d.try_close(local));
        }
    }

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
        let values = check_values(callsite, callsite_id, values, MESSAGE)?;
        if let Some(local) = self.own_local(id) {
            let meta = callsite.metadata();
            values::with_value_set(meta.fields(), callsite.fields(), &values, |values| {
                let record = Record::new(values);
                dispatch(|d| d.record(&local, &record));
            });
        }
        Ok(())
    }

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
            dispatch(|d| d.record_follows_from(&span, &follows));
        }
        Ok(())
    }

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
        if entered > MAX_LIVE_ENTRIES {
            return Err(ReceiveError::TooManyEntries {
                span: id,
                entered,
                max: MAX_LIVE_ENTRIES,
            });
        }
        if !self.spans.contains_key(&id) {
            let callsite = self.callsite_of_kind(callsite_id, Kind::Span, MESSAGE)?;
            self.check_parent(parent, MESSAGE)?;
            let parent = self.resolve_parent(parent);
            let local = Self::new_local_span(callsite, parent.local, &values::Decoded::empty());
            self.spans.insert(
                id,
                SpanState {
                    callsite_id,
                    callsite: Some(callsite),
                    parent: parent.remote,
                    refs: 1,
                    local,
                },
            );
        }
        let now = self.entered.iter().filter(|&&e| e == id).count();
        let want = entered as usize;
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
                dispatch(|d| d.enter(&local));
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
                dispatch(|d| d.exit(local));
            }
        }
        let closed = self.spans.len();
        for (_, state) in self.spans.drain() {
            if let Local::Relayed(local) = state.local {
                dispatch(|d| d.try_close(local));
            }
        }
        (exited, closed)
    }
}
