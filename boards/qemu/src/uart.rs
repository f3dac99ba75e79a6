//! UART0 of the MPS2 boards (an ARM CMSDK APB UART), as an rtt-tunnel [`Link`]: frames go out
//! on its transmit line, requests come in on its receive line. QEMU connects UART0 to its
//! first `-serial` chardev (`-serial pty`: a pseudo-terminal the host opens).

use rtt_tunnel_sender::Link;

/// UART0's registers.
#[cfg(not(mps2_tz))]
const UART0: usize = 0x4000_4000;
/// UART0's registers (secure alias, as the firmware runs secure).
#[cfg(mps2_tz)]
const UART0: usize = 0x5020_0000;

const DATA: usize = 0x000;
const STATE: usize = 0x004;
const CTRL: usize = 0x008;
const BAUDDIV: usize = 0x010;

/// STATE: the transmit buffer is full.
const TX_FULL: u32 = 1 << 0;
/// STATE: the receive buffer holds a byte.
const RX_FULL: u32 = 1 << 1;
/// CTRL: transmit and receive enabled.
const TX_RX_ENABLE: u32 = 0b11;

/// UART0, set up for 8N1 at (nominally) 115200 baud; QEMU does not pace the line.
#[derive(Debug)]
pub struct Uart0(());

impl Uart0 {
    /// Enables UART0's transmitter and receiver. Call once.
    pub fn init() -> Self {
        let uart = Uart0(());
        // The divider for 115200 baud from the 25 MHz APB clock (QEMU wants at least 16).
        uart.write(BAUDDIV, 217);
        uart.write(CTRL, TX_RX_ENABLE);
        uart
    }

    fn read(&self, register: usize) -> u32 {
        // SAFETY: a register of UART0, always mapped on this board; reads have no side effect
        // but on DATA, whose byte this driver consumes.
        unsafe { ((UART0 + register) as *const u32).read_volatile() }
    }

    fn write(&self, register: usize, value: u32) {
        // SAFETY: a register of UART0, always mapped on this board, written as the CMSDK UART's
        // manual describes; only this driver (one instance) touches it.
        unsafe { ((UART0 + register) as *mut u32).write_volatile(value) }
    }

    /// Whether a received byte waits.
    pub fn rx_ready(&self) -> bool {
        self.read(STATE) & RX_FULL != 0
    }

    /// Sends `byte`, waiting while the transmit buffer is full.
    pub fn send(&self, byte: u8) {
        while self.read(STATE) & TX_FULL != 0 {
            core::hint::spin_loop();
        }
        self.write(DATA, u32::from(byte));
    }

    /// The received byte, if one waits.
    pub fn receive(&self) -> Option<u8> {
        self.rx_ready().then(|| self.read(DATA) as u8)
    }
}

impl Link for Uart0 {
    /// Sends the whole frame (the line never refuses one: a UART has no ring to fill).
    fn write_frame(&mut self, frame: &[u8]) -> bool {
        for &byte in frame {
            self.send(byte);
        }
        true
    }

    fn read_down(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            match self.receive() {
                Some(byte) => {
                    buf[n] = byte;
                    n += 1;
                }
                None => break,
            }
        }
        n
    }
}
