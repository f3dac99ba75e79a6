//! The execution context a frame is written in: thread mode, or which exception handler.

/// The active exception number, from the Cortex-M IPSR: 0 in thread mode, 15 in SysTick,
/// 16 + n in device interrupt n. Always 0 off the target (the host tests).
#[inline(always)]
pub(crate) fn exception() -> u16 {
    #[cfg(all(target_arch = "arm", target_os = "none"))]
    {
        let ipsr: u32;
        // SAFETY: `mrs` of IPSR only reads a special register; it is allowed in thread and
        // handler mode, privileged or not, and touches no memory.
        unsafe {
            core::arch::asm!(
                "mrs {}, IPSR",
                out(reg) ipsr,
                options(nomem, nostack, preserves_flags)
            );
        }
        // The exception number is IPSR's low 9 bits.
        (ipsr & 0x1ff) as u16
    }
    #[cfg(not(all(target_arch = "arm", target_os = "none")))]
    {
        0
    }
}
