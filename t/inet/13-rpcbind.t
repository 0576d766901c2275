#!/usr/bin/perl
# The machine's own rpcbind: umlnfsd -i answers rpcbind (RFC 1833, PMAP 2
# and RPCB 3 and 4) on port 111 of the machine's address, so that clients
# on its network that know only the address find MOUNT and NFS. The
# machine's interface is on a TAP device in a namespace this test makes and
# removes (10.216.0.2/24 and fd00:216::2/64; the namespace's side .1 and
# ::1); the clients are Linux's rpcinfo and libnfs, run in the namespace.
#  1     umlnfsd is up on the machine's address
#  2     rpcinfo -p (PMAP DUMP over TCP) lists portmapper 2, 3 and 4 on
#        111, nfs 3, mountd 1 and 3, nlockmgr 4 and status 1 on 2049, over
#        tcp and udp, and nothing else
#  3     rpcinfo -T tcp and -T udp (RPCB GETADDR, then a NULL call at the
#        address it names) reach nfs 3 and mountd 3; 4 rpcinfo -u reaches
#        the portmapper over UDP
#  5     nfs-ls with no ports in its URL: libnfs asks the portmapper for
#        MOUNT's and NFS's ports and lists /config
#  6     over IPv6: rpcinfo -s names the tcp6 and udp6 netids, and 7
#        rpcinfo -T tcp6 reaches nfs 3 at fd00:216::2 (GETADDR's address)
#  8-12  as an attacker would, over raw RPC: SET and UNSET of a program
#        are refused (FALSE) and the table does not change; CALLIT is not
#        served (PROC_UNAVAIL), so the machine relays nothing; a GETADDR
#        with a netid past 255 bytes is GARBAGE_ARGS; GETPORT of a program
#        nobody serves is port 0
# 13     a flood of 400 DUMPs over UDP (a reflection's shape) gets at most
#        50 tables a second per CPU, the rest a SYSTEM_ERR smaller than the
#        question; a DUMP over TCP right after is answered in full
# 14     a client the export does not list (10.216.0.3) gets no answer
# 15     umlnfsd stops cleanly and no packet buffer is left held
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib", "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use NfsTest;
use InetTest;

my $ns = "umlrpcb$$";
my $dev = 'rb0';
my ($pid, $made, $log);
my $nfsd = build_dir() . '/umlnfsd';
my ($ip, $ping, $rpcinfo) = tap_plan($nfsd, 15, qw(ip ping rpcinfo nfs-ls));

my $limit = 120;
sub cleanup { reap_all(\$pid); netns_gone($ip, $ns, \$made) }
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

sub in_ns { my $cmd = join ' ', @_; return `timeout 20 $ip netns exec $ns $cmd 2>&1` }

system($ip, 'netns', 'add', $ns) == 0 or BAIL_OUT("ip netns add $ns failed");
$made = 1;
$log = tmp_path("umlnfsd-rpcb.$$.log");
my $text;
($pid, $text) = nfsd_on_tap($ip, $ns, $dev, '10.216.0.1/24', 'fd00:216::1/64', $nfsd, $log, '-T',
	'tcp+udp', '-i', "$dev:10.216.0.2/24+fd00:216::2/64", '-e', '/:rw:10.216.0.1,fd00:216::1',
	'-p', "/config/MaxRequestWorkers=150\n");
like($text, qr/ready on \S+ and \S+:2049 \(\Q$dev\E\)/, '1 umlnfsd serves on the machine\'s address')
    or BAIL_OUT("umlnfsd: $text");
# The first answer waits for ARP; the IPv6 address for its DAD.
in_ns("$ping -n -c 1 -W 2 10.216.0.2");
for (1 .. 50) { last if in_ns("$ping -6 -n -c 1 -W 1 fd00:216::2") =~ / 0% packet loss/ }

# rpcinfo -p's "program vers proto port service" lines as { "prog vers proto" => port }.
sub table {
	my ($text) = @_;
	my %t;
	$t{"$1 $2 $3"} = $4 while $text =~ /^\s*(\d+)\s+(\d)\s+(tcp|udp)\s+(\d+)/mg;
	return \%t;
}
my $out = in_ns($rpcinfo, '-p', '10.216.0.2');
my $seen = table($out);
my %want;
for my $t (qw(tcp udp)) {
	$want{"100000 $_ $t"} = 111 for 2, 3, 4;
	$want{"$_ $t"} = 2049 for '100003 3', '100005 1', '100005 3', '100021 4', '100024 1';
}
is_deeply($seen, \%want, '2 rpcinfo -p lists rpcbind on 111 and our five programs on 2049')
    or diag($out);

my @ready = map { in_ns($rpcinfo, '-T', $_->[0], '10.216.0.2', $_->[1], 3) }
    (['tcp', 'nfs'], ['udp', 'nfs'], ['tcp', 'mountd'], ['udp', 'mountd']);
is(scalar(grep { /version 3 ready and waiting/ } @ready), 4,
   '3 rpcinfo -T tcp|udp: GETADDR names where nfs 3 and mountd 3 answer') or diag(@ready);
$out = in_ns($rpcinfo, '-u', '10.216.0.2', 'portmapper', 2);
like($out, qr/version 2 ready and waiting/, '4 rpcinfo -u: the portmapper over UDP') or diag($out);

$out = in_ns('nfs-ls', "'nfs://10.216.0.2/config'");
like($out, qr/MaxRequestWorkers/, '5 nfs-ls with no ports: libnfs asked the portmapper')
    or diag($out);

$out = in_ns($rpcinfo, '-s', 'fd00:216::2');
like($out, qr/^\s*100003\s+3\s+(?=.*tcp6)(?=.*udp6)/m, '6 rpcinfo -s over IPv6: nfs 3 on tcp6 and udp6')
    or diag($out);
$out = in_ns($rpcinfo, '-T', 'tcp6', 'fd00:216::2', 'nfs', 3);
like($out, qr/version 3 ready and waiting/, '7 rpcinfo -T tcp6 reaches nfs 3 at the IPv6 address')
    or diag($out);

# Raw RPC over TCP to 111: each line of output one reply, "accept_stat value...".
my $py = <<'EOF';
import socket, struct, sys
def call(xid, vers, proc, args):
    s = socket.create_connection((sys.argv[1], 111), timeout=5)
    body = struct.pack('>10I', xid, 0, 2, 100000, vers, proc, 0, 0, 0, 0) + args
    s.sendall(struct.pack('>I', 0x80000000 | len(body)) + body)
    b = b''
    while True:
        got = s.recv(65536)
        if not got:
            break
        b += got
        if len(b) >= 4 and len(b) >= 4 + (struct.unpack('>I', b[:4])[0] & 0x7fffffff):
            break
    s.close()
    if len(b) < 28:
        return 'none'
    stat = struct.unpack('>I', b[24:28])[0]
    rest = b[28:]
    return '%d %s' % (stat, ' '.join(str(v) for v in struct.unpack('>%dI' % (len(rest) // 4), rest)))
def s(x):
    x = x.encode()
    return struct.pack('>I', len(x)) + x + b'\0' * (-len(x) % 4)
m = lambda prog, vers, prot, port: struct.pack('>4I', prog, vers, prot, port)
print('set', call(1, 2, 1, m(100003, 3, 6, 4444)))
print('unset', call(2, 2, 2, m(100003, 3, 6, 0)))
print('set3', call(3, 3, 1, struct.pack('>2I', 100099, 1) + s('tcp') + s('10.216.0.1.17.92') + s('x')))
print('callit', call(4, 2, 5, struct.pack('>3I', 100003, 3, 0) + struct.pack('>I', 0)))
print('garbage', call(5, 4, 3, struct.pack('>2I', 100003, 3) + s('t' * 300) + s('') + s('')))
print('getport', call(6, 2, 3, m(100099, 1, 6, 0)))
print('nfsport', call(7, 2, 3, m(100003, 3, 6, 0)))
EOF
my $script = tmp_path("rpcb-raw.$$.py");
open(my $pf, '>', $script) or die "$script: $!";
print $pf $py;
close($pf);
$out = in_ns('/usr/bin/python3', $script, '10.216.0.2');
unlink($script);
my %r = $out =~ /^(\w+) (.*)$/mg;
ok(($r{set} // '') eq '0 0' && ($r{unset} // '') eq '0 0' && ($r{set3} // '') eq '0 0',
   '8 SET and UNSET (PMAP and RPCB) are refused: FALSE') or diag($out);
my $after = in_ns($rpcinfo, '-p', '10.216.0.2');
is_deeply(table($after), \%want, '9 and the table is as it was') or diag($after);
is($r{callit} // '', '3 ', '10 CALLIT is not served (PROC_UNAVAIL): nothing is relayed') or diag($out);
is($r{garbage} // '', '4 ', '11 a netid past 255 bytes is GARBAGE_ARGS') or diag($out);
ok(($r{getport} // '') eq '0 0' && ($r{nfsport} // '') eq '0 2049',
   '12 GETPORT: 0 for a program nobody serves, 2049 for nfs 3') or diag($out);

# 400 RPCB v3 DUMPs over UDP as fast as one socket sends them, 8 in flight.
my $flood = <<'EOF';
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
call = lambda xid: struct.pack('>10I', xid, 0, 2, 100000, 3, 4, 0, 0, 0, 0)
t0, sent, tables, errs, big = time.time(), 0, 0, 0, 0
def take():
    global tables, errs, big
    b, _ = s.recvfrom(65536)
    stat = struct.unpack('>I', b[20:24])[0] if len(b) >= 24 else -1
    if stat == 0:
        tables += 1
    elif stat == 5 and len(b) <= 40:
        errs += 1
    else:
        big += 1
try:
    for i in range(400):
        s.sendto(call(i + 1), (sys.argv[1], 111))
        sent += 1
        if sent > 8:
            take()
    while True:
        take()
except socket.timeout:
    pass
print('secs %.3f tables %d errs %d other %d' % (time.time() - t0 - 1.0, tables, errs, big))
EOF
$script = tmp_path("rpcb-flood.$$.py");
open($pf, '>', $script) or die "$script: $!";
print $pf $flood;
close($pf);
$out = in_ns('/usr/bin/python3', $script, '10.216.0.2');
unlink($script);
my ($secs, $tables, $errs, $other) = $out =~ /secs ([\d.]+) tables (\d+) errs (\d+) other (\d+)/;
# Two workers, so two CPUs' budgets, for each second the flood touched.
my $cap = 2 * 50 * (int($secs // 0) + 2);
$after = in_ns($rpcinfo, '-p', '10.216.0.2');
ok(defined $tables && $tables > 0 && $tables <= $cap && $tables + $errs == 400 && !$other
       && same_table(table($after), \%want),
   "13 400 UDP DUMPs in " . ($secs // '?') . " s: " . ($tables // '?') . " tables (at most $cap), "
       . ($errs // '?') . ' SYSTEM_ERR; a DUMP over TCP after it whole')
    or diag($out, $after);

sub same_table {
	my ($x, $y) = @_;
	my $flat = sub { my $t = shift; join(',', map { "$_=$t->{$_}" } sort keys %$t) };
	return $flat->($x) eq $flat->($y);
}

# Another address of the namespace, which the export does not list.
system($ip, '-n', $ns, 'addr', 'add', '10.216.0.3/24', 'dev', $dev);
system($ip, '-n', $ns, 'route', 'replace', '10.216.0.2', 'dev', $dev, 'src', '10.216.0.3');
$out = in_ns($rpcinfo, '-p', '10.216.0.2');
unlike($out, qr/portmapper|100000/, '14 an unlisted client (10.216.0.3) gets no answer') or diag($out);
system($ip, '-n', $ns, 'route', 'del', '10.216.0.2', 'dev', $dev);

my ($rc, %c);
($rc, $text, %c) = nfsd_stop(\$pid, $log);
ok($rc == 0 && ($c{mem_used} // 1) == 0 && $text !~ /worker \d+ exited/,
   '15 umlnfsd stops cleanly, ' . ($c{mem_used} // '?') . ' bytes of buffers held')
    or diag($text);
unlink($log);
