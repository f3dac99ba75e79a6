//! [`TargetMemory`] over a GDB connection: halt, access, resume.

use std::net::ToSocketAddrs;

use crate::memory::{Access, MemoryError, TargetMemory};

use super::client::{GdbClient, GdbError, GdbOptions};
use super::packet::{StopReply, SIGINT};

/// Target memory reached through a GDB server.
///
/// All-stop GDB servers only touch memory while the target is halted, so a batch
/// ([`TargetMemory::begin_batch`]) interrupts a running target and the end of the batch
/// resumes it: one halt per RTT poll. With QEMU the halt costs two round trips on the
/// loopback; on a real probe behind OpenOCD, pyOCD, J-Link GDB Server or a Black Magic Probe
/// it also stops the core for the time of the poll (a few milliseconds), which is what those
/// servers allow in all-stop mode. For RTT on hardware without halting, use the probe-rs
/// transport.
///
/// A target that stopped by itself (a breakpoint, a fault: a signal other than SIGINT in the
/// stop reply) is not resumed: [`target_stop`](Self::target_stop) tells it, and memory stays
/// readable.
///
/// Accesses outside a batch are made as they are: they fail with a transport error while the
/// target runs.
#[derive(Debug)]
pub struct GdbMemory {
    client: GdbClient,
    in_batch: bool,
    halted_by_us: bool,
    target_stop: Option<StopReply>,
}

impl GdbMemory {
    /// Connects to the GDB server at `address` (`host:port`).
    pub fn connect(address: impl ToSocketAddrs, options: GdbOptions) -> Result<Self, GdbError> {
        GdbClient::connect(address, options).map(Self::new)
    }

    /// Wraps a connected client.
    pub fn new(client: GdbClient) -> Self {
        GdbMemory {
            client,
            in_batch: false,
            halted_by_us: false,
            target_stop: None,
        }
    }

    /// The client, for run control and statistics.
    pub fn client(&self) -> &GdbClient {
        &self.client
    }

    /// The client, for run control.
    pub fn client_mut(&mut self) -> &mut GdbClient {
        &mut self.client
    }

    /// Gives the client back.
    pub fn into_client(self) -> GdbClient {
        self.client
    }

    /// Set when a halt found the target already stopped by itself (the stop reply's
    /// signal, 5 for a breakpoint or fault); the target is then left stopped.
    pub fn target_stop(&self) -> Option<StopReply> {
        self.target_stop
    }

    fn memory_error(error: GdbError, access: Access, address: u64, len: usize) -> MemoryError {
        match error {
            GdbError::ErrorReply { reply, .. } => MemoryError::Access {
                access,
                address,
                len,
                reason: format!("the GDB server answered {reply}"),
            },
            other => other.into(),
        }
    }
}

impl From<GdbError> for MemoryError {
    fn from(error: GdbError) -> Self {
        match error {
            GdbError::Exited { code } => MemoryError::TargetExited {
                code: i32::from(code),
            },
            GdbError::Terminated { signal } => MemoryError::TargetTerminated { signal },
            GdbError::Timeout { during, timeout } => MemoryError::Timeout {
                during: format!("{during} (GDB)"),
                timeout,
            },
            error if error.is_disconnected() => MemoryError::Disconnected {
                reason: error.to_string(),
            },
            error => MemoryError::transport(error),
        }
    }
}

impl TargetMemory for GdbMemory {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.client
            .read_memory(address, buf)
            .map_err(|e| Self::memory_error(e, Access::Read, address, buf.len()))
    }

    fn write(&mut self, address: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.client
            .write_memory(address, data)
            .map_err(|e| Self::memory_error(e, Access::Write, address, data.len()))
    }

    fn begin_batch(&mut self) -> Result<(), MemoryError> {
        if self.in_batch {
            return Err(MemoryError::transport(GdbError::Protocol {
                request: "begin_batch".into(),
                detail: "batches do not nest".into(),
            }));
        }
        if self.client.is_running() {
            match self.client.interrupt()? {
                StopReply::Signal(SIGINT) => self.halted_by_us = true,
                stop => self.target_stop = Some(stop),
            }
        }
        self.in_batch = true;
        Ok(())
    }

    /// The target is halted for the batch (or was already stopped).
    fn halts_in_batch(&self) -> bool {
        true
    }

    fn end_batch(&mut self) -> Result<(), MemoryError> {
        self.in_batch = false;
        if std::mem::take(&mut self.halted_by_us) {
            self.client.resume()?;
        }
        Ok(())
    }
}
