//! The exporter as a `tracing-subscriber` layer.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::json::JsonArgs;
use super::{lock, Track, Writer};
use crate::receiver::RECEIVER_TARGET;

/// The timeline's [`Layer`]: made by [`Timeline::build`](super::Timeline::build), added to
/// the sinks.
#[derive(Debug, Clone)]
pub struct TimelineLayer {
    shared: Arc<Mutex<Writer>>,
}

/// A span's fields, kept in the registry's extensions while it lives.
struct SpanFields(JsonArgs);

impl TimelineLayer {
    pub(super) fn new(shared: Arc<Mutex<Writer>>) -> Self {
        Self { shared }
    }

    fn counters(&self, writer: &mut Writer, args: &JsonArgs) {
        for index in 0..writer.counters.len() {
            let name = &writer.counters[index];
            if let Some(value) = args.get(name).filter(|v| v.is_number()).cloned() {
                let name = name.clone();
                writer.counter_point(&name, &value);
            }
        }
    }

    /// The span's name, category (target) and fields.
    fn describe<S>(id: &Id, ctx: &Context<'_, S>) -> Option<(&'static str, String, JsonArgs)>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let span = ctx.span(id)?;
        let args = span
            .extensions()
            .get::<SpanFields>()
            .map(|fields| fields.0.clone())
            .unwrap_or_default();
        Some((span.name(), span.metadata().target().to_owned(), args))
    }
}

impl<S> Layer<S> for TimelineLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut args = JsonArgs::default();
        attrs.record(&mut args);
        self.counters(&mut lock(&self.shared), &args);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(args));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut recorded = JsonArgs::default();
        values.record(&mut recorded);
        self.counters(&mut lock(&self.shared), &recorded);
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(fields) = extensions.get_mut::<SpanFields>() {
                for (name, value) in recorded.iter() {
                    fields.0.insert(name, value.clone());
                }
            }
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some((name, category, args)) = Self::describe(id, &ctx) else {
            return;
        };
        lock(&self.shared).begin(Track::current(), id.into_u64(), name, &category, &args);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        lock(&self.shared).end(id.into_u64(), |span| {
            Self::describe(&Id::from_u64(span), &ctx)
        });
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut args = JsonArgs::default();
        args.insert("level", Value::String(metadata.level().to_string()));
        args.insert("target", Value::String(metadata.target().to_owned()));
        event.record(&mut args);
        let name = match args.remove("message") {
            Some(Value::String(message)) => message,
            Some(other) => other.to_string(),
            None => metadata.name().to_owned(),
        };
        let mut writer = lock(&self.shared);
        if metadata.target() == RECEIVER_TARGET {
            writer.instant(None, &name, RECEIVER_TARGET, &args);
        } else {
            writer.instant(Some(Track::current()), &name, metadata.target(), &args);
        }
        self.counters(&mut writer, &args);
    }
}
