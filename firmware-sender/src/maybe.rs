//! An `Option` whose `None` is a zero tag, so a `static` holding it stays in `.bss`.
//!
//! `Option<T>` stores `None` in a niche of `T` when it has one, and the niche is often not
//! zero (a `bool` or an enum field gets the value 2 or 3): the whole static then lands in
//! `.data`, and its initial image, kilobytes of zeros, in flash. `repr(u8)` turns niches
//! off and fixes the tag: `None` is 0.

/// `Option<T>` with a zero `None`.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub(crate) enum Maybe<T> {
    None = 0,
    Some(T),
}

impl<T> Maybe<T> {
    pub(crate) fn as_ref(&self) -> Option<&T> {
        match self {
            Maybe::None => None,
            Maybe::Some(t) => Some(t),
        }
    }

    pub(crate) fn as_mut(&mut self) -> Option<&mut T> {
        match self {
            Maybe::None => None,
            Maybe::Some(t) => Some(t),
        }
    }

    pub(crate) fn take(&mut self) -> Option<T> {
        match core::mem::replace(self, Maybe::None) {
            Maybe::None => None,
            Maybe::Some(t) => Some(t),
        }
    }

    pub(crate) fn is_some(&self) -> bool {
        matches!(self, Maybe::Some(_))
    }

    pub(crate) fn is_none(&self) -> bool {
        !self.is_some()
    }
}
