//! `#[instrument]` functions: arguments of several types, `skip`, `fields`, a custom name,
//! target and level, `ret`, `err`, and recursion (nested spans of one call site).

use core::fmt;

use tracing::{info, instrument};

use crate::sync;

/// A point, recorded by `Debug`.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    x: i32,
    y: i32,
}

/// A parse error, recorded by `Display`.
#[derive(Debug)]
pub struct ParseError {
    at: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a digit at byte {}", self.at)
    }
}

impl core::error::Error for ParseError {}

#[instrument]
fn add(a: u32, b: i64) -> i64 {
    i64::from(a) + b
}

#[instrument(level = "debug", fields(extra = 7), ret)]
fn scale(value: f64, label: &str) -> f64 {
    value * 2.5
}

#[instrument(skip(buf), fields(len = buf.len()))]
fn checksum(buf: &[u8]) -> u8 {
    buf.iter().fold(0u8, |sum, b| sum.wrapping_add(*b))
}

#[instrument(err)]
fn parse(text: &str) -> Result<u32, ParseError> {
    let mut n = 0u32;
    for (at, c) in text.bytes().enumerate() {
        if !c.is_ascii_digit() {
            return Err(ParseError { at });
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Ok(n)
}

#[instrument(name = "renamed", target = "scenarios::custom", level = "warn")]
fn named(point: Point, flag: bool) {
    info!(sum = point.x + point.y, "inside the renamed span");
}

#[instrument(level = "trace", ret)]
fn fib(n: u32) -> u32 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

pub fn run() {
    let sum = add(3, -10);
    info!(sum, "added");
    scale(1.5, "half");
    sync();
    let check = checksum(b"rtt-tunnel");
    info!(check, "checksummed");
    let good = parse("1234").ok();
    let bad = parse("12x4").is_err();
    info!(good, bad, "parsed");
    sync();
    named(Point { x: 3, y: -4 }, true);
    sync();
    let f = fib(3);
    info!(f, "fib");
    sync();
}
