//! The data-driven corpus format (`testdata/eval/*.toml`, documented in
//! `testdata/eval/README.md`): a policy, a host context and packets with
//! their expected verdict, deciding rule and (optionally) trace. The same
//! files are run by the reference interpreter, the classifier and the
//! kernel harness; this module parses them and checks outcomes, it does not
//! read files or policies (the caller loads the policy with
//! `rampart-syntax`).

use crate::context::{Context, LocalAddr, Route, Time};
use crate::outcome::{Decider, Event, Matched, NatSide, Outcome, Verdict};
use crate::packet::{CtState, Packet};
use crate::{Classifier, Error, Reference, Session};
use rampart_model::{IpNet, Policy};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// One corpus file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the file shows.
    pub description: String,
    /// Path of the policy file, relative to the corpus file.
    #[serde(default)]
    pub policy: Option<String>,
    /// Or the policy itself (line 1 is the first line of this text).
    #[serde(default)]
    pub policy_text: Option<String>,
    /// Format of `policy_text`: `iptables-save`, `ip6tables-save`,
    /// `native`, `script` (default: detected).
    #[serde(default)]
    pub policy_format: Option<String>,
    /// The host's addresses: `ADDR[/PREFIX][%IFACE]`.
    #[serde(default)]
    pub local: Vec<String>,
    /// Routes: `NET IFACE` (`0.0.0.0/0 eth0`).
    #[serde(default)]
    pub routes: Vec<String>,
    /// Seconds since the epoch of `at = 0` (default 1,700,000,000).
    #[serde(default)]
    pub time: Option<u64>,
    #[serde(default)]
    pub packet: Vec<CasePacket>,
}

/// The format a case names for its inline policy (`policy_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyFormat {
    IptablesSave,
    Ip6tablesSave,
    Native,
    /// An iptables/ipset shell script.
    Script,
}

impl PolicyFormat {
    /// The name as written in a corpus file.
    pub fn parse(name: &str) -> Option<PolicyFormat> {
        Some(match name {
            "iptables-save" => PolicyFormat::IptablesSave,
            "ip6tables-save" => PolicyFormat::Ip6tablesSave,
            "native" => PolicyFormat::Native,
            "script" => PolicyFormat::Script,
            _ => return None,
        })
    }
}

/// A case's policy as the front ends take it: a name for origins (the
/// file's path as joined, or `policy` for inline text), the text, and the
/// format when the case names one (else the caller detects it, as `rampart
/// check` does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    pub name: String,
    pub text: String,
    pub format: Option<PolicyFormat>,
}

/// One packet and what must happen to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasePacket {
    /// The packet in `rampart why` syntax plus `key=value` fields.
    pub packet: String,
    /// Seconds after the case's `time` (default: the previous packet's).
    #[serde(default)]
    pub at: Option<f64>,
    /// Packets naming the same session share conntrack and rate state,
    /// in file order; without one a packet is evaluated alone.
    #[serde(default)]
    pub session: Option<String>,
    /// `accept`, `drop`, `reject`, `queue`, `unknown`.
    pub verdict: String,
    /// Source line of the deciding rule.
    #[serde(default)]
    pub line: Option<u32>,
    /// Or: the chain whose policy decided, `TABLE CHAIN`.
    #[serde(default)]
    pub policy: Option<String>,
    /// Or: the kernel dropped it outside the ruleset, why
    /// (`ttl-exceeded`: [`crate::KernelDrop`]).
    #[serde(default)]
    pub kernel: Option<String>,
    /// For `reject`: the `--reject-with` type.
    #[serde(default)]
    pub reject: Option<String>,
    /// The conntrack state in the filter table.
    #[serde(default)]
    pub state: Option<String>,
    /// NAT rewrites: `dnat ADDR[:PORT]` / `snat ADDR[:PORT]` (after).
    #[serde(default)]
    pub nat: Vec<String>,
    /// The rules visited, in order: `TABLE CHAIN INDEX yes|no|unknown`.
    #[serde(default)]
    pub trace: Option<Vec<String>>,
    /// A word the reason of an `unknown` verdict must contain.
    #[serde(default)]
    pub reason: Option<String>,
    /// Free text for readers.
    #[serde(default)]
    pub note: Option<String>,
}

impl Case {
    /// Parses a corpus file's text.
    pub fn parse(text: &str) -> Result<Case, Error> {
        let case: Case =
            toml::from_str(text).map_err(|e| Error::BadContext(format!("corpus file: {e}")))?;
        if case.policy.is_some() == case.policy_text.is_some() {
            return Err(Error::BadContext(
                "corpus file: give exactly one of `policy` and `policy_text`".into(),
            ));
        }
        if let Some(f) = &case.policy_format {
            if PolicyFormat::parse(f).is_none() {
                return Err(Error::BadContext(format!(
                    "corpus file: unknown policy_format `{f}` (iptables-save, ip6tables-save, native, script)"
                )));
            }
        }
        Ok(case)
    }

    /// The case's policy source: `policy` (a path relative to `dir`, the
    /// corpus file's directory) read with `read`, or `policy_text` with
    /// its `policy_format`. The crate does no I/O itself: harnesses pass
    /// `std::fs::read_to_string`.
    pub fn policy_source(
        &self,
        dir: &Path,
        read: impl FnOnce(&Path) -> std::io::Result<String>,
    ) -> Result<PolicySource, Error> {
        match (&self.policy, &self.policy_text) {
            (Some(p), _) => {
                let path = dir.join(p);
                let name = path.display().to_string();
                let text = read(&path).map_err(|e| Error::BadContext(format!("{name}: {e}")))?;
                Ok(PolicySource {
                    name,
                    text,
                    format: None,
                })
            }
            (None, Some(t)) => Ok(PolicySource {
                name: "policy".into(),
                text: t.clone(),
                format: self.policy_format.as_deref().and_then(PolicyFormat::parse),
            }),
            (None, None) => Err(Error::BadContext(
                "corpus file: give exactly one of `policy` and `policy_text`".into(),
            )),
        }
    }

    /// The host context of the file.
    pub fn context(&self) -> Result<Context, Error> {
        let local = self
            .local
            .iter()
            .map(|l| LocalAddr::parse(l))
            .collect::<Result<Vec<_>, _>>()?;
        let mut routes = Vec::new();
        for r in &self.routes {
            let bad = || Error::BadContext(format!("route `{r}`: expected `NET IFACE`"));
            let (net, dev) = r.split_once(' ').ok_or_else(bad)?;
            let (a, p) = net.split_once('/').ok_or_else(bad)?;
            let net = IpNet::new(a.parse().map_err(|_| bad())?, p.parse().map_err(|_| bad())?)
                .ok_or_else(bad)?;
            routes.push(Route {
                net,
                dev: dev.trim().to_string(),
            });
        }
        Ok(Context {
            local,
            routes,
            now: Time::from_secs(self.start()),
        })
    }

    fn start(&self) -> u64 {
        self.time.unwrap_or(1_700_000_000)
    }

    /// Runs every packet through the reference interpreter
    /// (`classifier: false`) or the compiled classifier, with traces.
    pub fn run(&self, policy: &Policy, classifier: bool) -> Result<Vec<Outcome>, Error> {
        let ctx = self.context()?;
        let compiled = classifier.then(|| Classifier::new(policy));
        let reference = Reference::new(policy);
        let mut sessions: HashMap<String, Session<'_, '_>> = HashMap::new();
        let mut at = 0.0f64;
        let mut out = Vec::new();
        for cp in &self.packet {
            let pkt = Packet::parse(&cp.packet)?;
            at = cp.at.unwrap_or(at);
            let now = Time(
                Time::from_secs(self.start())
                    .0
                    .saturating_add((at.max(0.0) * 1e9) as u64),
            );
            let o = match &cp.session {
                Some(name) => {
                    let s = sessions
                        .entry(name.clone())
                        .or_insert_with(|| match &compiled {
                            Some(c) => Session::with_classifier(c, ctx.clone()),
                            None => Session::new(policy, ctx.clone()),
                        });
                    s.packet(now, &pkt)
                }
                None => {
                    let mut c = ctx.clone();
                    c.now = now;
                    match &compiled {
                        Some(k) => k.classify(&c, &pkt),
                        None => reference.evaluate(&c, &pkt),
                    }
                }
            };
            out.push(o);
        }
        Ok(out)
    }
}

impl CasePacket {
    /// Compares an outcome with the expectations; the error says what
    /// differs.
    pub fn check(&self, o: &Outcome) -> Result<(), String> {
        let mut errs = Vec::new();
        if o.verdict.name() != self.verdict {
            errs.push(format!("verdict {} (expected {})", o.verdict, self.verdict));
        }
        match (&self.line, &self.policy, &o.decided_by) {
            (Some(l), _, Decider::Rule(r)) => {
                if r.origin.as_ref().map(|o| o.line) != Some(*l) {
                    errs.push(format!("decided by {r} (expected line {l})"));
                }
            }
            (Some(l), _, d) => errs.push(format!("decided by {d} (expected line {l})")),
            (None, Some(p), Decider::Policy { table, chain, .. }) => {
                if format!("{} {}", table.name(), chain) != *p {
                    errs.push(format!(
                        "decided by {} (expected the policy of {p})",
                        o.decided_by
                    ));
                }
            }
            (None, Some(p), d) => errs.push(format!("decided by {d} (expected the policy of {p})")),
            (None, None, _) => {}
        }
        if let Some(k) = &self.kernel {
            let got = match &o.decided_by {
                Decider::Kernel { reason } => Some(reason.name()),
                _ => None,
            };
            if got != Some(k.as_str()) {
                errs.push(format!(
                    "decided by {} (expected the kernel: {k})",
                    o.decided_by
                ));
            }
        }
        if let Some(r) = &self.reject {
            match &o.verdict {
                Verdict::Reject { with } if with.name() == r => {}
                v => errs.push(format!("verdict {v} (expected reject with {r})")),
            }
        }
        if let Some(s) = &self.state {
            match CtState::parse(s) {
                Some(st) if st == o.ct_state => {}
                _ => errs.push(format!("state {} (expected {s})", o.ct_state.name())),
            }
        }
        let nat: Vec<String> = o
            .nat
            .iter()
            .map(|n| {
                let side = match n.side {
                    NatSide::Source => "snat",
                    NatSide::Destination => "dnat",
                };
                let a = n.after_addr.map_or_else(|| "?".into(), |a| a.to_string());
                match (n.after_port, a.contains(':')) {
                    (0, _) => format!("{side} {a}"),
                    (p, true) => format!("{side} [{a}]:{p}"),
                    (p, false) => format!("{side} {a}:{p}"),
                }
            })
            .collect();
        if nat != self.nat {
            errs.push(format!("nat {nat:?} (expected {:?})", self.nat));
        }
        if let Some(want) = &self.trace {
            let got = trace_lines(o);
            if &got != want {
                errs.push(format!("trace {got:?}\n    (expected {want:?})"));
            }
        }
        if let (Some(w), Verdict::Unknown { reason }) = (&self.reason, &o.verdict) {
            if !reason.contains(w.as_str()) {
                errs.push(format!("unknown reason `{reason}` lacks `{w}`"));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }
}

/// The rule events of a trace as `TABLE CHAIN INDEX yes|no|unknown`.
pub fn trace_lines(o: &Outcome) -> Vec<String> {
    o.trace
        .iter()
        .filter_map(|s| match &s.event {
            Event::Rule { index, matched, .. } => Some(format!(
                "{} {} {index} {}",
                s.table.name(),
                s.chain,
                match matched {
                    Matched::Yes => "yes",
                    Matched::No => "no",
                    Matched::Unknown => "unknown",
                }
            )),
            _ => None,
        })
        .collect()
}
