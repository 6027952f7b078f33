//! The engine's decisions carried to the kernel's ban table
//! (`rampart_sys::banset`, table `inet rampart-guard`): [`Scopes`] says
//! which ports each jail's bans cover (its `port`/`protocol`, read from
//! the configuration at start, so restored bans take the jail's current
//! ports); [`Kernel`] turns a batch of [`Action`]s into the elements to
//! remove and add (in order: a ban then an unban of the same network
//! ends removed) and sends them as one transaction. A jail's ban goes to
//! `port4`/`port6` when the jail names ports, to `ban4`/`ban6` otherwise;
//! prefix, connection-limit and manual bans cover every port. Dry-run
//! actions are never sent.

use rampart_guard::{Action, ActiveBan, BanScope, GuardConfig, Net, Source, Timestamp, FOREVER};
use rampart_sys::banset::{BanElem, BanTable};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Port ranges of one ban: `(protocol, first, last)`.
pub type PortRanges = Arc<[(u8, u16, u16)]>;
/// The ports of one ban; `None`: all.
pub type Ports = Option<PortRanges>;

/// The ports each jail's bans cover.
#[derive(Debug, Clone, Default)]
pub struct Scopes {
    jails: HashMap<String, (PortRanges, String)>,
}

impl Scopes {
    /// The scopes of the configuration's jails; an error names the jail.
    pub fn of(cfg: &GuardConfig) -> Result<Scopes, crate::Error> {
        let mut jails = HashMap::new();
        for (name, j) in &cfg.jail {
            match j.ban_scope() {
                Ok(BanScope::All) => {}
                Ok(s @ BanScope::Ports(_)) => {
                    let text = s.describe();
                    if let BanScope::Ports(v) = s {
                        jails.insert(name.clone(), (v.into(), text));
                    }
                }
                Err(e) => return Err(crate::Error::Config(format!("jail {name}: port: {e}"))),
            }
        }
        Ok(Scopes { jails })
    }

    /// The ports a ban by `jail` from `source` covers.
    pub fn ports(&self, jail: &str, source: Source) -> Ports {
        (source == Source::Jail)
            .then(|| self.jails.get(jail).map(|(p, _)| p.clone()))
            .flatten()
    }

    /// `tcp/22`, or `all`, as `rampart bans` shows it.
    pub fn describe(&self, jail: &str, source: Source) -> String {
        match (source, self.jails.get(jail)) {
            (Source::Jail, Some((_, text))) => text.clone(),
            _ => "all".to_string(),
        }
    }
}

/// Milliseconds left of a ban ending at `until` (seconds) at `now_ms`.
fn left_ms(until: Timestamp, now_ms: u64) -> Option<u64> {
    (until != FOREVER).then(|| until.saturating_mul(1000).saturating_sub(now_ms).max(1))
}

fn elem(net: &Net, until: Timestamp, now_ms: u64, ports: Ports) -> BanElem {
    BanElem {
        addr: net.addr(),
        len: net.prefix_len(),
        timeout_ms: left_ms(until, now_ms),
        ports,
    }
}

/// The kernel elements of the engine's active bans (each part of a ban
/// split around whitelisted addresses is its own element).
pub fn elements_of(
    active: impl Iterator<Item = ActiveBan>,
    now_ms: u64,
    scopes: &Scopes,
) -> Vec<BanElem> {
    let mut out = Vec::new();
    for b in active {
        let ports = scopes.ports(&b.jail, b.source);
        if b.parts.is_empty() {
            out.push(elem(&b.net, b.until, now_ms, ports));
        } else {
            out.extend(
                b.parts
                    .iter()
                    .map(|p| elem(p, b.until, now_ms, ports.clone())),
            );
        }
    }
    out
}

/// What the kernel holds of port-scoped bans, to remove them exactly
/// (a `port4` element is found by its whole key).
#[derive(Debug, Default)]
pub struct Placed {
    scoped: HashMap<(IpAddr, u8), PortRanges>,
}

impl Placed {
    fn of(elems: &[BanElem]) -> Placed {
        Placed {
            scoped: elems
                .iter()
                .filter_map(|e| e.ports.clone().map(|p| ((e.addr, e.len), p)))
                .collect(),
        }
    }

    /// The kernel changes of `actions`: `(remove, add)`; `self` follows.
    pub fn changes(
        &mut self,
        actions: &[Action],
        now_ms: u64,
        scopes: &Scopes,
    ) -> (Vec<BanElem>, Vec<BanElem>) {
        let mut del: Vec<BanElem> = Vec::new();
        let mut add: Vec<BanElem> = Vec::new();
        let gone = |k: (IpAddr, u8), scoped: &mut HashMap<_, _>, del: &mut Vec<BanElem>| {
            del.push(BanElem {
                addr: k.0,
                len: k.1,
                timeout_ms: None,
                ports: scoped.remove(&k),
            });
        };
        for a in actions {
            match a {
                Action::Ban(b) if !b.dry_run => {
                    let e = elem(&b.net, b.until, now_ms, scopes.ports(&b.jail, b.source));
                    let k = (e.addr, e.len);
                    add.retain(|x| (x.addr, x.len) != k);
                    // Placed before with other ports (`None`: in
                    // ban4/ban6): that element goes first. The same
                    // ports: the add below destroys and re-adds it.
                    if self.scoped.get(&k) != e.ports.as_ref() {
                        gone(k, &mut self.scoped, &mut del);
                    }
                    if let Some(p) = &e.ports {
                        self.scoped.insert(k, p.clone());
                    }
                    add.push(e);
                }
                Action::Unban(u) if !u.dry_run => {
                    let k = (u.net.addr(), u.net.prefix_len());
                    add.retain(|x| (x.addr, x.len) != k);
                    gone(k, &mut self.scoped, &mut del);
                }
                _ => {}
            }
        }
        (del, add)
    }
}

/// The ban table of the current network namespace.
#[derive(Debug)]
pub struct Kernel {
    table: BanTable,
    placed: Placed,
}

impl Kernel {
    /// Opens the netlink socket and (re)creates the table holding
    /// exactly `bans`, in one transaction.
    pub fn create(bans: &[BanElem]) -> Result<Kernel, crate::Error> {
        let mut table = BanTable::open().map_err(|e| crate::Error::Kernel(e.to_string()))?;
        table
            .create(bans)
            .map_err(|e| crate::Error::Kernel(e.to_string()))?;
        Ok(Kernel {
            table,
            placed: Placed::of(bans),
        })
    }

    /// Re-creates the table with exactly `bans` (after an error).
    pub fn refresh(&mut self, bans: &[BanElem]) -> Result<(), crate::Error> {
        self.placed = Placed::of(bans);
        self.table
            .create(bans)
            .map_err(|e| crate::Error::Kernel(e.to_string()))
    }

    /// Applies the kernel changes of `actions` in one transaction.
    pub fn apply(
        &mut self,
        actions: &[Action],
        now_ms: u64,
        scopes: &Scopes,
    ) -> Result<usize, crate::Error> {
        let (del, add) = self.placed.changes(actions, now_ms, scopes);
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
    use rampart_guard::Engine;

    #[test]
    fn bans_and_unbans_become_element_changes() {
        let cfg =
            GuardConfig::from_toml("[jail.s]\nmaxretry = 1\nbantime = \"1h\"\n").expect("cfg");
        let scopes = Scopes::of(&cfg).expect("scopes");
        let mut placed = Placed::default();
        let mut e = Engine::new(&cfg).expect("engine");
        let t = 1_700_000_000;
        let a = "198.51.100.7".parse().expect("addr");
        let mut acts = e.on_failure(t, "s", a, "x");
        let (_, add) = placed.changes(&acts, t * 1000 + 500, &scopes);
        assert_eq!(add[0].timeout_ms, Some(3_599_500));
        assert_eq!(add[0].ports, None);
        acts.extend(e.unban(t + 1, Net::host(a)).expect("unban"));
        let (del, add) = Placed::default().changes(&acts, t * 1000, &scopes);
        assert_eq!((del.len(), add.len()), (1, 0));
        let p = e
            .ban(t, "192.0.2.0/24".parse().expect("net"), None, "")
            .expect("ban");
        let (_, add) = placed.changes(&p, t * 1000, &scopes);
        assert_eq!(add[0].timeout_ms, None);
        assert_eq!(elements_of(e.active(), t * 1000, &scopes).len(), 1);
    }

    #[test]
    fn a_jail_with_ports_bans_those_ports_and_unbans_them_exactly() {
        let cfg = GuardConfig::from_toml(
            "[jail.s]\nmaxretry = 1\nbantime = \"1h\"\nport = \"ssh, 2222\"\n",
        )
        .expect("cfg");
        let scopes = Scopes::of(&cfg).expect("scopes");
        assert_eq!(scopes.describe("s", Source::Jail), "tcp/22,2222");
        assert_eq!(scopes.describe("s", Source::Manual), "all");
        let mut e = Engine::new(&cfg).expect("engine");
        let t = 1_700_000_000;
        let a: IpAddr = "198.51.100.7".parse().expect("addr");
        let mut placed = Placed::default();
        let (del, add) = placed.changes(&e.on_failure(t, "s", a, "x"), t * 1000, &scopes);
        let want: Arc<[(u8, u16, u16)]> = vec![(6, 22, 22), (6, 2222, 2222)].into();
        assert_eq!(add[0].ports.as_ref(), Some(&want));
        // Maybe in ban4 before (another scope): destroyed first
        // (DESTROYSETELEM: no error when absent).
        assert_eq!(del.len(), 1);
        assert!(del[0].ports.is_none());
        // The unban removes the port elements, not a ban4 element.
        let (del, add) = placed.changes(
            &e.unban(t + 1, Net::host(a)).expect("unban"),
            t * 1000,
            &scopes,
        );
        assert!(add.is_empty());
        assert_eq!(del.len(), 1);
        assert_eq!(del[0].ports.as_ref(), Some(&want));
        // A manual ban of the same address covers every port.
        let (_, add) = placed.changes(
            &e.ban(t + 2, Net::host(a), None, "").expect("ban"),
            t * 1000,
            &scopes,
        );
        assert_eq!(add[0].ports, None);
        // A restored ban takes the jail's ports at start.
        let elems = elements_of(e.active(), t * 1000, &scopes);
        assert_eq!(elems[0].ports, None);
        let bad = GuardConfig::from_toml("[jail.s]\nport = \"nosuch\"\n").expect("cfg");
        assert!(Scopes::of(&bad).is_err());
    }
}
