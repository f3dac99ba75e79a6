//! Flashing a firmware ELF through probe-rs's flash loader, as `probe-rs run` does: the
//! loader gets the ELF's loadable segments at their load addresses, then `commit` erases and
//! programs (and reports its progress).
//!
//! probe-rs's own ELF reader is its `builtin-formats` feature (with readers for Intel HEX and
//! UF2 and their dependencies); the segments are read here with `object` instead, which the
//! host already uses, so the one probe-rs configuration of the workspace also flashes.

use std::path::{Path, PathBuf};

use object::elf::{FileHeader32, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;
use probe_rs::flashing::{DownloadOptions, FlashProgress, ProgressEvent, ProgressOperation};

use super::{ProbeError, ProbeMemory};
use crate::elf::FirmwareElf;

/// What a firmware ELF puts into flash: its `PT_LOAD` segments with file bytes, at their
/// physical (load) addresses, as probe-rs's ELF loader takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashImage {
    /// The ELF it came from.
    pub elf: PathBuf,
    /// `(load address, bytes)`, in the ELF's order.
    pub segments: Vec<(u64, Vec<u8>)>,
}

impl FlashImage {
    /// Reads the loadable segments of the 32-bit little-endian ELF at `path` (every Cortex-M
    /// firmware). Checked before a probe is touched: a file that is not such an ELF, or has
    /// nothing to load, is refused with the reason.
    pub fn read(path: &Path) -> Result<Self, ProbeError> {
        let data = std::fs::read(path).map_err(|e| ProbeError::NotFlashable {
            elf: path.display().to_string(),
            reason: format!("cannot read it: {e}"),
        })?;
        Self::from_bytes(path, &data)
    }

    /// The loadable segments of `elf`, read already (for the RTT control block, say), as
    /// [`read`](Self::read) takes them from a file.
    pub fn from_elf(elf: &FirmwareElf) -> Result<Self, ProbeError> {
        Self::from_bytes(elf.path(), elf.data())
    }

    fn from_bytes(path: &Path, data: &[u8]) -> Result<Self, ProbeError> {
        let refuse = |reason: String| ProbeError::NotFlashable {
            elf: path.display().to_string(),
            reason,
        };
        let header = FileHeader32::<Endianness>::parse(data).map_err(|_| {
            refuse(
                "not a 32-bit ELF (a Cortex-M firmware is one: pass the file cargo builds, \
                 target/<triple>/<profile>/<name>, not a .bin or .hex)"
                    .into(),
            )
        })?;
        let endian = header
            .endian()
            .map_err(|_| refuse("an ELF of unknown byte order".into()))?;
        if header.e_machine.get(endian) != object::elf::EM_ARM {
            return Err(refuse(
                "not an ARM ELF: build for a thumb target (thumbv7em-none-eabihf, …)".into(),
            ));
        }
        let headers = header
            .program_headers(endian, data)
            .map_err(|_| refuse("its program headers do not read".into()))?;
        let mut segments = Vec::new();
        for ph in headers {
            if ph.p_type(endian) != PT_LOAD || ph.p_filesz(endian) == 0 {
                continue;
            }
            let bytes = ph
                .data(endian, data)
                .map_err(|_| refuse("a segment lies outside the file".into()))?;
            segments.push((u64::from(ph.p_paddr(endian)), bytes.to_vec()));
        }
        if segments.is_empty() {
            return Err(refuse(
                "it has no loadable segments (is it linked with cortex-m-rt's link.x and a \
                 memory.x?)"
                    .into(),
            ));
        }
        Ok(Self {
            elf: path.to_path_buf(),
            segments,
        })
    }

    /// Bytes to load in all.
    pub fn len(&self) -> u64 {
        self.segments.iter().map(|(_, b)| b.len() as u64).sum()
    }

    /// Whether there is nothing to load (never, for an image [`read`](Self::read) returns).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A phase of flashing, for a progress bar each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlashPhase {
    /// Reading flash back to keep what is not overwritten.
    Fill,
    /// Erasing sectors.
    Erase,
    /// Programming pages.
    Program,
    /// Reading back to verify.
    Verify,
}

/// A step of flashing, reported to the callback of [`flash_image`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashStep {
    /// A phase is planned, with its size in bytes when known (all phases are announced before
    /// the first begins, so that their bars can be shown together).
    Begin(FlashPhase, Option<u64>),
    /// `bytes` more of the phase are done.
    Advance(FlashPhase, u64),
    /// The phase ended, well or not.
    End(FlashPhase, bool),
}

fn phase(operation: ProgressOperation) -> Option<FlashPhase> {
    Some(match operation {
        ProgressOperation::Fill => FlashPhase::Fill,
        ProgressOperation::Erase => FlashPhase::Erase,
        ProgressOperation::Program => FlashPhase::Program,
        ProgressOperation::Verify => FlashPhase::Verify,
    })
}

/// Flashes `image` through `probe`'s session with probe-rs's flash loader (which halts the
/// core, erases, programs and verifies), reporting each step to `progress`. The core is left
/// for the caller to reset.
pub fn flash_image(
    probe: &mut ProbeMemory,
    image: &FlashImage,
    mut progress: impl FnMut(FlashStep),
) -> Result<(), ProbeError> {
    let fail = |source: probe_rs::flashing::FlashError, chip: &str| ProbeError::Flash {
        elf: image.elf.display().to_string(),
        chip: chip.to_owned(),
        source: Box::new(source),
    };
    let chip = probe.chip().to_owned();
    let session = probe.session_mut();
    let mut loader = session.target().flash_loader();
    for (address, bytes) in &image.segments {
        loader
            .add_data(*address, bytes)
            .map_err(|e| fail(e, &chip))?;
    }
    let mut options = DownloadOptions::default();
    options.keep_unwritten_bytes = false;
    options.verify = true;
    options.progress = FlashProgress::new(|event| match event {
        ProgressEvent::AddProgressBar { operation, total } => {
            if let Some(p) = phase(operation) {
                progress(FlashStep::Begin(p, total));
            }
        }
        ProgressEvent::Progress {
            operation, size, ..
        } => {
            if let Some(p) = phase(operation) {
                progress(FlashStep::Advance(p, size));
            }
        }
        ProgressEvent::Finished(operation) => {
            if let Some(p) = phase(operation) {
                progress(FlashStep::End(p, true));
            }
        }
        ProgressEvent::Failed(operation) => {
            if let Some(p) = phase(operation) {
                progress(FlashStep::End(p, false));
            }
        }
        _ => {}
    });
    loader.commit(session, options).map_err(|e| fail(e, &chip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_an_elf_is_refused_with_the_reason() {
        let dir = std::env::temp_dir().join(format!("rtt-tunnel-flash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("firmware.bin");
        std::fs::write(&bin, [0u8; 64]).unwrap();
        let error = FlashImage::read(&bin).unwrap_err().to_string();
        assert!(error.contains("not a 32-bit ELF"), "{error}");
        let missing = FlashImage::read(&dir.join("nothing"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot read it"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_elf_read_already_is_checked_the_same() {
        // The test ELF has sections but no program headers: nothing to load.
        let elf = FirmwareElf::parse(crate::elf::tests::tiny_elf(&[])).unwrap();
        let error = FlashImage::from_elf(&elf).unwrap_err().to_string();
        assert!(error.contains("no loadable segments"), "{error}");
        assert!(error.contains("<memory>"), "{error}");
    }
}
