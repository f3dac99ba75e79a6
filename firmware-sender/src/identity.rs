//! What the `Hello` frame tells the host about this boot and this build.

/// The identity of a boot and a firmware build, sent in the `Hello` frame that starts every
/// boot (and again when the host asks for a re-send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// A value that differs from one boot to the next: a counter kept in RAM that survives a
    /// reset (`.uninit`), a reset-cause register mixed with a counter, a random number. The
    /// host takes a `Hello` with a new value as a reset of the target.
    pub boot: u32,
    /// Ticks per second of the [`Clock`](crate::Clock).
    pub tick_hz: u64,
    /// The firmware build: name and version, and a build id if you have one. The host keys
    /// persisted metadata by it. [`firmware_id!`](crate::firmware_id) gives
    /// `"<package name> <version>"`.
    pub firmware: &'static str,
}

/// `"<CARGO_PKG_NAME> <CARGO_PKG_VERSION>"` of the crate that calls it, for
/// [`Identity::firmware`].
///
/// ```
/// let id: &'static str = rtt_tunnel_sender::firmware_id!();
/// assert!(id.starts_with("rtt-tunnel-sender "));
/// ```
#[macro_export]
macro_rules! firmware_id {
    () => {
        concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"))
    };
}
