//! End-to-end tests of rtt-tunnel (being built: see issue 5).
