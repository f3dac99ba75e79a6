//! Captures cut or forged (issue 12): what a replay says about each.

mod receiver_support;

use receiver_support::*;
use rtt_tunnel_host::capture::{
    replay, CaptureError, CaptureReader, CaptureWriter, FORMAT_VERSION,
};
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_protocol::{Frame, PROTOCOL_VERSION};

fn header() -> Vec<u8> {
    let mut file = b"RTTTCAPT".to_vec();
    file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    file
}

#[test]
fn a_capture_cut_inside_its_header_says_so() {
    for len in [3, 8, 11] {
        let file = &header()[..len];
        let error = CaptureReader::new(file).unwrap_err();
        assert!(
            matches!(error, CaptureError::TruncatedHeader { len: l, .. } if l == len),
            "{len}: {error}"
        );
        let message = error.to_string();
        assert!(
            message.contains(&format!("ends after {len} bytes")),
            "{message}"
        );
        assert!(message.contains("12-byte header"), "{message}");
        assert!(!message.contains("middle of a record"), "{message}");
    }
    // Not a capture at all is still said so.
    let error = CaptureReader::new(&b"RTX"[..]).unwrap_err();
    assert!(matches!(error, CaptureError::NotACapture { .. }), "{error}");
}

#[test]
fn a_record_claiming_64_mib_with_3_bytes_present_is_corrupt_not_cut() {
    let mut file = header();
    file.push(0);
    file.extend_from_slice(&(64u32 << 20).to_le_bytes());
    file.extend_from_slice(b"abc");
    let log = with_capture(|| {
        let mut reader = CaptureReader::new(&file[..]).unwrap();
        let mut rx = Receiver::default();
        let error = replay(&mut reader, &mut rx).unwrap_err();
        assert!(
            matches!(error, CaptureError::Corrupt { offset: 12, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("67108864 bytes"), "{error}");
    });
    assert!(receiver_warnings(&log).is_empty());

    // A record cut short that claims what a ring can hold is a cut file, and memory follows
    // what is there, not the claim (the whole claim would be 16 MiB).
    let mut file = header();
    file.push(0);
    file.extend_from_slice(&(16u32 << 20).to_le_bytes());
    file.extend_from_slice(b"abc");
    let mut reader = CaptureReader::new(&file[..]).unwrap();
    let error = reader.next_record().unwrap_err();
    assert!(
        matches!(error, CaptureError::Truncated { offset: 12, .. }),
        "{error}"
    );
}

#[test]
fn a_trailing_partial_frame_is_counted_and_reported() {
    // A whole frame, then 1 MiB without a delimiter.
    let mut data = Vec::new();
    let mut buf = [0u8; 64];
    let n = Frame {
        dt: 0,
        exception: 0,
        message: hello(1, FIRMWARE),
    }
    .encode(&mut buf)
    .unwrap();
    data.extend_from_slice(&buf[..n]);
    data.extend(std::iter::repeat_n(0x55, 1 << 20));
    let mut writer = CaptureWriter::new(Vec::new()).unwrap();
    writer.write_data(&data).unwrap();
    let file = writer.into_inner();

    let mut stats = None;
    let log = with_capture(|| {
        let mut reader = CaptureReader::new(&file[..]).unwrap();
        let mut rx = Receiver::default();
        stats = Some(replay(&mut reader, &mut rx).unwrap());
    });
    let stats = stats.unwrap();
    assert_eq!((stats.frames, stats.frame_errors), (1, 1), "{stats}");
    assert_eq!(stats.trailing_bytes, 1 << 20);
    assert!(
        stats
            .to_string()
            .contains("the stream ended in the middle of a frame (1048576 bytes)"),
        "{stats}"
    );
    let warnings = receiver_warnings(&log);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("ended in the middle of a frame"),
        "{warnings:?}"
    );

    // A stream that ends between frames reports nothing.
    let mut writer = CaptureWriter::new(Vec::new()).unwrap();
    writer.write_data(&buf[..n]).unwrap();
    let file = writer.into_inner();
    with_capture(|| {
        let mut reader = CaptureReader::new(&file[..]).unwrap();
        let stats = replay(&mut reader, &mut Receiver::default()).unwrap();
        assert_eq!(
            (stats.frame_errors, stats.trailing_bytes),
            (0, 0),
            "{stats}"
        );
    });
}
