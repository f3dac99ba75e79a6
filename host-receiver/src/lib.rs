//! The host side of rtt-tunnel (being built: see issues 4 and 5).
