#!/usr/bin/perl
# IPv6 on the machine's own stack against Linux's, on a TAP device in a
# network namespace this test makes and removes (u6-PID, TAP u6t0):
# t/inet-drive is a machine at 10.216.0.2/24 and fd00:6::2/64 (and its
# link-local fe80::ff:fe00:2, from its MAC 02:00:00:00:00:02) with a UDP
# echo service on port 7 and TCP echo (7007), sink (7008) and source (7009)
# services; the namespace's side is fd00:6::1/64. Needs root.
#  1     the machine comes up on the TAP (then the test waits for Linux's
#        DAD and for the machine's: both its addresses "preferred")
#  2     ping -6 of the link-local address (with %u6t0): 5 of 5 answered
#  3     ping -6 of the global address: 5 of 5 answered
#  4     Linux learned the machine's MAC by neighbour discovery, for both
#  5     ping -6 -s 1400 (1448-byte datagrams): answered whole
#  6     ping -6 -s 3000: Linux fragments, the machine reassembles the
#        requests (ip6_reasm_oks) and fragments its 3048-byte replies
#        (ip6_frag_oks), which Linux reassembles: 5 of 5 answered
#  7     UDP echo over IPv6 from a python3 client: 20 datagrams of up to
#        1200 bytes back intact, from [fd00:6::2]:7; and from the
#        link-local address with its scope; 7b datagrams of 8000 bytes,
#        over IPv6 and over IPv4: 3 of 3 each back intact (fragments
#        both ways)
#  8     UDP over IPv6 to a closed port: refused (ICMPv6 port unreachable)
#  9     TCP over IPv6 from python3: 1 MiB to the sink, whose SHA-256
#        matches; 1 MiB from the source, every byte the pattern; 256 KiB
#        echoed back intact; and an echo over the link-local address
# 10     TCP over IPv6 to a closed port: refused (RST)
# 11     once every connection is gone, the stack holds what it held at
#        the start (its listeners): polled for at most 75 s, since the
#        source's connection stays in TIME-WAIT for 60 s, charged
# 12     the machine stops when told; 13 its counters: echoes and
#        solicitations seen, no ND error, no buffer held
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib", "$FindBin::Bin/lib";
use Test::More;
use IPC::Open2;
use Time::HiRes qw(sleep time);
use NfsTest;
use InetTest;

my $ns = "u6-$$";
my $dev = 'u6t0';
my ($pid, $from, $to, $made);
my $drive = build_dir() . '/t/inet-drive';
my ($ip, $ping, $py) = tap_plan($drive, 14, qw(ip ping python3));

my $limit = 200;    # seconds for the whole test
sub cleanup { reap_all(\$pid); netns_gone($ip, $ns, \$made) }
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

system($ip, 'netns', 'add', $ns) == 0 or BAIL_OUT("ip netns add $ns failed");
$made = 1;
$pid = open2($from, $to, $ip, 'netns', 'exec', $ns, $drive, '-E', '7007', '-K', '7008', '-S',
	     '7009', '-6', 'fd00:6::2/64', $dev, '10.216.0.2/24', '7');
chomp(my $ready = <$from> // "");
my ($mac) = $ready =~ /^ready ([0-9a-f:]{17})$/;
ok($mac, "1 the machine is up on the TAP ($ready)") or BAIL_OUT('no machine');
my $base = drive_stat($to, $from) // {};
system($ip, '-n', $ns, 'addr', 'add', '10.216.0.1/24', 'dev', $dev) == 0
    && system($ip, '-n', $ns, 'addr', 'add', 'fd00:6::1/64', 'dev', $dev) == 0
    && system($ip, '-n', $ns, 'link', 'set', $dev, 'up') == 0
    && system($ip, '-n', $ns, 'link', 'set', 'lo', 'up') == 0
    or BAIL_OUT("could not configure $dev");
# Linux's own addresses are tentative until its DAD is done (a second or so).
bounded(15, sub {
	select(undef, undef, undef, 0.2) while `$ip -n $ns -6 addr show dev $dev tentative` ne '';
	1;
}) or BAIL_OUT("the IPv6 addresses of $dev stayed tentative");
# And the machine's until its DAD is done (1 s from its start): polled, at most 10 s.
my ($dad, $t6) = ('', time);
while (time - $t6 < 10) {
	my $s = drive_stat($to, $from) // {};
	$dad = join(', ', map { "$_ $s->{$_}" } sort grep { /\.inet6_\w+_state$/ } keys %$s);
	last if $dad =~ /global_state preferred, \S+link_state preferred$/;
	sleep(0.2);
}
$dad =~ /global_state preferred, \S+link_state preferred$/
    or BAIL_OUT("the machine's IPv6 addresses are not in use: $dad");

my $ll = 'fe80::ff:fe00:2';
my $out = `$ip netns exec $ns $ping -6 -n -c 5 -i 0.2 -W 2 $ll%$dev 2>&1`;
like($out, qr/5 packets transmitted, 5 received/, "2 ping -6 $ll%$dev: 5 of 5 answered")
    or diag($out);

$out = `$ip netns exec $ns $ping -6 -n -c 5 -i 0.2 -W 2 fd00:6::2 2>&1`;
like($out, qr/5 packets transmitted, 5 received/, '3 ping -6 fd00:6::2: 5 of 5 answered')
    or diag($out);

$out = `$ip -n $ns -6 neigh show dev $dev`;
ok($out =~ /^\Q$ll\E lladdr \Q$mac\E/m && $out =~ /^fd00:6::2 lladdr \Q$mac\E/m,
   "4 Linux learned $mac by ND for both addresses") or diag($out);

$out = `$ip netns exec $ns $ping -6 -n -c 5 -i 0.2 -W 2 -s 1400 fd00:6::2 2>&1`;
like($out, qr/5 packets transmitted, 5 received/, '5 ping -6 -s 1400: 5 of 5 answered')
    or diag($out);

my $before = drive_stat($to, $from) // {};
$out = `$ip netns exec $ns $ping -6 -n -c 5 -i 0.2 -W 2 -s 3000 fd00:6::2 2>&1`;
my $after = drive_stat($to, $from) // {};
my %d = map { $_ => ($after->{$_} // 0) - ($before->{$_} // 0) } qw(ip6_reasm_oks ip6_frag_oks);
ok($out =~ /5 packets transmitted, 5 received/ && $d{ip6_reasm_oks} == 5 && $d{ip6_frag_oks} == 5,
   "6 ping -6 -s 3000: 5 of 5 answered; $d{ip6_reasm_oks} requests reassembled, "
   . "$d{ip6_frag_oks} replies sent in fragments") or diag($out);

my $client = <<'PY';
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
good = 0
for i in range(20):
    m = ("hello6-%d " % i).encode() * (1 if i % 2 else 120)
    s.sendto(m, ("fd00:6::2", 7))
    try:
        d, a = s.recvfrom(65536)
        good += d == m and a[:2] == ("fd00:6::2", 7)
    except socket.timeout:
        pass
print("echoed %d" % good)
idx = socket.if_nametoindex(sys.argv[1])
s.sendto(b"scoped", ("fe80::ff:fe00:2", 7, 0, idx))
try:
    d, a = s.recvfrom(64)
    print("link-local %s" % (d == b"scoped" and a[0].startswith("fe80::ff:fe00:2")))
except socket.timeout:
    print("link-local silence")
c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
c.settimeout(2)
c.connect(("fd00:6::2", 9))
c.send(b"x")
try:
    c.recv(16)
    print("answered")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("silence")
big = bytes((i * 7 + 3) % 251 for i in range(8000))
for fam, addr in ((socket.AF_INET6, "fd00:6::2"), (socket.AF_INET, "10.216.0.2")):
    b = socket.socket(fam, socket.SOCK_DGRAM)
    b.settimeout(2)
    good = 0
    for i in range(3):
        b.sendto(big, (addr, 7))
        try:
            d, a = b.recvfrom(65536)
            good += d == big
        except socket.timeout:
            pass
    print("big%d %d" % (6 if fam == socket.AF_INET6 else 4, good))
PY
$out = bounded(30, sub { `$ip netns exec $ns $py -c '$client' $dev 2>&1` }) // 'timed out';
ok($out =~ /^echoed 20$/m && $out =~ /^link-local True$/m,
   '7 UDP echo over IPv6: 20 of 20 back intact from [fd00:6::2]:7, and via the link-local')
    or diag($out);
ok($out =~ /^big6 3$/m && $out =~ /^big4 3$/m,
   '7b UDP echo of 8000 bytes over IPv6 and IPv4: 3 of 3 each back intact') or diag($out);
like($out, qr/^refused$/m, '8 UDP over IPv6 to a closed port: refused by ICMPv6')
    or diag($out);

my $tcp = <<'PY';
import hashlib, os, socket, sys
def conn(addr, port):
    s = socket.create_connection((addr, port), timeout=10)
    return s
def read_all(s):
    parts = []
    while True:
        d = s.recv(65536)
        if not d:
            return b"".join(parts)
        parts.append(d)
data = os.urandom(1 << 20)
s = conn("fd00:6::2", 7008)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
line = read_all(s).decode()
print("sink %s" % (line.strip() == "bytes %d sha256 %s" % (len(data), hashlib.sha256(data).hexdigest())))
s = conn("fd00:6::2", 7009)
s.sendall(b"%d\n" % (1 << 20))
s.shutdown(socket.SHUT_WR)  # our FIN first: the TIME-WAIT is ours, not the machine (60 s)
got = read_all(s)
print("source %s" % (len(got) == 1 << 20 and got == bytes(i % 251 for i in range(1 << 20))))
s = conn("fd00:6::2", 7007)
s.sendall(data[:1 << 18])
s.shutdown(socket.SHUT_WR)
print("echo %s" % (read_all(s) == data[:1 << 18]))
idx = socket.if_nametoindex(sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(("fe80::ff:fe00:2", 7007, 0, idx))
s.sendall(b"scoped")
s.shutdown(socket.SHUT_WR)
print("link-local %s" % (read_all(s) == b"scoped"))
try:
    conn("fd00:6::2", 7010)
    print("accepted")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("silence")
PY
$out = bounded(60, sub { `$ip netns exec $ns $py -c '$tcp' $dev 2>&1` }) // 'timed out';
ok($out =~ /^sink True$/m && $out =~ /^source True$/m && $out =~ /^echo True$/m
       && $out =~ /^link-local True$/m,
   '9 TCP over IPv6: 1 MiB each way intact (sink hash, source pattern), 256 KiB echoed, '
   . 'and over the link-local') or diag($out);
like($out, qr/^refused$/m, '10 TCP over IPv6 to a closed port: refused') or diag($out);

my ($now, $t0) = (undef, time);
my $settled = sub {
	defined($now->{mem_used}) && defined($base->{mem_used}) && $now->{mem_used} == $base->{mem_used}
	    && ($now->{drive_conns} // 1) == 0;
};
do {
	sleep(0.5);
	$now = drive_stat($to, $from) // {};
} while (!$settled->() && time - $t0 < 75);
ok($settled->(), sprintf('11 every connection gone: %s bytes held (%s at the start), after %.1f s',
			 $now->{mem_used} // '?', $base->{mem_used} // '?', time - $t0));

close($to);
my $status = do { local $/; <$from> } // '';
waitpid($pid, 0);
my $rc = $?;
$pid = undef;
is($rc, 0, '12 the machine stopped when told');
my %c = map { split / / } grep { / / } split /\n/, $status;
ok(($c{icmp6_in_echos} // 0) >= 15 && ($c{nd_in_solicits} // 0) >= 1
       && ($c{nd_in_errors} // 1) == 0 && ($c{mem_used} // 1) == 0,
   "13 counters: $c{icmp6_in_echos} echoes, $c{nd_in_solicits} NS, $c{nd_in_errors} ND "
   . "errors, $c{mem_used} bytes held")
    or diag($status);
