//! The firmware side of rtt-tunnel (being built: see issue 3).
#![no_std]
