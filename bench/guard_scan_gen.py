#!/usr/bin/env python3
"""A realistic auth.log for bench/guard_scan.sh (fixed seed).

usage: guard_scan_gen.py N OUT

The mix follows a small server under SSH brute force: about 45% sshd
failure lines (failed passwords for root and invalid users, invalid users,
connections closed or disconnected before authentication, maximum
attempts), 10% other sshd lines (accepted logins, received disconnect,
session opened/closed, connection from), 45% other daemons (CRON,
systemd-logind, sudo, su, systemd, kernel). Syslog timestamps, one second
apart every ~20 lines.
"""
import random
import sys

n = int(sys.argv[1])
out = sys.argv[2]
rng = random.Random(6)
months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
users = ["root", "admin", "test", "oracle", "ubuntu", "postgres", "git", "user", "guest", "ftpuser",
         "pi", "deploy", "jenkins", "hadoop", "www-data", "minecraft", "support", "ansible"]
host = "web01"


def ip():
    return "%d.%d.%d.%d" % (rng.choice([45, 61, 103, 185, 193, 218, 222]), rng.randrange(256),
                            rng.randrange(256), rng.randrange(1, 255))


attackers = [ip() for _ in range(5000)]
admins = ["198.51.100.%d" % i for i in range(2, 20)]


def sshd_fail(pid, a):
    u = rng.choice(users)
    port = rng.randrange(1024, 65535)
    r = rng.random()
    if r < 0.30:
        return "sshd[%d]: Failed password for root from %s port %d ssh2" % (pid, a, port)
    if r < 0.55:
        return "sshd[%d]: Failed password for invalid user %s from %s port %d ssh2" % (pid, u, a, port)
    if r < 0.75:
        return "sshd[%d]: Invalid user %s from %s port %d" % (pid, u, a, port)
    if r < 0.85:
        return "sshd[%d]: Connection closed by authenticating user root %s port %d [preauth]" % (pid, a, port)
    if r < 0.93:
        return "sshd[%d]: Disconnected from invalid user %s %s port %d [preauth]" % (pid, u, a, port)
    if r < 0.97:
        return "sshd[%d]: error: maximum authentication attempts exceeded for root from %s port %d ssh2 [preauth]" % (pid, a, port)
    return "sshd[%d]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=root" % (pid, a)


def sshd_other(pid):
    a = rng.choice(admins)
    port = rng.randrange(1024, 65535)
    r = rng.random()
    if r < 0.3:
        return "sshd[%d]: Accepted publickey for deploy from %s port %d ssh2: ED25519 SHA256:Xk3Jq8f0rYpLQ4a2sD9hVtB7nM1cZ6wE5uI0oP3lKjA" % (pid, a, port)
    if r < 0.5:
        return "sshd[%d]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)" % pid
    if r < 0.7:
        return "sshd[%d]: Received disconnect from %s port %d:11: disconnected by user" % (pid, a, port)
    if r < 0.85:
        return "sshd[%d]: pam_unix(sshd:session): session closed for user deploy" % pid
    return "sshd[%d]: Disconnected from user deploy %s port %d" % (pid, a, port)


def noise(pid):
    r = rng.random()
    if r < 0.35:
        return "CRON[%d]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)" % pid
    if r < 0.65:
        return "CRON[%d]: pam_unix(cron:session): session closed for user root" % pid
    if r < 0.75:
        return "systemd-logind[512]: New session %d of user deploy." % rng.randrange(1, 99999)
    if r < 0.82:
        return "systemd-logind[512]: Session %d logged out. Waiting for processes to exit." % rng.randrange(1, 99999)
    if r < 0.9:
        return "sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"
    if r < 0.95:
        return "sudo: pam_unix(sudo:session): session opened for user root(uid=0) by deploy(uid=1000)"
    if r < 0.98:
        return "systemd[1]: Started session-%d.scope - Session %d of User deploy." % (pid, pid)
    return "kernel: [%d.%06d] [UFW BLOCK] IN=eth0 OUT= MAC=00:16:3e:aa:bb:cc SRC=%s DST=203.0.113.10 LEN=40 PROTO=TCP SPT=%d DPT=23 WINDOW=1024 SYN URGP=0" % (
        rng.randrange(99999), rng.randrange(999999), ip(), rng.randrange(1024, 65535))


t = 0
with open(out, "w") as f:
    for i in range(n):
        if i % 20 == 0:
            t += 1
        day = 1 + (t // 86400) % 28
        mon = months[(t // (86400 * 28)) % 12]
        s = t % 86400
        pid = 1000 + rng.randrange(60000)
        r = rng.random()
        if r < 0.45:
            msg = sshd_fail(pid, rng.choice(attackers))
        elif r < 0.55:
            msg = sshd_other(pid)
        else:
            msg = noise(pid)
        f.write("%s %2d %02d:%02d:%02d %s %s\n" % (mon, day, s // 3600, s // 60 % 60, s % 60, host, msg))
