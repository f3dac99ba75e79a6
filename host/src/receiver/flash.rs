//! Texts the target sends by reference: a call-site constant that lies in the firmware's flash
//! (`info!("ready")`, a static `&str`) arrives as its offset from the start of flash and its
//! length (the protocol's `Value::FlashText`); the `Hello` says where flash starts.
//!
//! The receiver turns a reference into its text once and keeps it: from the texts a capture
//! recorded ([`Receiver::preload_flash_text`](super::Receiver::preload_flash_text)), from its
//! [`FlashSource`] (the firmware's ELF: [`FirmwareElf`](crate::elf::FirmwareElf)), or from the
//! source lent for one frame ([`Receiver::try_receive_with`](super::Receiver::try_receive_with):
//! the target's memory, [`MemoryFlash`](crate::memory::MemoryFlash)). A text resolved
//! this way is handed to a capture ([`Receiver::take_new_flash_texts`](super::Receiver::take_new_flash_texts)),
//! so that a replay needs neither the target nor the ELF. A reference none of them resolves
//! is shown as a placeholder that says why (`<flash text +0x1c4, 5 bytes: no ELF>`) and
//! counted; so is one whose bytes are not UTF-8.

use std::collections::HashMap;

/// Where a receiver reads the bytes of a text the target sent by reference.
pub trait FlashSource {
    /// The `len` bytes at target address `address`, or why they cannot be had (a sentence
    /// fragment for the placeholder: `not in the ELF's read-only sections`).
    fn read_flash(&mut self, address: u64, len: usize) -> Result<Vec<u8>, String>;
}

/// The most flash the receiver copies from a lent source at once (see [`FlashTexts::image`]).
const MAX_IMAGE: u32 = 1 << 20;

/// What the receiver knows of the target's flash texts.
#[derive(Default)]
pub(crate) struct FlashTexts {
    /// The `Hello`'s flash base (`None` until a `Hello` came).
    base: Option<u32>,
    /// The `Hello`'s flash length.
    len: u32,
    /// All of the flash the `Hello` named, read at once from a lent source (target memory)
    /// for the first reference that needed it: the texts of later references are then
    /// there, even after the target has gone (a program that exits right after logging).
    image: Option<Vec<u8>>,
    /// Reading the image failed: texts are read one by one.
    no_image: bool,
    /// The firmware's ELF, or another source the receiver owns.
    source: Option<Box<dyn FlashSource + Send>>,
    /// Texts resolved from a source, by address and length.
    cache: HashMap<(u64, u32), Box<str>>,
    /// Texts a capture recorded, by address and length.
    preloaded: HashMap<(u64, u32), Box<str>>,
    /// Texts resolved from a source since the last [`take_new`](Self::take_new).
    new: Vec<(u64, Box<str>)>,
    /// References shown as a placeholder.
    unresolved: u64,
}

impl std::fmt::Debug for FlashTexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlashTexts")
            .field("base", &self.base)
            .field("source", &self.source.is_some())
            .field("cache", &self.cache.len())
            .field("preloaded", &self.preloaded.len())
            .field("unresolved", &self.unresolved)
            .finish()
    }
}

impl FlashTexts {
    /// The flash of a boot's `Hello`. A firmware other than the last one's forgets the
    /// texts read from a source (`same_firmware` false).
    pub(crate) fn set_flash(&mut self, base: u32, len: u32, same_firmware: bool) {
        if !same_firmware || self.base != Some(base) || self.len != len {
            self.image = None;
            self.no_image = false;
        }
        self.base = Some(base);
        self.len = len;
        if !same_firmware {
            self.cache.clear();
        }
    }

    pub(crate) fn set_source(&mut self, source: Box<dyn FlashSource + Send>) {
        self.source = Some(source);
    }

    pub(crate) fn preload(&mut self, address: u64, text: Box<str>) {
        if let Ok(len) = u32::try_from(text.len()) {
            self.preloaded.insert((address, len), text);
        }
    }

    pub(crate) fn take_new(&mut self) -> Vec<(u64, Box<str>)> {
        std::mem::take(&mut self.new)
    }

    pub(crate) fn has_new(&self) -> bool {
        !self.new.is_empty()
    }

    pub(crate) fn unresolved(&self) -> u64 {
        self.unresolved
    }

    /// The text of the reference `offset`, `len`: from what the receiver has, else from its
    /// source or `lent`, else a placeholder that says why (counted).
    pub(crate) fn resolve(
        &mut self,
        offset: u32,
        len: u32,
        lent: Option<&mut (dyn FlashSource + '_)>,
    ) -> Box<str> {
        let Some(base) = self.base else {
            return self.placeholder(
                offset,
                len,
                "no Hello yet to say where flash starts (ask for a re-send)",
            );
        };
        let address = u64::from(base) + u64::from(offset);
        let key = (address, len);
        if let Some(text) = self.preloaded.get(&key).or_else(|| self.cache.get(&key)) {
            return text.clone();
        }
        let read = match (self.source.as_deref_mut(), lent) {
            (Some(source), _) => source.read_flash(address, len as usize),
            (None, Some(lent)) => self.read_lent(lent, base, offset, len),
            (None, None) => Err("no ELF".to_owned()),
        };
        let text = match read.map(String::from_utf8) {
            Ok(Ok(text)) => text.into_boxed_str(),
            Ok(Err(_)) => return self.placeholder(offset, len, "not UTF-8"),
            Err(why) => return self.placeholder(offset, len, &why),
        };
        self.cache.insert(key, text.clone());
        self.new.push((address, text.clone()));
        text
    }

    /// The text at `offset`, `len` from a lent source: from the image of the whole flash,
    /// read once, or by itself when there is no image.
    fn read_lent(
        &mut self,
        lent: &mut dyn FlashSource,
        base: u32,
        offset: u32,
        len: u32,
    ) -> Result<Vec<u8>, String> {
        if self.image.is_none() && !self.no_image && self.len > 0 && self.len <= MAX_IMAGE {
            match lent.read_flash(u64::from(base), self.len as usize) {
                Ok(image) => self.image = Some(image),
                Err(_) => self.no_image = true,
            }
        }
        let Some(image) = &self.image else {
            return lent.read_flash(u64::from(base) + u64::from(offset), len as usize);
        };
        let start = offset as usize;
        start
            .checked_add(len as usize)
            .and_then(|end| image.get(start..end))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("beyond the {} bytes of flash the Hello gave", self.len))
    }

    fn placeholder(&mut self, offset: u32, len: u32, why: &str) -> Box<str> {
        self.unresolved += 1;
        format!("<flash text +{offset:#x}, {len} bytes: {why}>").into_boxed_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flash of 16 bytes at 0x100.
    struct Flash(Vec<u8>, u32);

    impl FlashSource for Flash {
        fn read_flash(&mut self, address: u64, len: usize) -> Result<Vec<u8>, String> {
            self.1 += 1;
            let start = usize::try_from(address)
                .ok()
                .and_then(|a| a.checked_sub(0x100))
                .ok_or("below flash")?;
            self.0
                .get(start..start + len)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| "beyond flash".to_owned())
        }
    }

    fn flash() -> Flash {
        let mut bytes = b"readyset".to_vec();
        bytes.extend([0xff, 0xfe]);
        Flash(bytes, 0)
    }

    #[test]
    fn references_resolve_once_from_the_source_lent_and_are_handed_to_the_capture() {
        let mut texts = FlashTexts::default();
        texts.set_flash(0x100, 0, false);
        let mut source = flash();
        assert_eq!(&*texts.resolve(0, 5, Some(&mut source)), "ready");
        assert_eq!(&*texts.resolve(0, 5, Some(&mut source)), "ready");
        assert_eq!(&*texts.resolve(0, 5, None), "ready");
        assert_eq!(source.1, 1, "read once");
        assert_eq!(&*texts.resolve(5, 3, Some(&mut source)), "set");
        assert_eq!(
            texts.take_new(),
            [(0x100, "ready".into()), (0x105, "set".into())]
        );
        assert!(!texts.has_new());
        assert_eq!(texts.unresolved(), 0);
        // Another firmware: read again.
        texts.set_flash(0x100, 0, false);
        assert_eq!(&*texts.resolve(0, 5, Some(&mut source)), "ready");
        assert_eq!(source.1, 3);
    }

    #[test]
    fn a_lent_source_is_read_once_for_all_of_the_flash_the_hello_gave() {
        let mut texts = FlashTexts::default();
        texts.set_flash(0x100, 10, true);
        let mut source = flash();
        assert_eq!(&*texts.resolve(5, 3, Some(&mut source)), "set");
        assert_eq!(&*texts.resolve(0, 5, Some(&mut source)), "ready");
        assert_eq!(source.1, 1, "one read of the whole flash");
        // Then the source is gone: the image still has the texts.
        assert_eq!(
            &*texts.resolve(0, 4, None),
            "<flash text +0x0, 4 bytes: no ELF>"
        );
        assert_eq!(
            &*texts.resolve(0, 4, Some(&mut Flash(Vec::new(), 0))),
            "read"
        );
        assert_eq!(
            &*texts.resolve(8, 4, Some(&mut source)),
            "<flash text +0x8, 4 bytes: beyond the 10 bytes of flash the Hello gave>"
        );
        // A flash the source cannot read at once: text by text.
        let mut texts = FlashTexts::default();
        texts.set_flash(0x100, 64, true);
        let mut source = flash();
        assert_eq!(&*texts.resolve(0, 5, Some(&mut source)), "ready");
        assert_eq!(&*texts.resolve(5, 3, Some(&mut source)), "set");
        assert_eq!(source.1, 3, "the image, then two texts");
    }

    #[test]
    fn what_cannot_be_resolved_is_a_placeholder_that_says_why() {
        let mut texts = FlashTexts::default();
        assert_eq!(
            &*texts.resolve(0x1c4, 5, None),
            "<flash text +0x1c4, 5 bytes: no Hello yet to say where flash starts (ask for a re-send)>"
        );
        texts.set_flash(0x100, 0, false);
        assert_eq!(
            &*texts.resolve(0x1c4, 5, None),
            "<flash text +0x1c4, 5 bytes: no ELF>"
        );
        let mut source = flash();
        assert_eq!(
            &*texts.resolve(8, 2, Some(&mut source)),
            "<flash text +0x8, 2 bytes: not UTF-8>"
        );
        assert_eq!(
            &*texts.resolve(0x40, 2, Some(&mut source)),
            "<flash text +0x40, 2 bytes: beyond flash>"
        );
        assert_eq!(texts.unresolved(), 4);
        assert!(!texts.has_new());
    }

    #[test]
    fn preloaded_texts_come_first_and_an_owned_source_before_a_lent_one() {
        let mut texts = FlashTexts::default();
        texts.set_flash(0x100, 0, true);
        texts.preload(0x100, "recorded".into());
        texts.preload(0x100, "rec".into());
        assert_eq!(&*texts.resolve(0, 8, None), "recorded");
        assert_eq!(&*texts.resolve(0, 3, None), "rec");
        texts.set_source(Box::new(flash()));
        let mut lent = Flash(b"other".to_vec(), 0);
        assert_eq!(&*texts.resolve(0, 5, Some(&mut lent)), "ready");
        assert_eq!(lent.1, 0);
    }
}
