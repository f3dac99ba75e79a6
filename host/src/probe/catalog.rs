//! What is there to attach to: the probes plugged in, the chips probe-rs knows, and the
//! choice of one probe.

use std::fmt;

use probe_rs::config::Registry;
use probe_rs::probe::list::{Accessibility, Lister, ProbeListItem};
use probe_rs::Target;

use super::error::{chip_error, ProbeError};
use super::options::ProbeSelector;

/// A debug probe plugged into this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedProbe {
    /// Its name (`J-Link`, `STLink V2-1`, `CMSIS-DAP`...).
    pub name: String,
    /// The driver probe-rs uses for it.
    pub kind: String,
    /// What picks exactly this probe ([`ProbeOptions::probe`](super::ProbeOptions)).
    pub selector: ProbeSelector,
    /// Whether this user may open its USB device (on Linux: its udev rules); `false` means
    /// [`ProbeError::PermissionDenied`] when it is used.
    pub accessible: bool,
}

impl ListedProbe {
    fn from_item(item: &ProbeListItem) -> Self {
        ListedProbe {
            name: item.info.identifier.clone(),
            kind: item.info.probe_type(),
            selector: ProbeSelector::from(&item.info),
            accessible: item.accessibility == Accessibility::Accessible,
        }
    }

    /// `name (SELECTOR)`, one per probe, comma-separated; `none` for none.
    pub(crate) fn summary(probes: &[ListedProbe]) -> String {
        if probes.is_empty() {
            return "none".into();
        }
        probes
            .iter()
            .map(|p| format!("{} ({})", p.name, p.selector))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ListedProbe {
    /// `SELECTOR  NAME [KIND]`, and a note when this user may not open it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  {} [{}]", self.selector, self.name, self.kind)?;
        if !self.accessible {
            write!(
                f,
                "  (no permission to open it: see {})",
                super::error::PROBE_SETUP_URL
            )?;
        }
        Ok(())
    }
}

/// The debug probes plugged into this host, . Probes this user may not
/// open are listed too, marked (`accessible: false`).
pub fn list_probes() -> Vec<ListedProbe> {
    Lister::new()
        .list_all_with_access()
        .iter()
        .map(ListedProbe::from_item)
        .collect()
}

/// Picks the probe to open among `found`: the one `wanted` matches, or the only one there is.
/// Several candidates, none, or one this user may not open are errors that say what to do.
pub fn choose_probe<'a>(
    found: &'a [ListedProbe],
    wanted: Option<&ProbeSelector>,
) -> Result<&'a ListedProbe, ProbeError> {
    let candidates: Vec<&ListedProbe> = match wanted {
        Some(wanted) => found
            .iter()
            .filter(|p| wanted.matches(&p.selector))
            .collect(),
        None => found.iter().collect(),
    };
    let chosen = match (candidates.as_slice(), wanted) {
        ([], None) => return Err(ProbeError::NoProbe),
        ([], Some(wanted)) => {
            return Err(ProbeError::NoMatchingProbe {
                wanted: wanted.clone(),
                found: found.to_vec(),
            })
        }
        ([one], _) => *one,
        (several, _) => {
            return Err(ProbeError::SeveralProbes {
                probes: several.iter().map(|p| (*p).clone()).collect(),
            })
        }
    };
    if !chosen.accessible {
        return Err(ProbeError::PermissionDenied {
            probe: format!("{} ({})", chosen.name, chosen.selector),
        });
    }
    Ok(chosen)
}

/// A chip family of probe-rs's built-in targets, with the chip names of it that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipFamily {
    /// The family (`nRF52840`, `STM32F4 Series`...).
    pub family: String,
    /// Chip names [`ProbeOptions::new`](super::ProbeOptions::new) takes.
    pub chips: Vec<String>,
}

/// The chips probe-rs knows whose name contains `filter`, ignoring case, by family, for
/// A filter that is part of a family's name lists the whole
/// family; an empty filter lists everything.
///
/// ```
/// let found = rtt_tunnel_host::probe::chips("nrf52840");
/// assert!(found.iter().any(|f| f.chips.iter().any(|c| c == "nRF52840_xxAA")));
/// ```
pub fn chips(filter: &str) -> Vec<ChipFamily> {
    let registry = Registry::from_builtin_families();
    let filter = filter.trim().to_lowercase();
    let mut found = Vec::new();
    for family in registry.families() {
        let whole = family.name.to_lowercase().contains(&filter);
        let mut chips: Vec<String> = Vec::new();
        for chip in &family.variants {
            for name in chip.package_variants() {
                if (whole || name.to_lowercase().contains(&filter)) && !chips.contains(name) {
                    chips.push(name.clone());
                }
            }
        }
        if !chips.is_empty() {
            found.push(ChipFamily {
                family: family.name.clone(),
                chips,
            });
        }
    }
    found
}

/// Looks `chip` up in `registry`, as opening a probe does: the exact name, or the one name it is the
/// start of.
pub(crate) fn resolve_chip(registry: &Registry, chip: &str) -> Result<Target, ProbeError> {
    registry.get_target_by_name(chip).map_err(|error| {
        chip_error(&error, chip).unwrap_or(ProbeError::Probe {
            during: "looking the chip up",
            source: Box::new(probe_rs::Error::ChipNotFound(error)),
        })
    })
}
