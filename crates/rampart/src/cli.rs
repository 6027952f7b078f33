//! The command-line definition: one clap tree that also generates the man
//! page and the shell completions (`rampart generate`).

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// rampart: a Linux host firewall and intrusion-prevention system.
///
/// One policy model for iptables-save files, iptables/ip6tables/ipset shell
/// scripts and rampart's own TOML policy format. Exit codes: 0 clean,
/// 1 findings (warnings), 2 errors in the input or failure.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Read policy files and report every problem with file:line:column.
    ///
    /// Exit status: 0 when clean, 1 when there are only warnings, 2 when
    /// there are errors.
    Check {
        #[command(flatten)]
        input: InputOpts,
        /// Files to check (format detected per file unless --from is given).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print diagnostics as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Convert a policy from one format to another.
    Convert {
        #[command(flatten)]
        input: InputOpts,
        /// Output format.
        #[arg(long, value_enum)]
        to: OutputFormat,
        /// Input file.
        file: PathBuf,
        /// Print the model as JSON instead of the output format.
        #[arg(long)]
        json: bool,
    },
    /// Show a policy in a readable form: tables, chains, numbered rules with
    /// the source line each came from, sets and kernel settings.
    Show {
        #[command(flatten)]
        input: InputOpts,
        file: PathBuf,
        /// Print the policy model as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compile a policy to nftables: print the `nft -f` text of rampart's
    /// own tables (`table inet rampart`, `table ip|ip6 rampart-nat`).
    ///
    /// Constructs that have no faithful nftables form are reported with
    /// their source line (exit status 2); nothing is approximated.
    Compile {
        #[command(flatten)]
        input: InputOpts,
        /// Input file.
        file: PathBuf,
        /// Print libnftables JSON (for `nft -j -f`) instead of nft text.
        #[arg(long)]
        json: bool,
        /// Keep one nft rule per policy rule: do not merge runs of rules
        /// that differ in one value into a set lookup, nor IPv4/IPv6 twins
        /// into one rule (merged rules share one counter).
        #[arg(long)]
        no_optimize: bool,
    },
    /// Compile a policy and load it into the kernel over netlink, replacing
    /// rampart's own tables in one nf_tables transaction.
    ///
    /// The whole ruleset is one netlink batch: the kernel applies all of it
    /// or none of it, so killing rampart at any moment leaves either the old
    /// or the new ruleset, never a mix. Tables of other owners are never
    /// touched. Needs CAP_NET_ADMIN (root). Exit status 2 when the policy
    /// has errors or the kernel refuses the batch (nothing is changed then).
    Apply {
        #[command(flatten)]
        input: InputOpts,
        /// Input file.
        file: PathBuf,
        /// Load the ruleset without the optimisation pass (as
        /// `compile --no-optimize` prints it).
        #[arg(long)]
        no_optimize: bool,
        /// Safe apply: restore the previous ruleset by itself after
        /// DURATION (60s, 5m, 1h) unless `rampart confirm` runs (or the
        /// prompt on a terminal is answered y). A detached helper does it,
        /// so it happens even if this SSH session dies.
        #[arg(long, value_name = "DURATION", value_parser = crate::apply_cmd::parse_duration)]
        confirm: Option<std::time::Duration>,
        /// Apply even when the lock-out guard finds that the policy may
        /// cut the SSH connection in SSH_CONNECTION.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        state: StateOpts,
    },
    /// Show what `apply FILE` would change: a unified diff of the compiled
    /// nftables text against the applied one. Exit status 0 no change,
    /// 1 changes, 2 errors.
    Diff {
        #[command(flatten)]
        input: InputOpts,
        file: PathBuf,
        /// Compare without the optimisation pass.
        #[arg(long)]
        no_optimize: bool,
        #[command(flatten)]
        state: StateOpts,
    },
    /// Restore the policy applied before the current one (or the one before
    /// an unconfirmed `apply --confirm`), recorded as a new entry.
    Rollback {
        #[command(flatten)]
        state: StateOpts,
    },
    /// Keep the ruleset of a pending `apply --confirm`.
    Confirm {
        #[command(flatten)]
        state: StateOpts,
    },
    /// Show the applied policy (source, SHA-256, time), every rule of
    /// rampart's tables with its packet/byte counters and source lines,
    /// set sizes, a pending confirmation and the history kept in the state
    /// directory (rolls back an expired unconfirmed apply).
    ///
    /// Exit status: 0 ok, 1 the live ruleset differs from the applied one,
    /// 2 failure.
    Status {
        #[command(flatten)]
        state: StateOpts,
        /// Print the same as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The detached helper of `apply --confirm` (not for direct use).
    #[command(hide = true)]
    RollbackGuard {
        #[command(flatten)]
        state: StateOpts,
        /// Seconds since the Unix epoch.
        #[arg(long)]
        deadline: u64,
        #[arg(long)]
        token: String,
    },
    /// Check or apply the kernel settings that belong to a host firewall
    /// (SYN cookies, reverse-path filter, redirects, source routing, martian
    /// logging, ...), per interface.
    ///
    /// --check (the default) prints current against recommended values and
    /// exits 1 when any differs. --apply writes only the differing values
    /// and first records the previous ones in STATE_DIR/harden.json;
    /// --restore writes the recorded values back and removes the record.
    /// The net.* settings are those of the network namespace rampart runs
    /// in. Exit status: 0 ok, 1 differences (--check), 2 failure.
    Harden(crate::harden::Args),
    /// Store the policy rampart last applied (the state store's current entry) as
    /// the policy the boot unit applies (/etc/rampart/policy.toml).
    ///
    /// Exit status 2 when no policy was applied by rampart (nothing is
    /// written then) or the file cannot be written.
    Save(crate::save::Args),
    /// Apply the bundled examples/web.toml in a throwaway network namespace
    /// and show connections being accepted and dropped.
    ///
    /// Creates two network namespaces joined by a veth pair, loads the
    /// policy into one over netlink, listens on TCP 22, 80, 443 and 3306
    /// there, connects from the other (from an ordinary, an admin and a
    /// blocklisted address) and prints expected against actual results.
    /// The namespaces are deleted afterwards; a demo interrupted with
    /// Ctrl-C leaves them until the next `rampart demo` removes them. The
    /// host's own ruleset and settings are not touched. Needs root. Exit
    /// status: 0 every result as expected, 1 a mismatch, 2 not root or
    /// failure.
    Demo,
    /// Explain what a policy does with one packet: every table, chain and
    /// rule it passes, with each rule's source file:line and why it matched
    /// or not, the NAT rewrites (before -> after) and the verdict.
    ///
    /// The packet follows netfilter's path (raw, conntrack, mangle, nat for
    /// a new connection, the routing decision from --local/--out or this
    /// host's addresses and routes, filter, security, POSTROUTING). A rule
    /// that depends on something a packet description does not carry
    /// (payload, the local socket, TCP options) makes the verdict
    /// "unknown", naming the rule. Works for every input format; with
    /// `--policy live` (the default) it reads the policy rampart applied.
    /// Exit status: 0 accepted, 1 dropped, rejected, queued or unknown,
    /// 2 bad input.
    Why(crate::why_cmd::Args),
    /// Check the example policies bundled with rampart and print their
    /// iptables-save form (the built-in default job).
    Examples {
        /// Directory holding the examples (default: the bundled ones).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// CIDR calculator over address lists of any size: aggregate, subtract,
    /// intersect, contains, count.
    ///
    /// A list has one address, network (ADDR/LEN, IPv4 also ADDR/NETMASK) or
    /// range (ADDR-ADDR) per line, IPv4 or IPv6; `#` and `;` start comments.
    /// `-` reads standard input. Results are printed as the fewest CIDR
    /// prefixes with the same addresses, IPv4 then IPv6, one per line (host
    /// addresses without `/32` or `/128`, as iprange prints them). Exit
    /// status: 0 done, 1 `contains` found an address in no network, 2 bad
    /// lines in the input (each reported; the good lines are still used) or
    /// failure.
    Cidr {
        #[command(subcommand)]
        op: CidrOp,
    },
    /// Static analysis of a policy: shadowed and redundant rules, unreachable
    /// chains, rules after an unconditional verdict, unused sets, IPv6 left
    /// open, database/admin ports open to the world, no ESTABLISHED accept,
    /// SSH lock-out (codes R001-R009, see docs/lint.md).
    ///
    /// Every finding names the rule (file:line:column, the line, a caret)
    /// and the related rule. Silence one rule's finding with `lint = {
    /// allow = ["R007"] }` in a native rule item (iptables: a comment
    /// "lint: allow R007"), or a code everywhere with --allow. Exit
    /// status: 0 no finding, 1 findings, 2 bad input.
    Lint {
        #[command(flatten)]
        input: InputOpts,
        file: PathBuf,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
        /// Silence a code everywhere (R007 or exposed-admin-port); repeatable.
        #[arg(long, value_name = "CODE")]
        allow: Vec<String>,
        /// Report only findings of this severity or worse.
        #[arg(long, value_enum, default_value = "note")]
        severity: LintSeverity,
    },
    /// The service matrix of the filter policy: the address space split
    /// into classes the policy treats alike, and what each class gets for
    /// each service (INPUT: to this host; FORWARD: between classes).
    ///
    /// Exit status: 0 done, 2 bad input.
    Matrix {
        #[command(flatten)]
        input: InputOpts,
        file: PathBuf,
        /// Only this service (tcp/22, udp/53, tcp/8000-8080); default:
        /// every port class the policy distinguishes.
        #[arg(long, value_name = "PROTO/PORT")]
        port: Option<String>,
        /// Print the matrix as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Classify a capture (pcap or pcapng) under a policy before deploying
    /// it: hits per rule with file:line, what would be dropped, the top
    /// dropped sources and destination ports, packets per second.
    ///
    /// Flows are tracked as conntrack does (NEW, ESTABLISHED after a reply,
    /// RELATED ICMP errors, INVALID), rate limits and recent lists keep
    /// their state at the packets' time stamps, and a flow whose first
    /// packet the policy refuses is forgotten. Exit status: 0 nothing would
    /// be dropped, 1 some packets would be dropped or rejected, 2 bad input.
    Replay(crate::replay_cmd::Args),
    /// Intrusion detection: fail2ban-compatible filters and rampart's
    /// built-in detectors run over log files.
    Guard {
        #[command(subcommand)]
        op: GuardOp,
    },
    /// Ban an address or network by hand, through the running guard
    /// daemon's control socket (root only). Exit status: 0 banned, 2 refused
    /// (whitelisted, bad address) or no daemon.
    Ban(crate::guard_cmd::BanArgs),
    /// End the ban of an address or network (or the ban covering it)
    /// through the guard daemon. Exit status: 0 unbanned, 2 not banned or
    /// no daemon.
    Unban(crate::guard_cmd::UnbanArgs),
    /// The guard daemon's active bans: address, reason, source/jail,
    /// expiry, hits.
    Bans(crate::guard_cmd::BansArgs),
    /// Turn another tool's configuration into rampart configuration.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Work on a set of the applied policy in the kernel: list, add, delete,
    /// test, load or flush its elements.
    ///
    /// NAME is the set's name in the policy. Changes are sent as only the
    /// elements that differ (never a reload of the set or the tables) and
    /// recorded in the state store as a new entry: `rampart rollback`
    /// undoes the last change, and the next `rampart apply` makes the set
    /// what the policy says. Exit status: 0 done (`test`: the address is
    /// in the set), 1 `test` found it in no element, 2 bad input or failure.
    Set {
        #[command(subcommand)]
        op: SetOp,
        #[command(flatten)]
        state: StateOpts,
    },
    /// Generate the man page or shell completions.
    Generate {
        #[command(subcommand)]
        what: Generate,
    },
}

#[derive(Debug, Subcommand)]
pub enum CidrOp {
    /// Merge every list into the fewest prefixes (overlapping and adjacent
    /// networks are merged).
    Aggregate {
        /// Lists to merge (`-` for standard input).
        #[arg(default_value = "-")]
        files: Vec<PathBuf>,
    },
    /// The addresses of FILE that are in none of the other lists
    /// (FILE minus the union of MINUS...).
    Subtract {
        /// The list to subtract from (`-` for standard input).
        file: PathBuf,
        /// Lists whose addresses are removed.
        #[arg(required = true)]
        minus: Vec<PathBuf>,
    },
    /// The addresses that are in every list.
    Intersect {
        #[arg(required = true, num_args = 2..)]
        files: Vec<PathBuf>,
    },
    /// For each address, print the most specific network of FILE that
    /// holds it, with its line; exit 1 when an address is in none.
    Contains {
        /// The list (`-` for standard input).
        file: PathBuf,
        #[arg(required = true)]
        addrs: Vec<std::net::IpAddr>,
    },
    /// Count entries, prefixes after aggregation and addresses, per family.
    Count {
        /// Lists to count together (`-` for standard input).
        #[arg(default_value = "-")]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum GuardOp {
    /// Run one filter over a log file, as `fail2ban-regex` does: each
    /// matching line with its number, address and user, then lines read,
    /// matched, ignored, skipped and lines/s.
    ///
    /// Exit status: 0 no line matched, 1 lines matched, 2 a bad filter or
    /// an unreadable log.
    Test(crate::guard_cmd::TestArgs),
    /// List the built-in detectors.
    List,
    /// Check a guard configuration (guard.toml): every key, located
    /// errors with the line and a caret, and every enabled jail's filter
    /// compiled.
    ///
    /// Exit status: 0 valid, 2 errors.
    Check(crate::guard_cmd::CheckArgs),
    /// Run the ban daemon: log files through the jails' filters, decisions
    /// recorded in SQLite and enforced in the kernel's table
    /// `inet rampart-guard`, the control socket of `rampart ban|unban|bans`.
    /// Stops on SIGTERM or SIGINT. Exit status: 0 stopped by a signal, 2
    /// bad configuration or failure.
    Run(crate::guard_cmd::RunArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImportWhat {
    /// An installed fail2ban setup (jail.conf, jail.local, jail.d,
    /// filter.d) as rampart guard configuration (docs/guard.md).
    ///
    /// Enabled jails are imported with their filters (each checked to
    /// compile); actions, ignorecommand, other backends and anything else
    /// without a rampart counterpart are reported with file:line. Exit
    /// status: 0 all carried over, 1 something not carried over, 2 errors.
    Fail2ban(crate::import_cmd::Fail2banArgs),
}

#[derive(Debug, Subcommand)]
pub enum SetOp {
    /// The elements the kernel holds, with timeouts, expiry and comments
    /// (one netlink dump of the set; large interval sets take a while).
    List {
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the number of elements.
        #[arg(long)]
        count: bool,
    },
    /// Add elements (ipset syntax for the set's type: `192.0.2.7`,
    /// `10.0.0.0/8`, `10.0.0.1-10.0.0.9`, `192.0.2.7,tcp:22`).
    Add {
        name: String,
        #[arg(required = true)]
        elements: Vec<String>,
        /// Remove them again after this long (`90s`, `30m`, `1h`, `2d`);
        /// the set needs `flags timeout` (a timeout in the policy).
        #[arg(long, value_name = "DURATION")]
        timeout: Option<String>,
        /// A comment kept with each element.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Delete elements (exactly as they were added).
    Del {
        name: String,
        #[arg(required = true)]
        elements: Vec<String>,
    },
    /// Which element holds a value (an address; `ADDR,tcp:22` for pairs;
    /// `tcp:22` for ports; an interface name): from the state store (the
    /// most specific element), confirmed by asking the kernel.
    Test {
        name: String,
        #[arg(value_name = "VALUE")]
        addr: String,
    },
    /// Replace the set's elements with those of FILE (one address, network
    /// or range per line, `#` comments; networks are aggregated), sending
    /// only the difference; a progress bar on a terminal.
    Load { name: String, file: PathBuf },
    /// Remove every element.
    Flush { name: String },
}

#[derive(Debug, Subcommand)]
pub enum Generate {
    /// Print the man page (roff) to standard output.
    Man,
    /// Print a completion script for a shell.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the systemd unit that applies /etc/rampart/policy.toml at boot,
    /// before the network comes up (dist/rampart.service).
    Systemd,
}

/// Where applied policies are kept.
#[derive(Debug, clap::Args)]
pub struct StateOpts {
    /// State directory holding applied policies, their hashes and history
    /// [default: /var/lib/rampart].
    #[arg(long, value_name = "DIR", env = "RAMPART_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Options shared by every command that reads a policy.
#[derive(Debug, clap::Args)]
pub struct InputOpts {
    /// Input format; detected from the file name and content when omitted.
    #[arg(long, value_enum)]
    pub from: Option<InputFormat>,
    /// Replace characters pasted from web pages (en/em dashes for `--`,
    /// curly quotes, no-break spaces) in the file itself before reading it;
    /// the original is kept as FILE.orig.
    #[arg(long)]
    pub fix: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// iptables-save / iptables-restore file (IPv4), or `-A ...` fragment.
    IptablesSave,
    /// ip6tables-save / ip6tables-restore file (IPv6).
    Ip6tablesSave,
    /// Shell script of iptables, ip6tables and ipset commands.
    IptablesScript,
    /// `ipset save` / `ipset restore` file.
    Ipset,
    /// rampart's native TOML policy.
    Native,
}

/// Severity threshold of `rampart lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintSeverity {
    Note,
    Warning,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// IPv4 tables as an iptables-save file.
    IptablesSave,
    /// IPv6 tables as an ip6tables-save file.
    Ip6tablesSave,
    /// Named sets as an `ipset save` file.
    Ipset,
    /// rampart's native TOML policy (where the constructs are expressible).
    Native,
}
