//! What the drain does when it finds the core halted: the firmware's semihosting requests.
//!
//! [`ProbeMemory`](super::ProbeMemory) asks probe-rs for the core's status (`Core::status`,
//! which reads the debug registers and does not halt the core) every
//! [`STATUS_EVERY`] while it reads the ring. A core halted on a semihosting `bkpt 0xAB` comes
//! back as `HaltReason::Breakpoint(BreakpointCause::Semihosting(command))`, decoded by
//! probe-rs; [`halt_action`] turns it into what the drain does, as `probe-rs run` does: an
//! exit ends the run with the firmware's code (after the ring is drained), a console write
//! (`SYS_WRITEC`, `SYS_WRITE0`) is printed and the core resumed, any other request is
//! reported and ends the run.

use std::time::Duration;

use probe_rs::semihosting::{ExitErrorDetails, SemihostingCommand, WriteConsoleRequest};
use probe_rs::{BreakpointCause, CoreStatus, HaltReason};

/// How often the core's status is read while the ring is drained.
pub(crate) const STATUS_EVERY: Duration = Duration::from_millis(100);

/// What the drain does with the core's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HaltAction {
    /// Go on reading: the core runs, sleeps, or is halted by something else (a debugger, a
    /// plain breakpoint: the firmware's own business, as before).
    Continue,
    /// The firmware exited through semihosting with this code: drain what is left in the
    /// ring, then end the run with it.
    Exit(i32),
    /// The firmware prints through semihosting: read the text, print it, resume the core.
    Print(WriteConsoleRequest),
    /// A semihosting request host-receiver does not serve: report it and end the run (the
    /// core would wait for an answer forever).
    Unserved(SemihostingCommand),
}

/// The action for a core `status`.
pub(crate) fn halt_action(status: CoreStatus) -> HaltAction {
    let CoreStatus::Halted(HaltReason::Breakpoint(BreakpointCause::Semihosting(command))) = status
    else {
        return HaltAction::Continue;
    };
    match command {
        SemihostingCommand::ExitSuccess => HaltAction::Exit(0),
        SemihostingCommand::ExitError(details) => HaltAction::Exit(exit_code(&details)),
        SemihostingCommand::WriteConsole(request) => HaltAction::Print(request),
        other => HaltAction::Unserved(other),
    }
}

/// The process exit code of a semihosting `SYS_EXIT` that is not a success: the firmware's
/// exit status when it gave one (`ADP_Stopped_ApplicationExit`), else 1 (another stop reason,
/// e.g. cortex-m-semihosting's `EXIT_FAILURE`, `ADP_Stopped_RunTimeErrorUnknown`).
fn exit_code(details: &ExitErrorDetails) -> i32 {
    match details.exit_status {
        Some(status) if status != 0 => status as i32,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probe_rs::semihosting::UnknownCommandDetails;

    fn semihosting(command: SemihostingCommand) -> CoreStatus {
        CoreStatus::Halted(HaltReason::Breakpoint(BreakpointCause::Semihosting(
            command,
        )))
    }

    #[test]
    fn a_running_or_otherwise_halted_core_is_read_on() {
        for status in [
            CoreStatus::Running,
            CoreStatus::Sleeping,
            CoreStatus::Unknown,
            CoreStatus::LockedUp,
            CoreStatus::Halted(HaltReason::Request),
            CoreStatus::Halted(HaltReason::Breakpoint(BreakpointCause::Software)),
            CoreStatus::Halted(HaltReason::Breakpoint(BreakpointCause::Hardware)),
        ] {
            assert_eq!(halt_action(status), HaltAction::Continue, "{status:?}");
        }
    }

    #[test]
    fn a_semihosting_exit_ends_the_run_with_the_firmwares_code() {
        assert_eq!(
            halt_action(semihosting(SemihostingCommand::ExitSuccess)),
            HaltAction::Exit(0)
        );
        // exit(3): ADP_Stopped_ApplicationExit with its status.
        let exit = |reason, exit_status, subcode| {
            halt_action(semihosting(SemihostingCommand::ExitError(
                ExitErrorDetails {
                    reason,
                    exit_status,
                    subcode,
                },
            )))
        };
        assert_eq!(exit(0x20026, Some(3), None), HaltAction::Exit(3));
        // cortex-m-semihosting's EXIT_FAILURE: ADP_Stopped_RunTimeErrorUnknown, no status.
        assert_eq!(exit(0x20023, None, Some(0)), HaltAction::Exit(1));
        // An error whose status says 0 is still a failure.
        assert_eq!(exit(0x20026, Some(0), None), HaltAction::Exit(1));
    }

    #[test]
    fn a_console_write_is_printed_and_anything_else_reported() {
        let write = WriteConsoleRequest::new(0x2000_0100, None);
        assert_eq!(
            halt_action(semihosting(SemihostingCommand::WriteConsole(write))),
            HaltAction::Print(write)
        );
        let unknown = SemihostingCommand::Unknown(UnknownCommandDetails {
            operation: 0x30,
            parameter: 0x2000_0000,
        });
        assert_eq!(
            halt_action(semihosting(unknown)),
            HaltAction::Unserved(unknown)
        );
    }
}
