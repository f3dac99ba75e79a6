//! Where relayed spans and events go: the sinks, each a `tracing-subscriber` [`Layer`].
//!
//! The [`Receiver`](crate::receiver::Receiver) relays into whatever dispatcher is current, as
//! any instrumented code does. [`Sinks`] builds that dispatcher: a registry and a list of
//! layers, each one sink with its own filter — text or JSON lines from [`Output`], and any
//! other `Layer` (a file exporter, a test's capturing layer). Every sink sees the span tree,
//! fields and levels of the target, and the time on the target through
//! [`target_time::current`](crate::target_time::current), as the [crate docs](crate#target-time)
//! describe.
//!
//! [`Output`] builds a `fmt` layer (human text or JSON lines) with an `EnvFilter`-style filter
//! and [target-time](crate::target_time) timestamps. Take it as a sink, as a [`Dispatch`] of
//! its own, or as a layer to stack on a `tracing_subscriber::registry()` yourself.
//!
//! ```
//! use rtt_tunnel_host::output::{Format, Output, Sinks};
//!
//! let dispatch = Sinks::new()
//!     .with_output(&Output::new(Format::Compact).filter("info,my_firmware=trace"))?
//!     .with_output_to(&Output::new(Format::Json), std::io::sink)?
//!     .dispatch();
//! tracing_core::dispatcher::with_default(&dispatch, || {
//!     // Relay frames with a `Receiver` here: both sinks get them.
//! });
//! # Ok::<(), rtt_tunnel_host::output::OutputError>(())
//! ```

use std::io::IsTerminal;

use tracing_core::{Dispatch, Subscriber};
use tracing_subscriber::filter::{EnvFilter, ParseError};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::Layer;

use crate::target_time::TargetTimer;

/// How events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// One line per event, the spans' names before the message.
    #[default]
    Compact,
    /// One line per event, the spans with their fields before the message (`fmt`'s default).
    Full,
    /// Several lines per event, for reading slowly.
    Pretty,
    /// One JSON object per line, with the current span and the span list.
    Json,
}

/// Whether text output has ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    /// When writing to standard output and it is a terminal.
    #[default]
    Auto,
    /// Always (text formats only: JSON never has colours).
    Always,
    /// Never.
    Never,
}

/// The output could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The filter string is not a valid `EnvFilter` directive list.
    #[error(
        "invalid filter {filter:?}: {source} \
         (expected directives like `info` or `warn,my_firmware::radio=trace`)"
    )]
    Filter {
        /// The filter that was given.
        filter: String,
        /// What `EnvFilter` said.
        #[source]
        source: ParseError,
    },
}

/// One sink of a [`Sinks`] list.
pub type Sink = Box<dyn Layer<Registry> + Send + Sync>;

/// The sinks relayed spans and events go to, in order. See the [module docs](self).
#[derive(Default)]
pub struct Sinks {
    layers: Vec<Sink>,
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks")
            .field("layers", &self.layers.len())
            .finish()
    }
}

impl Sinks {
    /// No sink yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `layer` as a sink (give it its own filter with `Layer::with_filter` to see only
    /// part of what is relayed).
    pub fn with(mut self, layer: impl Layer<Registry> + Send + Sync + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Adds `output` writing to standard output.
    ///
    /// # Errors
    ///
    /// An invalid filter.
    pub fn with_output(mut self, output: &Output) -> Result<Self, OutputError> {
        self.layers.push(output.layer()?);
        Ok(self)
    }

    /// Adds `output` writing to `writer` (a file, standard error, a buffer).
    ///
    /// # Errors
    ///
    /// An invalid filter.
    pub fn with_output_to<W>(mut self, output: &Output, writer: W) -> Result<Self, OutputError>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        self.layers.push(output.layer_with_writer(writer)?);
        Ok(self)
    }

    /// How many sinks there are.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// A registry with every sink, as the dispatcher to relay into.
    pub fn dispatch(self) -> Dispatch {
        Dispatch::new(tracing_subscriber::registry().with(self.layers))
    }
}

/// An output configuration. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Output {
    format: Format,
    filter: String,
    color: Color,
    span_events: FmtSpan,
    epoch: bool,
}

impl Default for Output {
    fn default() -> Self {
        Self::new(Format::default())
    }
}

impl Output {
    /// `format`, filter `info`, automatic colours, no span events, no epoch in timestamps.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            filter: "info".into(),
            color: Color::Auto,
            span_events: FmtSpan::NONE,
            epoch: false,
        }
    }

    /// An `EnvFilter` directive list: `info`, `my_firmware=debug,rtt_tunnel=warn`,
    /// `[request]=trace`, ... The firmware's events have the firmware's module paths as
    /// targets; the receiver's own warnings have target
    /// [`rtt_tunnel`](crate::receiver::RECEIVER_TARGET).
    pub fn filter(mut self, filter: &str) -> Self {
        self.filter = filter.into();
        self
    }

    /// Colours.
    pub fn color(mut self, color: Color) -> Self {
        self.color = color;
        self
    }

    /// Which span lifecycle events to write as lines of their own (`FmtSpan::CLOSE` prints
    /// each span's busy and idle time, measured on the host).
    pub fn span_events(mut self, events: FmtSpan) -> Self {
        self.span_events = events;
        self
    }

    /// Prefix timestamps with the number of target resets seen (`#1    0.001000s`).
    pub fn with_epoch(mut self, epoch: bool) -> Self {
        self.epoch = epoch;
        self
    }

    /// The output layer writing to standard output, filter included (a per-layer filter, so
    /// other layers stacked beside it see everything).
    ///
    /// # Errors
    ///
    /// An invalid filter.
    pub fn layer<S>(&self) -> Result<Box<dyn Layer<S> + Send + Sync>, OutputError>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let ansi = match self.color {
            Color::Auto => std::io::stdout().is_terminal(),
            Color::Always => true,
            Color::Never => false,
        };
        self.build(std::io::stdout, ansi)
    }

    /// The output layer writing to `writer`; [`Color::Auto`] means no colours.
    ///
    /// # Errors
    ///
    /// An invalid filter.
    pub fn layer_with_writer<S, W>(
        &self,
        writer: W,
    ) -> Result<Box<dyn Layer<S> + Send + Sync>, OutputError>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        self.build(writer, self.color == Color::Always)
    }

    /// A registry with the [`layer`](Self::layer), as a dispatcher.
    ///
    /// # Errors
    ///
    /// An invalid filter.
    pub fn dispatch(&self) -> Result<Dispatch, OutputError> {
        let layer = self.layer()?;
        Ok(Dispatch::new(tracing_subscriber::registry().with(layer)))
    }

    /// A registry with the [`layer_with_writer`](Self::layer_with_writer), as a dispatcher.
    ///
    /// # Errors
    ///
    /// An invalid filter.
    pub fn dispatch_with_writer<W>(&self, writer: W) -> Result<Dispatch, OutputError>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let layer = self.layer_with_writer(writer)?;
        Ok(Dispatch::new(tracing_subscriber::registry().with(layer)))
    }

    fn build<S, W>(
        &self,
        writer: W,
        ansi: bool,
    ) -> Result<Box<dyn Layer<S> + Send + Sync>, OutputError>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let filter = EnvFilter::try_new(&self.filter).map_err(|source| OutputError::Filter {
            filter: self.filter.clone(),
            source,
        })?;
        let timer = if self.epoch {
            TargetTimer::new().with_epoch()
        } else {
            TargetTimer::new()
        };
        let base = tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_span_events(self.span_events.clone())
            .with_ansi(ansi);
        let layer: Box<dyn Layer<S> + Send + Sync> = match self.format {
            Format::Compact => base.compact().with_timer(timer).boxed(),
            Format::Full => base.with_timer(timer).boxed(),
            Format::Pretty => base.pretty().with_timer(timer).boxed(),
            Format::Json => base
                .json()
                .with_ansi(false)
                .with_timer(timer.unpadded())
                .boxed(),
        };
        Ok(layer.with_filter(filter).boxed())
    }
}
