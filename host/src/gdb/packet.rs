//! The GDB remote serial protocol's packet format: `$payload#checksum`, hex, run-length
//! encoding, binary escapes, and stop replies.

use std::fmt::Write as _;

/// The modulo-256 sum of the payload bytes.
pub(crate) fn checksum(payload: &[u8]) -> u8 {
    payload.iter().fold(0u8, |sum, &b| sum.wrapping_add(b))
}

/// `$payload#cs`.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.push(b'$');
    out.extend_from_slice(payload);
    out.push(b'#');
    out.extend_from_slice(format!("{:02x}", checksum(payload)).as_bytes());
    out
}

/// Lower-case hex of `data`.
pub(crate) fn hex_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 2);
    for byte in data {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex pairs into `out` (which must be half as long); `None` on a non-hex digit.
pub(crate) fn hex_decode(hex: &[u8], out: &mut [u8]) -> Option<()> {
    if hex.len() != out.len() * 2 {
        return None;
    }
    for (pair, byte) in hex.chunks_exact(2).zip(out.iter_mut()) {
        *byte = hex_digit(pair[0])? << 4 | hex_digit(pair[1])?;
    }
    Some(())
}

/// Parses a hex number (a checksum, an exit code, a feature value).
pub(crate) fn hex_number(hex: &[u8]) -> Option<u64> {
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    hex.iter()
        .try_fold(0u64, |n, &c| Some(n << 4 | u64::from(hex_digit(c)?)))
}

/// Expands run-length encoding: `x*n` repeats `x` another `n - 29` times.
pub(crate) fn decode_rle(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len());
    let mut bytes = data.iter().copied();
    while let Some(byte) = bytes.next() {
        if byte != b'*' {
            out.push(byte);
            continue;
        }
        let &previous = out
            .last()
            .ok_or("a run-length marker '*' with nothing before it")?;
        let count = bytes.next().ok_or("a run-length marker '*' at the end")?;
        let repeat = count
            .checked_sub(29)
            .filter(|_| (32..=126).contains(&count))
            .ok_or_else(|| format!("an invalid run-length count byte {count:#04x}"))?;
        out.extend(std::iter::repeat_n(previous, usize::from(repeat)));
    }
    Ok(out)
}

/// Run-length encodes `data` as a GDB server may (never producing `#`, `$` or bytes above
/// 126 as counts). Used by the fake server of the tests.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn encode_rle(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        let byte = data[i];
        let mut run = 1;
        while i + run < data.len() && data[i + run] == byte {
            run += 1;
        }
        out.push(byte);
        let mut rest = run - 1;
        while rest > 0 {
            if rest < 3 {
                out.extend(std::iter::repeat_n(byte, rest));
                break;
            }
            let mut n = rest.min(97);
            if n == 6 || n == 7 {
                n = 5; // '#' and '$' are not allowed as counts
            }
            out.push(b'*');
            out.push(n as u8 + 29);
            rest -= n;
        }
        i += run;
    }
    out
}

/// Escapes binary data for an `X` packet: `#`, `$`, `}` and `*` become `}` and the byte
/// xor 0x20.
pub(crate) fn escape_binary(data: &[u8], out: &mut Vec<u8>) {
    for &byte in data {
        if matches!(byte, b'#' | b'$' | b'}' | b'*') {
            out.push(b'}');
            out.push(byte ^ 0x20);
        } else {
            out.push(byte);
        }
    }
}

/// Undoes [`escape_binary`] (the fake server of the tests reads `X` packets with it).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn unescape_binary(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut bytes = data.iter().copied();
    while let Some(byte) = bytes.next() {
        if byte == b'}' {
            out.push(bytes.next()? ^ 0x20);
        } else {
            out.push(byte);
        }
    }
    Some(out)
}

/// Why the target stopped, from a stop reply packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReply {
    /// `S`/`T`: the target stopped with this signal (2: SIGINT, our interrupt; 5: SIGTRAP, a
    /// breakpoint or fault).
    Signal(u8),
    /// `W`: the program exited with this code.
    Exited(u8),
    /// `X`: the program was terminated by this signal.
    Terminated(u8),
}

/// SIGINT: the target stopped because we interrupted it.
pub const SIGINT: u8 = 2;

/// Parses a stop reply (`S05`, `T02thread:01;`, `W00`, `X09;process:1`).
pub(crate) fn parse_stop_reply(packet: &[u8]) -> Option<StopReply> {
    if packet.len() < 3 {
        return None;
    }
    let code = hex_number(&packet[1..3])? as u8;
    let rest = &packet[3..];
    match packet[0] {
        b'S' if rest.is_empty() => Some(StopReply::Signal(code)),
        b'T' => Some(StopReply::Signal(code)),
        b'W' if rest.is_empty() || rest[0] == b';' => Some(StopReply::Exited(code)),
        b'X' if rest.is_empty() || rest[0] == b';' => Some(StopReply::Terminated(code)),
        _ => None,
    }
}

/// Whether `packet` is console output (`O` and hex, not `OK`).
pub(crate) fn is_console_output(packet: &[u8]) -> bool {
    packet.len() > 1
        && packet[0] == b'O'
        && packet.len() % 2 == 1
        && packet[1..].iter().all(|&c| hex_digit(c).is_some())
}

/// A printable, bounded rendering of a packet for error messages.
pub(crate) fn show(packet: &[u8]) -> String {
    const MAX: usize = 48;
    let text: String = packet
        .iter()
        .take(MAX)
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    if packet.len() > MAX {
        format!("{text}... ({} bytes)", packet.len())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frames_with_checksum() {
        assert_eq!(frame(b"qSupported"), b"$qSupported#37");
        assert_eq!(frame(b""), b"$#00");
        assert_eq!(frame(b"m0,4"), b"$m0,4#fd");
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        assert_eq!(hex_encode(&[0x00, 0xab, 0x7f]), "00ab7f");
        let mut out = [0; 3];
        hex_decode(b"00AB7f", &mut out).unwrap();
        assert_eq!(out, [0x00, 0xab, 0x7f]);
        assert!(hex_decode(b"0g", &mut [0]).is_none());
        assert!(hex_decode(b"000", &mut [0]).is_none());
        assert_eq!(hex_number(b"1000"), Some(0x1000));
        assert_eq!(hex_number(b""), None);
        assert_eq!(hex_number(b"xyz"), None);
    }

    #[test]
    fn rle_examples() {
        // "0* " is '0' and 3 more: the protocol documentation's example.
        assert_eq!(decode_rle(b"0* ").unwrap(), b"0000");
        assert_eq!(decode_rle(b"ab*\"c").unwrap(), b"abbbbbbc");
        assert!(decode_rle(b"*a").is_err());
        assert!(decode_rle(b"a*").is_err());
        assert!(decode_rle(b"a*\x10").is_err());
        let encoded = encode_rle(&[b'0'; 12]);
        assert!(!encoded.contains(&b'#') && !encoded.contains(&b'$'));
        assert_eq!(decode_rle(&encoded).unwrap(), [b'0'; 12]);
    }

    proptest! {
        #[test]
        fn rle_round_trips(data in prop::collection::vec(prop::sample::select(b"0f#$*}a".to_vec()), 0..300)) {
            let plain: Vec<u8> = data.iter().copied().filter(|&b| b != b'*').collect();
            let encoded = encode_rle(&plain);
            prop_assert_eq!(decode_rle(&encoded).unwrap(), plain);
        }

        #[test]
        fn binary_escapes_round_trip(data in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut escaped = Vec::new();
            escape_binary(&data, &mut escaped);
            prop_assert!(!escaped.contains(&b'#') && !escaped.contains(&b'$'));
            prop_assert_eq!(unescape_binary(&escaped).unwrap(), data);
        }
    }

    #[test]
    fn stop_replies() {
        assert_eq!(parse_stop_reply(b"S05"), Some(StopReply::Signal(5)));
        assert_eq!(
            parse_stop_reply(b"T02thread:p01.01;"),
            Some(StopReply::Signal(2))
        );
        assert_eq!(parse_stop_reply(b"W00"), Some(StopReply::Exited(0)));
        assert_eq!(
            parse_stop_reply(b"W01;process:1"),
            Some(StopReply::Exited(1))
        );
        assert_eq!(parse_stop_reply(b"X09"), Some(StopReply::Terminated(9)));
        assert_eq!(parse_stop_reply(b"OK"), None);
        assert_eq!(parse_stop_reply(b"E14"), None);
        assert_eq!(parse_stop_reply(b"S05x"), None);
        assert!(is_console_output(b"O48690a"));
        assert!(!is_console_output(b"OK"));
    }

    #[test]
    fn show_is_bounded_and_printable() {
        assert_eq!(show(b"E14"), "E14");
        assert_eq!(show(b"\x01z"), "\\x01z");
        assert!(show(&[b'a'; 100]).ends_with("... (100 bytes)"));
    }
}
