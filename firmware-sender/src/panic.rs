//! Reporting a panic as an error event before the firmware halts.

use core::fmt::Display;
use core::panic::{Location, PanicInfo};

/// Sends the panic's message and location as an `ERROR` event with target `panic`, through
/// the global dispatcher, like any event: call it from your `#[panic_handler]` before you
/// halt or reset.
///
/// The message goes into the frame as text cut at the tunnel's text limit, the location as
/// a `location` field (`file:line:column`). If the panic happened inside the sender's own
/// critical section, the event is lost (the sender does not wait for itself); a runtime level
/// of `OFF` filters it out like any event.
///
/// ```ignore
/// #[panic_handler]
/// fn panic(info: &core::panic::PanicInfo) -> ! {
///     rtt_tunnel_sender::report_panic(info);
///     loop {
///         cortex_m::asm::bkpt();
///     }
/// }
/// ```
pub fn report_panic(info: &PanicInfo<'_>) {
    panic_event(&info.message(), info.location());
}

/// The event of [`report_panic`], from its parts.
pub(crate) fn panic_event(message: &dyn Display, location: Option<&Location<'_>>) {
    match location {
        Some(location) => tracing::error!(target: "panic", %location, "{}", message),
        None => tracing::error!(target: "panic", "{}", message),
    }
}
