//! The engine's decisions carried to the kernel's ban table
//! (`rampart_sys::banset`, table `inet rampart-guard`): [`changes`] turns
//! a batch of [`Action`]s into the elements to remove and add (in order:
//! a ban then an unban of the same network ends removed); [`Kernel`] sends
//! them as one transaction. Dry-run actions are never sent.

use rampart_guard::{Action, ActiveBan, Net, Timestamp, FOREVER};
use rampart_sys::banset::{BanElem, BanTable};

/// Milliseconds left of a ban ending at `until` (seconds) at `now_ms`.
fn left_ms(until: Timestamp, now_ms: u64) -> Option<u64> {
    (until != FOREVER).then(|| until.saturating_mul(1000).saturating_sub(now_ms).max(1))
}

fn elem(net: &Net, until: Timestamp, now_ms: u64) -> BanElem {
    BanElem {
        addr: net.addr(),
        len: net.prefix_len(),
        timeout_ms: left_ms(until, now_ms),
    }
}

/// The kernel changes of `actions`: `(remove, add)`.
pub fn changes(actions: &[Action], now_ms: u64) -> (Vec<(std::net::IpAddr, u8)>, Vec<BanElem>) {
    let mut del: Vec<(std::net::IpAddr, u8)> = Vec::new();
    let mut add: Vec<BanElem> = Vec::new();
    for a in actions {
        match a {
            Action::Ban(b) if !b.dry_run => {
                let e = elem(&b.net, b.until, now_ms);
                add.retain(|x| (x.addr, x.len) != (e.addr, e.len));
                add.push(e);
            }
            Action::Unban(u) if !u.dry_run => {
                let k = (u.net.addr(), u.net.prefix_len());
                add.retain(|x| (x.addr, x.len) != k);
                del.push(k);
            }
            _ => {}
        }
    }
    (del, add)
}

/// The kernel elements of the engine's active bans (each part of a ban
/// split around whitelisted addresses is its own element).
pub fn elements_of(active: impl Iterator<Item = ActiveBan>, now_ms: u64) -> Vec<BanElem> {
    let mut out = Vec::new();
    for b in active {
        if b.parts.is_empty() {
            out.push(elem(&b.net, b.until, now_ms));
        } else {
            out.extend(b.parts.iter().map(|p| elem(p, b.until, now_ms)));
        }
    }
    out
}

/// The ban table of the current network namespace.
#[derive(Debug)]
pub struct Kernel {
    table: BanTable,
}

impl Kernel {
    /// Opens the netlink socket and (re)creates the table holding
    /// exactly `bans`, in one transaction.
    pub fn create(bans: &[BanElem]) -> Result<Kernel, crate::Error> {
        let mut table = BanTable::open().map_err(|e| crate::Error::Kernel(e.to_string()))?;
        table
            .create(bans)
            .map_err(|e| crate::Error::Kernel(e.to_string()))?;
        Ok(Kernel { table })
    }

    /// Re-creates the table with exactly `bans` (after an error).
    pub fn refresh(&mut self, bans: &[BanElem]) -> Result<(), crate::Error> {
        self.table
            .create(bans)
            .map_err(|e| crate::Error::Kernel(e.to_string()))
    }

    /// Applies the kernel changes of `actions` in one transaction.
    pub fn apply(&mut self, actions: &[Action], now_ms: u64) -> Result<usize, crate::Error> {
        let (del, add) = changes(actions, now_ms);
        if del.is_empty() && add.is_empty() {
            return Ok(0);
        }
        self.table
            .change(&del, &add)
            .map_err(|e| crate::Error::Kernel(e.to_string()))?;
        Ok(del.len() + add.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_guard::{Engine, GuardConfig};

    #[test]
    fn bans_and_unbans_become_element_changes() {
        let cfg =
            GuardConfig::from_toml("[jail.s]\nmaxretry = 1\nbantime = \"1h\"\n").expect("cfg");
        let mut e = Engine::new(&cfg).expect("engine");
        let t = 1_700_000_000;
        let a = "198.51.100.7".parse().expect("addr");
        let mut acts = e.on_failure(t, "s", a, "x");
        let (del, add) = changes(&acts, t * 1000 + 500);
        assert!(del.is_empty());
        assert_eq!(add[0].timeout_ms, Some(3_599_500));
        acts.extend(e.unban(t + 1, Net::host(a)).expect("unban"));
        let (del, add) = changes(&acts, t * 1000);
        assert_eq!((del.len(), add.len()), (1, 0));
        let p = e
            .ban(t, "192.0.2.0/24".parse().expect("net"), None, "")
            .expect("ban");
        let (_, add) = changes(&p, t * 1000);
        assert_eq!(add[0].timeout_ms, None);
        assert_eq!(elements_of(e.active(), t * 1000).len(), 1);
    }
}
