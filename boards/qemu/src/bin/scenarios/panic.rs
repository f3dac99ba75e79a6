//! A panic inside entered spans: the panic handler (qemu-boards) reports it through the tunnel,
//! waits for the host to read it, and exits with failure.

use tracing::{debug_span, info, info_span};

use crate::sync;

pub fn run() {
    let _doomed = info_span!("doomed", attempt = 1u32).entered();
    let _deeper = debug_span!("deeper").entered();
    info!("about to panic");
    sync();
    let readings = [1u8, 2, 3];
    let index = readings.len() as u32;
    panic!("sensor {} returned garbage: {:?}", index, readings);
}
