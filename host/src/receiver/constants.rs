//! Call-site constants: text the target sends once per call site and field (a constant
//! message such as `info!("ready")`, a static `&str`), in full or by reference to its flash,
//! then as a one-byte marker.

use std::collections::HashMap;

use rtt_tunnel_protocol::{CallsiteId, Value, Values};

use super::flash::{FlashSource, FlashTexts};

/// Shown for a marker whose constant never arrived (the host attached after it went out, and
/// the target has not re-sent it yet).
pub(crate) const MISSING_CONSTANT: &str = "<constant sent before the host attached>";

/// The constants the target sent, by call site and field.
#[derive(Debug, Default)]
pub(crate) struct Constants {
    texts: HashMap<(CallsiteId, u8), Box<str>>,
}

impl Constants {
    /// Keeps the constants among `values` of call site `id`; the texts of references come
    /// from `flash` (or `lent`).
    pub(crate) fn learn(
        &mut self,
        id: CallsiteId,
        values: Values<'_>,
        flash: &mut FlashTexts,
        mut lent: Option<&mut dyn FlashSource>,
    ) {
        for v in values.try_iter() {
            let Ok(v) = v else { break };
            let text = match v.value {
                Value::Constant(text) => text.into(),
                Value::FlashText { offset, len } => {
                    let lent = lent
                        .as_mut()
                        .map(|lent| &mut **lent as &mut dyn FlashSource);
                    flash.resolve(offset, len, lent)
                }
                _ => continue,
            };
            self.texts.insert((id, v.field), text);
        }
    }

    /// The text a marker of field `field` at call site `id` stands for.
    pub(crate) fn get(&self, id: CallsiteId, field: u8) -> &str {
        self.texts
            .get(&(id, field))
            .map_or(MISSING_CONSTANT, |text| text)
    }

    /// Forgets the constants of call site `id` (it was announced again: the target forgot
    /// them too).
    pub(crate) fn forget(&mut self, id: CallsiteId) {
        self.texts.retain(|&(callsite, _), _| callsite != id);
    }

    /// Forgets everything (a new boot).
    pub(crate) fn clear(&mut self) {
        self.texts.clear();
    }
}

#[cfg(test)]
mod tests {
    use rtt_tunnel_protocol::ValuesWriter;

    use super::*;

    fn values(buf: &mut [u8], vals: &[(u8, Value<'_>)]) -> usize {
        let mut w = ValuesWriter::new(buf);
        for (field, value) in vals {
            w.push(*field, *value).unwrap();
        }
        w.len()
    }

    #[test]
    fn markers_resolve_to_the_last_constant_of_their_call_site_and_field() {
        let mut constants = Constants::default();
        let mut flash = FlashTexts::default();
        let (a, b) = (CallsiteId(1), CallsiteId(2));
        let mut buf = [0u8; 64];
        let n = values(
            &mut buf,
            &[(0, Value::Constant("ready")), (1, Value::Str("x"))],
        );
        constants.learn(a, Values::decode(&buf[..n]).unwrap(), &mut flash, None);
        assert_eq!(constants.get(a, 0), "ready");
        assert_eq!(constants.get(a, 1), MISSING_CONSTANT);
        assert_eq!(constants.get(b, 0), MISSING_CONSTANT);
        let n = values(&mut buf, &[(0, Value::Constant("set"))]);
        constants.learn(a, Values::decode(&buf[..n]).unwrap(), &mut flash, None);
        assert_eq!(constants.get(a, 0), "set");
        constants.forget(a);
        assert_eq!(constants.get(a, 0), MISSING_CONSTANT);
        constants.learn(b, Values::decode(&buf[..n]).unwrap(), &mut flash, None);
        constants.clear();
        assert_eq!(constants.get(b, 0), MISSING_CONSTANT);
    }
}
