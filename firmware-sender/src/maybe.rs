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
    /// `*self = Maybe::Some(value)`, written in place: the value goes straight to its field
    /// (an assignment builds the enum on the stack first and copies it with `memcpy`, padding
    /// included).
    pub(crate) fn set(&mut self, value: T) {
        /// `Maybe::Some`'s layout: `repr(u8)` lays an enum out as a union of `repr(C)` structs,
        /// each its tag and then its fields (RFC 2195).
        #[repr(C)]
        struct Some<T> {
            tag: u8,
            value: T,
        }
        // Drops a value held before.
        *self = Maybe::None;
        let some = (self as *mut Self).cast::<Some<T>>();
        // SAFETY: `some` points to `self`, which has `Some<T>`'s layout when it holds a value
        // (above); the value is written first, then the tag of `Maybe::Some` (1: `None` is 0),
        // so `self` is a valid `Maybe` after the two writes.
        unsafe {
            core::ptr::addr_of_mut!((*some).value).write(value);
            core::ptr::addr_of_mut!((*some).tag).write(1);
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_in_place_is_an_assignment() {
        let mut m: Maybe<(u8, u64, &str)> = Maybe::None;
        m.set((7, 1 << 40, "fw"));
        assert!(matches!(m, Maybe::Some((7, v, "fw")) if v == 1 << 40));
        m.set((8, 2, "again"));
        assert!(matches!(m, Maybe::Some((8, 2, "again"))));
        let mut n: Maybe<u8> = Maybe::None;
        n.set(3);
        assert_eq!(n.take(), Some(3));
        assert!(n.is_none());
    }
}
