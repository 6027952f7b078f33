#!/usr/bin/env bash
# Log-scan benchmark (issue 6): `rampart guard test` vs `fail2ban-regex`
# with fail2ban's own sshd filter (/etc/fail2ban/filter.d/sshd.conf) on
# the same generated auth.log, in the same run; lines/s and the ratio.
#
#   bash bench/guard_scan.sh [N] [F2B_N]   (default: 10000000 1000000)
#
# The log has N lines (bench/guard_scan_gen.py, fixed seed: ~45% sshd
# failures, ~10% other sshd lines, ~45% other daemons). fail2ban-regex
# needs minutes for 10M lines, so it reads the first F2B_N lines (a prefix
# of the same file); rampart reads the prefix too, and the matched-line
# counts of both on the prefix must be equal. Ratios are computed from
# lines/s, each measured as lines / wall-clock seconds of the whole
# command (start-up, reading the file and the summary included); the
# CPU seconds (user + system, all threads: rampart scans on every CPU)
# and lines per CPU second are printed too — on a shared machine they
# are the steadier figures.
#
# Rows with --threads 1 and 2 show how one file's scan scales over CPUs.
# Last, instructions per line counted by valgrind (callgrind), which the
# load of a shared machine does not change: each tool runs on a short and
# a longer prefix (I_SHORT, I_LONG lines) and the difference is divided
# by the difference in lines, so start-up cancels out. Only with ICOUNT=1:
# fail2ban-regex under callgrind needs about 20 minutes for the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v fail2ban-regex >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fail2ban >/dev/null
}
command -v bc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc >/dev/null; }
N=${1:-10000000}
F2B_N=${2:-1000000}
OUT=bench/out; mkdir -p "$OUT"
LOG="$OUT/auth-$N.log"
PREFIX="$OUT/auth-$N-first-$F2B_N.log"
[ -s "$LOG" ] || python3 bench/guard_scan_gen.py "$N" "$LOG"
[ -s "$PREFIX" ] || head -n "$F2B_N" "$LOG" > "$PREFIX"
cargo build --release --locked -q -p rampart
BIN=./target/release/rampart

secs() { # "wall_seconds cpu_seconds" of "$@", output to $OUTF
    local TIMEFORMAT='%R %U %S' t
    t=$( { time "$@" >"$OUTF" 2>&1; } 2>&1 ) || true
    set -- $t
    echo "$1 $(echo "$2 + $3" | bc -l)"
}

rate() { echo "$1 / $2" | bc -l; }

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-42s %10s %9s %12s %9s %12s %10s\n" run lines seconds lines/s cpu-s lines/cpu-s matched
row() { # name lines "wall cpu" matched
    set -- "$1" "$2" $3 "$4"
    printf "%-42s %10s %9.2f %12.0f %9.2f %12.0f %10s\n" "$1" "$2" "$3" "$(rate "$2" "$3")" "$4" "$(rate "$2" "$4")" "$5"
}

matched() { grep -oE '[0-9]+ matched' "$OUTF" | head -1 | awk '{print $1}'; }

OUTF="$OUT/guard-f2b-prefix.txt"
t=$(secs fail2ban-regex "$PREFIX" /etc/fail2ban/filter.d/sshd.conf)
m_f2b=$(grep -oE '^Lines: [0-9]+ lines, [0-9]+ ignored, [0-9]+ matched' "$OUTF" | awk '{print $6}')
r_f2b=$(rate "$F2B_N" "${t% *}"); c_f2b=$(rate "$F2B_N" "${t#* }")
row "fail2ban-regex (sshd.conf), prefix" "$F2B_N" "$t" "$m_f2b"

OUTF="$OUT/guard-rampart-prefix.txt"
t=$(secs $BIN guard test --summary fail2ban:sshd "$PREFIX")
m_rp=$(matched)
row "rampart guard test fail2ban:sshd, prefix" "$F2B_N" "$t" "$m_rp"

OUTF="$OUT/guard-rampart-full.txt"
t=$(secs $BIN guard test --summary fail2ban:sshd "$LOG")
r_full=$(rate "$N" "${t% *}"); c_full=$(rate "$N" "${t#* }")
row "rampart guard test fail2ban:sshd" "$N" "$t" "$(matched)"

for th in 1 2; do
    OUTF="$OUT/guard-rampart-full-t$th.txt"
    t=$(secs $BIN guard test --summary --threads $th fail2ban:sshd "$LOG")
    row "rampart ... fail2ban:sshd --threads $th" "$N" "$t" "$(matched)"
done

OUTF="$OUT/guard-rampart-builtin.txt"
t=$(secs $BIN guard test --summary sshd "$LOG")
r_bi=$(rate "$N" "${t% *}"); c_bi=$(rate "$N" "${t#* }")
row "rampart guard test sshd (built-in)" "$N" "$t" "$(matched)"
for th in 1 2; do
    OUTF="$OUT/guard-rampart-builtin-t$th.txt"
    t=$(secs $BIN guard test --summary --threads $th sshd "$LOG")
    row "rampart ... sshd (built-in) --threads $th" "$N" "$t" "$(matched)"
done

echo
printf "ratio, same filter (fail2ban's sshd.conf): %.1fx wall, %.1fx per CPU second\n" \
    "$(echo "$r_full / $r_f2b" | bc -l)" "$(echo "$c_full / $c_f2b" | bc -l)"
printf "ratio, rampart's built-in sshd detector:    %.1fx wall, %.1fx per CPU second\n" \
    "$(echo "$r_bi / $r_f2b" | bc -l)" "$(echo "$c_bi / $c_f2b" | bc -l)"
if [ "$m_f2b" != "$m_rp" ]; then
    echo "MISMATCH: fail2ban-regex matched $m_f2b lines of the prefix, rampart $m_rp" >&2
    exit 1
fi
echo "matched lines on the prefix: identical ($m_rp)"

if [ "${ICOUNT:-0}" != 0 ]; then
    command -v valgrind >/dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
    }
    I_SHORT=${I_SHORT:-2000}
    I_LONG=${I_LONG:-12000}
    head -n "$I_SHORT" "$LOG" > "$OUT/auth-short.log"
    head -n "$I_LONG" "$LOG" > "$OUT/auth-long.log"
    ir() { # instructions of "$@" (all threads; the exit status is 1 on matches)
        { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null || true; } |
            grep -oE 'Collected : [0-9]+' | awk '{print $3}'
    }
    per_line() { # instructions per line of a command taking the log last
        local a b
        a=$(ir "$@" "$OUT/auth-short.log"); b=$(ir "$@" "$OUT/auth-long.log")
        echo "($b - $a) / ($I_LONG - $I_SHORT)" | bc -l
    }
    echo
    echo "instructions per line (callgrind, lines $I_SHORT..$I_LONG of the log; load-independent):"
    # fail2ban-regex takes the log first.
    ir_f2b() { ir fail2ban-regex "$1" /etc/fail2ban/filter.d/sshd.conf; }
    i_f2b=$(echo "($(ir_f2b "$OUT/auth-long.log") - $(ir_f2b "$OUT/auth-short.log")) / ($I_LONG - $I_SHORT)" | bc -l)
    i_rp=$(per_line $BIN guard test --summary --threads 1 fail2ban:sshd)
    i_bi=$(per_line $BIN guard test --summary --threads 1 sshd)
    printf "  %-44s %10.0f\n" "fail2ban-regex (sshd.conf)" "$i_f2b" \
        "rampart guard test fail2ban:sshd" "$i_rp" "rampart guard test sshd (built-in)" "$i_bi"
    printf "ratio in instructions: %.1fx (fail2ban's sshd.conf), %.1fx (built-in)\n" \
        "$(echo "$i_f2b / $i_rp" | bc -l)" "$(echo "$i_f2b / $i_bi" | bc -l)"
fi
