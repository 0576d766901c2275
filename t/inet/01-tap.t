#!/usr/bin/perl
# The machine's own stack against Linux's, on a TAP device in a network
# namespace this test makes and removes: t/inet-drive (built by make) is a
# machine at 10.213.0.2/24 with a UDP echo service on port 7 on a kernel
# thread; the namespace's side of the TAP is 10.213.0.1/24. Needs root.
#  1     the machine comes up on the TAP
#  2     ping: 5 echoes, all answered
#  3     Linux learned the machine's MAC by ARP (ip neigh)
#  4     ping -s 3000: 50 echoes, each 3 fragments each way, all answered
#  5     UDP echo from a python3 client: 20 datagrams, half of them 3 KB
#        (fragmented both ways), all back intact
#  6     UDP to a closed port: the client is refused (ICMP port unreachable)
#  7     the machine stops when told and reports its counters
#  8     its counters: 55 echoes, 60 reassembled, no buffer held
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib", "$FindBin::Bin/lib";
use Test::More;
use IPC::Open2;
use NfsTest;
use InetTest;

my $ns = "umlinet$$";
my ($pid, $from, $to, $made);
my $drive = build_dir() . '/t/inet-drive';
my ($ip, $ping, $py) = tap_plan($drive, 8, qw(ip ping python3));

my $limit = 120;    # seconds for the whole test
sub cleanup { reap_all(\$pid); netns_gone($ip, $ns, \$made) }
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

sub in_ns { system($ip, 'netns', 'exec', $ns, @_) }

system($ip, 'netns', 'add', $ns) == 0 or BAIL_OUT("ip netns add $ns failed");
$made = 1;
$pid = open2($from, $to, $ip, 'netns', 'exec', $ns, $drive, 'umlt0', '10.213.0.2/24', '7');
chomp(my $ready = <$from> // "");
my ($mac) = $ready =~ /^ready ([0-9a-f:]{17})$/;
ok($mac, "1 the machine is up on the TAP ($ready)") or BAIL_OUT('no machine');
system($ip, '-n', $ns, 'addr', 'add', '10.213.0.1/24', 'dev', 'umlt0') == 0
    && system($ip, '-n', $ns, 'link', 'set', 'umlt0', 'up') == 0
    && system($ip, '-n', $ns, 'link', 'set', 'lo', 'up') == 0
    or BAIL_OUT('could not configure umlt0');

my $out = `$ip netns exec $ns $ping -n -c 5 -i 0.2 -W 2 10.213.0.2 2>&1`;
like($out, qr/5 packets transmitted, 5 received/, '2 ping: 5 of 5 answered') or diag($out);

$out = `$ip -n $ns neigh show 10.213.0.2`;
like($out, qr/lladdr \Q$mac\E/, "3 Linux learned $mac by ARP") or diag($out);

$out = `$ip netns exec $ns $ping -n -c 50 -i 0.05 -s 3000 -W 2 10.213.0.2 2>&1`;
like($out, qr/50 packets transmitted, 50 received/, '4 ping -s 3000: 50 of 50 answered')
    or diag($out);

my $client = <<'EOF';
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
good = 0
for i in range(20):
    m = ("hello-%d " % i).encode() * (1 if i % 2 else 300)
    s.sendto(m, ("10.213.0.2", 7))
    try:
        d, a = s.recvfrom(65536)
        good += d == m and a == ("10.213.0.2", 7)
    except socket.timeout:
        pass
print("echoed %d" % good)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(2)
c.connect(("10.213.0.2", 9))
c.send(b"x")
try:
    c.recv(16)
    print("answered")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("silence")
EOF
$out = `$ip netns exec $ns $py -c '$client' 2>&1`;
like($out, qr/^echoed 20$/m, '5 UDP echo: 20 of 20 back intact, half of them 3 KB') or diag($out);
like($out, qr/^refused$/m, '6 UDP to a closed port: refused by ICMP port unreachable')
    or diag($out);

close($to);
my $status = do { local $/; <$from> } // '';
waitpid($pid, 0);
my $rc = $?;
$pid = undef;
is($rc, 0, '7 the machine stopped when told');
my %c = map { split / / } grep { / / } split /\n/, $status;
ok(($c{icmp_in_echos} // 0) >= 55 && ($c{ip_reasm_oks} // 0) >= 60 && ($c{mem_used} // 1) == 0,
   "8 counters: $c{icmp_in_echos} echoes, $c{ip_reasm_oks} reassembled, "
   . "$c{mem_used} bytes held")
    or diag($status);
