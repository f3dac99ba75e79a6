//! What the host needs from the firmware's ELF file: the address of the RTT control block (the
//! `_SEGGER_RTT` symbol) and the target's RAM (the writable sections), parsed with the `object`
//! crate.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol, SectionFlags};

/// The symbol under which rtt-target (and SEGGER's C code) places the RTT control block.
pub const RTT_SYMBOL: &str = "_SEGGER_RTT";

const SHF_WRITE: u64 = object::elf::SHF_WRITE as u64;
const SHF_ALLOC: u64 = object::elf::SHF_ALLOC as u64;

/// Why the firmware ELF could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ElfError {
    /// The file could not be read.
    #[error("cannot read the firmware ELF {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not an ELF file `object` can parse.
    #[error("{path} is not a firmware ELF file: {reason} (the ELF is the file the linker wrote, not a .bin or .hex image)")]
    Parse {
        /// The file, or `<memory>` when parsed from bytes.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A symbol the host needs is not in the ELF.
    #[error("the symbol `{symbol}` is not in {path}: the firmware does not use RTT (no rtt_init! / rtt-target linked), or the ELF was stripped; pass the unstripped ELF that runs on the target")]
    MissingSymbol {
        /// The symbol.
        symbol: String,
        /// The file.
        path: PathBuf,
    },
}

/// A parsed firmware ELF: where the RTT control block is and which memory is RAM.
#[derive(Debug, Clone)]
pub struct FirmwareElf {
    path: PathBuf,
    data: Vec<u8>,
    rtt_control_block: Option<u64>,
    ram: Vec<Range<u64>>,
    /// The loaded, read-only sections with contents: addresses, and where in `data` their
    /// bytes are.
    rom: Vec<(Range<u64>, Range<usize>)>,
}

impl FirmwareElf {
    /// Reads and parses the ELF at `path`.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, ElfError> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|source| ElfError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse_named(data, path.to_owned())
    }

    /// Parses ELF bytes held in memory.
    pub fn parse(data: Vec<u8>) -> Result<Self, ElfError> {
        Self::parse_named(data, PathBuf::from("<memory>"))
    }

    fn parse_named(data: Vec<u8>, path: PathBuf) -> Result<Self, ElfError> {
        let (rtt_control_block, ram, rom) = {
            let file = object::File::parse(&*data).map_err(|e| ElfError::Parse {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            if !matches!(file.format(), object::BinaryFormat::Elf) {
                return Err(ElfError::Parse {
                    path,
                    reason: format!("it is a {:?} file", file.format()),
                });
            }
            (
                find_symbol(&file, RTT_SYMBOL),
                writable_ranges(&file),
                read_only_sections(&file),
            )
        };
        Ok(FirmwareElf {
            path,
            data,
            rtt_control_block,
            ram,
            rom,
        })
    }

    /// The file this was read from (`<memory>` for [`parse`](Self::parse)).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw ELF bytes (for other readers of the file, such as a defmt table decoder).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The address of the RTT control block (`_SEGGER_RTT`), if the ELF has the symbol.
    pub fn rtt_control_block(&self) -> Option<u64> {
        self.rtt_control_block
    }

    /// The address of the RTT control block, or an error that says why it is missing.
    pub fn require_rtt_control_block(&self) -> Result<u64, ElfError> {
        self.rtt_control_block
            .ok_or_else(|| ElfError::MissingSymbol {
                symbol: RTT_SYMBOL.into(),
                path: self.path.clone(),
            })
    }

    /// The address of a defined symbol.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        let file = object::File::parse(&*self.data).ok()?;
        find_symbol(&file, name)
    }

    /// Names of the exceptions the firmware's vector table (the `.vector_table` section of
    /// cortex-m-rt) has a handler for, by exception number: the architecture's names for 2 to
    /// 15 (`HardFault`, `SysTick`, ...); for device interrupts (16 and up), the name of the
    /// handler's symbol (`UART0`, `TIMER1`, ...) when one function has that address and it
    /// is not cortex-m-rt's `DefaultHandler`, else `IRQ<n>`. Empty without such a section.
    pub fn exception_names(&self) -> BTreeMap<u16, String> {
        let mut names = BTreeMap::new();
        let Ok(file) = object::File::parse(&*self.data) else {
            return names;
        };
        let Some(table) = file
            .section_by_name(".vector_table")
            .and_then(|section| section.data().ok())
        else {
            return names;
        };
        let mut by_address: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
        for symbol in file.symbols() {
            if symbol.kind() == object::SymbolKind::Text && symbol.is_definition() {
                if let Ok(name) = symbol.name() {
                    by_address
                        .entry(symbol.address() & !1)
                        .or_default()
                        .push(name);
                }
            }
        }
        let little = file.is_little_endian();
        for (number, word) in table.chunks_exact(4).enumerate().skip(2) {
            let Ok(number) = u16::try_from(number) else {
                break;
            };
            let word = [word[0], word[1], word[2], word[3]];
            let address = if little {
                u32::from_le_bytes(word)
            } else {
                u32::from_be_bytes(word)
            };
            if address == 0 {
                continue; // reserved
            }
            let name = if number < 16 {
                exception_name(number)
            } else {
                match by_address.get(&u64::from(address & !1)).map(Vec::as_slice) {
                    Some([name]) if !name.starts_with("DefaultHandler") => (*name).to_owned(),
                    _ => exception_name(number),
                }
            };
            names.insert(number, name);
        }
        names
    }

    /// The `len` bytes at target address `address` in the firmware's loaded, read-only
    /// sections (`.text`, `.rodata`, ...): what the firmware's flash holds there. `None` when
    /// they are not all in one such section.
    pub fn read_only_bytes(&self, address: u64, len: usize) -> Option<&[u8]> {
        let end = address.checked_add(len as u64)?;
        let (range, file) = self
            .rom
            .iter()
            .find(|(range, _)| range.start <= address && end <= range.end)?;
        let from = file.start + usize::try_from(address - range.start).ok()?;
        self.data.get(from..from.checked_add(len)?)
    }

    /// The target's RAM as the ELF sees it: the allocated, writable sections (`.data`, `.bss`,
    /// `.uninit`, RTT buffers in their own sections), sorted, adjacent ones merged. Channel
    /// buffers live there, and a control block without the symbol is searched there.
    pub fn ram_ranges(&self) -> &[Range<u64>] {
        &self.ram
    }
}

fn find_symbol(file: &object::File<'_>, name: &str) -> Option<u64> {
    file.symbols()
        .chain(file.dynamic_symbols())
        .find(|symbol| !symbol.is_undefined() && symbol.name() == Ok(name))
        .map(|symbol| symbol.address())
}

/// The texts a target sends by reference, from its ELF.
impl crate::receiver::FlashSource for FirmwareElf {
    fn read_flash(&mut self, address: u64, len: usize) -> Result<Vec<u8>, String> {
        self.read_only_bytes(address, len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                format!(
                    "not in the read-only sections of {} (another build's ELF?)",
                    self.path.display()
                )
            })
    }
}

/// Whether `section` is loaded on the target (`SHF_ALLOC`) and is `writable` (`SHF_WRITE`) or
/// read-only as asked.
fn loaded(section: &object::Section<'_, '_>, writable: bool) -> bool {
    match section.flags() {
        SectionFlags::Elf { sh_flags } => {
            sh_flags & SHF_ALLOC != 0 && (sh_flags & SHF_WRITE != 0) == writable
        }
        _ => false,
    }
}

fn read_only_sections(file: &object::File<'_>) -> Vec<(Range<u64>, Range<usize>)> {
    file.sections()
        .filter(|section| loaded(section, false))
        .filter_map(|section| {
            let (offset, size) = section.file_range()?;
            let start = usize::try_from(offset).ok()?;
            let file = start..start.checked_add(usize::try_from(size).ok()?)?;
            Some((section.address()..section.address() + size, file))
        })
        .collect()
}

fn writable_ranges(file: &object::File<'_>) -> Vec<Range<u64>> {
    let mut ranges: Vec<Range<u64>> = file
        .sections()
        .filter(|section| loaded(section, true))
        .filter(|section| section.size() > 0)
        .map(|section| section.address()..section.address() + section.size())
        .collect();
    ranges.sort_by_key(|range| range.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// The architectural names of the Cortex-M exceptions 2 to 15 (`None`: reserved).
const EXCEPTIONS: [Option<&str>; 16] = [
    None,
    None,
    Some("NMI"),
    Some("HardFault"),
    Some("MemoryManagement"),
    Some("BusFault"),
    Some("UsageFault"),
    Some("SecureFault"),
    None,
    None,
    None,
    Some("SVCall"),
    Some("DebugMonitor"),
    None,
    Some("PendSV"),
    Some("SysTick"),
];

/// The name of Cortex-M exception `number` (2 to 15: the architecture's; 16 and up:
/// `IRQ<n>`, the device interrupt `n = number - 16`), without the firmware's ELF.
pub fn exception_name(number: u16) -> String {
    match EXCEPTIONS.get(usize::from(number)).copied().flatten() {
        Some(name) => name.to_owned(),
        None if number >= 16 => format!("IRQ{}", number - 16),
        None => format!("exception {number}"),
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // one RAM range is meant
pub(crate) mod tests {
    use super::*;

    /// A minimal 32-bit little-endian ARM ELF with `.text`, `.data`, `.bss` and the given
    /// symbols, written by hand so the tests need no toolchain.
    pub(crate) fn tiny_elf(symbols: &[(&str, u32)]) -> Vec<u8> {
        // Sections: null, .text, .data, .bss, .symtab, .strtab, .shstrtab
        let shstrtab = b"\0.text\0.data\0.bss\0.symtab\0.strtab\0.shstrtab\0";
        let name_at = |name: &str| -> u32 {
            let needle = format!("{name}\0");
            shstrtab
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .unwrap() as u32
        };
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 16]; // the null symbol
        for (name, value) in symbols {
            let offset = strtab.len() as u32;
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
            symtab.extend_from_slice(&offset.to_le_bytes()); // st_name
            symtab.extend_from_slice(&value.to_le_bytes()); // st_value
            symtab.extend_from_slice(&64u32.to_le_bytes()); // st_size
            symtab.push(0x11); // STB_GLOBAL, STT_OBJECT
            symtab.push(0); // st_other
            symtab.extend_from_slice(&3u16.to_le_bytes()); // st_shndx: .bss
        }
        let text = [0u8; 16];
        let data = [1u8; 8];

        let mut file = vec![0u8; 52];
        let text_off = file.len();
        file.extend_from_slice(&text);
        let data_off = file.len();
        file.extend_from_slice(&data);
        let symtab_off = file.len();
        file.extend_from_slice(&symtab);
        let strtab_off = file.len();
        file.extend_from_slice(&strtab);
        let shstrtab_off = file.len();
        file.extend_from_slice(shstrtab);
        while !file.len().is_multiple_of(4) {
            file.push(0);
        }
        let shoff = file.len();
        #[allow(clippy::too_many_arguments)]
        fn section(
            out: &mut Vec<u8>,
            name: u32,
            kind: u32,
            flags: u32,
            addr: u32,
            offset: usize,
            size: usize,
            link: u32,
            entsize: u32,
        ) {
            for word in [
                name,
                kind,
                flags,
                addr,
                offset as u32,
                size as u32,
                link,
                if kind == 2 { 1 } else { 0 }, // sh_info: first global symbol
                4,
                entsize,
            ] {
                out.extend_from_slice(&word.to_le_bytes());
            }
        }
        section(&mut file, 0, 0, 0, 0, 0, 0, 0, 0);
        section(&mut file, name_at(".text"), 1, 0x6, 0x0, text_off, 16, 0, 0);
        section(
            &mut file,
            name_at(".data"),
            1,
            0x3,
            0x2000_0000,
            data_off,
            8,
            0,
            0,
        );
        section(
            &mut file,
            name_at(".bss"),
            8,
            0x3,
            0x2000_0008,
            0,
            0x400,
            0,
            0,
        );
        section(
            &mut file,
            name_at(".symtab"),
            2,
            0,
            0,
            symtab_off,
            symtab.len(),
            5,
            16,
        );
        section(
            &mut file,
            name_at(".strtab"),
            3,
            0,
            0,
            strtab_off,
            strtab.len(),
            0,
            0,
        );
        section(
            &mut file,
            name_at(".shstrtab"),
            3,
            0,
            0,
            shstrtab_off,
            shstrtab.len(),
            0,
            0,
        );

        let header = &mut file[..52];
        header[..4].copy_from_slice(b"\x7fELF");
        header[4] = 1; // ELFCLASS32
        header[5] = 1; // little-endian
        header[6] = 1; // EV_CURRENT
        header[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        header[18..20].copy_from_slice(&40u16.to_le_bytes()); // EM_ARM
        header[20..24].copy_from_slice(&1u32.to_le_bytes());
        header[32..36].copy_from_slice(&(shoff as u32).to_le_bytes());
        header[40..42].copy_from_slice(&52u16.to_le_bytes()); // e_ehsize
        header[46..48].copy_from_slice(&40u16.to_le_bytes()); // e_shentsize
        header[48..50].copy_from_slice(&7u16.to_le_bytes()); // e_shnum
        header[50..52].copy_from_slice(&6u16.to_le_bytes()); // e_shstrndx
        file
    }

    #[test]
    fn finds_the_rtt_symbol_and_the_ram() {
        let elf = FirmwareElf::parse(tiny_elf(&[
            ("other", 0x2000_0100),
            (RTT_SYMBOL, 0x2000_0040),
        ]))
        .unwrap();
        assert_eq!(elf.rtt_control_block(), Some(0x2000_0040));
        assert_eq!(elf.require_rtt_control_block().unwrap(), 0x2000_0040);
        assert_eq!(elf.symbol("other"), Some(0x2000_0100));
        assert_eq!(elf.symbol("absent"), None);
        // .data and .bss are adjacent: one range; .text is not writable.
        assert_eq!(elf.ram_ranges(), &[0x2000_0000..0x2000_0408]);
    }

    #[test]
    fn a_missing_symbol_says_what_to_do() {
        let elf = FirmwareElf::parse(tiny_elf(&[("main", 0x100)])).unwrap();
        assert_eq!(elf.rtt_control_block(), None);
        let message = elf.require_rtt_control_block().unwrap_err().to_string();
        assert!(message.contains("_SEGGER_RTT"), "{message}");
        assert!(message.contains("stripped"), "{message}");
    }

    #[test]
    fn garbage_and_missing_files_are_clear_errors() {
        let error = FirmwareElf::parse(b"not an elf at all".to_vec()).unwrap_err();
        assert!(matches!(error, ElfError::Parse { .. }), "{error}");
        assert!(error.to_string().contains("not a firmware ELF"), "{error}");
        let error = FirmwareElf::read("/nonexistent/firmware.elf").unwrap_err();
        assert!(matches!(error, ElfError::Io { .. }));
        assert!(
            error.to_string().contains("/nonexistent/firmware.elf"),
            "{error}"
        );
    }
}
