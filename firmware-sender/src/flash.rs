//! Where the firmware's flash is, by default: cortex-m-rt's linker symbols.
//!
//! String literals (a constant message, a static `&str`) lie in `.rodata`, which cortex-m-rt's
//! `link.x` brackets with `__srodata` and `__erodata`. Only the symbols' addresses are taken,
//! never their bytes. Firmware without cortex-m-rt turns the `cortex-m-rt` feature off (or it
//! would not link) and calls [`Tunnel::set_flash`](crate::Tunnel::set_flash), or sends every
//! text in full.

/// cortex-m-rt's read-only data, `__srodata..__erodata`.
#[cfg(all(feature = "cortex-m-rt", target_arch = "arm", target_os = "none"))]
pub(crate) fn from_linker() -> (usize, usize) {
    extern "C" {
        static __srodata: u8;
        static __erodata: u8;
    }
    (
        core::ptr::addr_of!(__srodata) as usize,
        core::ptr::addr_of!(__erodata) as usize,
    )
}

/// No linker symbols to go by (a host build, or no cortex-m-rt): no flash.
#[cfg(not(all(feature = "cortex-m-rt", target_arch = "arm", target_os = "none")))]
pub(crate) fn from_linker() -> (usize, usize) {
    (0, 0)
}
