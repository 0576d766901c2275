#!/usr/bin/perl
# The machine's TCP against Linux's, and every case run against Linux too,
# so the clients are proven on a stack known to be right. Two network
# namespaces this test makes and removes: the client's (tt02c) holds the
# TAP owned by t/inet-drive -- a machine at 10.216.0.2/24 with TCP echo
# (7), sink (5001), source (5002) and rr (5003) on kernel threads -- and a
# veth to the Linux peer's namespace (tt02l), where t/inet/tcppeer.py
# serves the same four services at 10.216.1.2. The clients are tcppeer.py
# too. Needs root, /dev/net/tun, ip, python3; the loss cases need nft.
#  1     the machine comes up on the TAP; the Linux peer is up
#  then, for the machine (M) and for Linux (L), in that order:
#  2     echo: 1 MiB sent while read back, compared
#  3     sink: 64 MiB of random data, sha256 on both sides the same
#  4     source: 64 MiB of the pattern fetched, sha256 checked
#  5     200 connections open at once, each echoes 1000 bytes
#  6     a connect to a closed port is refused (RST) in under 1 s
#  7     rr: 1000 64-byte round trips, each answer checked
#  8     with nftables dropping 1% of frames both ways on the client's
#        device: 16 MiB to the sink intact, within 60 s
#  9     the same loss: 16 MiB from the source intact, within 60 s
#  10    (machine) in those two cases it retransmitted at most 10% of the
#        segments it sent: it once resent, again and again, data the peer
#        had acknowledged (D-SACKed), 2 copies of every segment
#  and then:
#  11    once every client has closed, the machine's stack holds what it
#        held when it came up (its listeners' sockets), no more: no packet
#        buffer and no socket left behind. Polled for at most 75 s: a
#        connection the machine closed first would stay in TIME-WAIT for 2
#        MSL, 60 s, charged; every client here sends its FIN first (the
#        source client half-closes after its request), so none does.
#  12    the machine stops when told; nothing held after the stop
# UML_TCP_PEERS=L runs the cases against Linux alone (to check the clients
# without a machine); UML_TCP_PCAP=FILE keeps a tcpdump of the TAP.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib", "$FindBin::Bin/lib";
use Test::More;
use IPC::Open2;
use Time::HiRes qw(sleep time);
use NfsTest;
use InetTest;

my ($nsc, $nsl) = ("tt02c$$", "tt02l$$");
my ($tap, $va, $vb) = ('tttap0', 'ttv0a', 'ttv0b');
my %peer = (M => '10.216.0.2', L => '10.216.1.2');
my %name = (M => 'machine', L => 'Linux');
my $peerpy = "$FindBin::Bin/tcppeer.py";
my $drive = build_dir() . '/t/inet-drive';
my ($ip, $py) = tap_plan($drive, undef, qw(ip python3));
my ($nft, $tcpdump, $ethtool) = (which('nft'), which('tcpdump'), which('ethtool'));
my @targets = grep { /^[ML]$/ } split(//, $ENV{UML_TCP_PEERS} // 'ML');
my $machine = grep { $_ eq 'M' } @targets;
plan(tests => 1 + 8 * @targets + ($machine ? 3 : 0));

my $limit = 900;    # seconds for the whole test; every step has its own bound below
my (%made, $dpid, $dfrom, $dto, $lpid, $lto, $cap);
sub cleanup {
	reap_all(\$dpid, \$lpid, \$cap);
	netns_gone($ip, $_, \$made{$_}) for keys %made;
	%made = ();
}
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

sub run { system(@_) == 0 or BAIL_OUT("failed: @_") }

veth_pair($ip, \%made, [$nsc, $va, '10.216.1.1/24'], [$nsl, $vb, '10.216.1.2/24']);
run($ip, '-n', $nsc, 'link', 'set', $va, 'up');
run($ip, '-n', $nsl, 'link', 'set', $vb, 'up');
# Frames of the MTU on every device, so that the loss cases drop segments,
# not 64 KB super-packets: the netdev hooks see a packet before GSO cuts it
# (egress) and after GRO merged it (ingress). Without ethtool GRO stays on.
sub flat {
	my ($ns, $dev) = @_;
	run($ip, '-n', $ns, 'link', 'set', $dev, 'gso_max_segs', '1');
	system("$ip netns exec $ns $ethtool -K $dev gro off >/dev/null 2>&1") if $ethtool;
}
flat($nsc, $va);
flat($nsl, $vb);

# The machine's counters now ("stat": inet_status lines up to "end").
sub machine_stat { return drive_stat($dto, $dfrom) // {} }

# The machine: 96 MiB (200 connection threads and their buffers), a stack
# budget of 48 MiB.
my ($ready, $up) = ('not asked for', !$machine);
if ($machine) {
	$dpid = open2($dfrom, $dto, $ip, 'netns', 'exec', $nsc, $drive, '-m', '96', '-b', '48', '-E',
		      '7', '-K', '5001', '-S', '5002', '-R', '5003', $tap, '10.216.0.2/24', '7');
	chomp($ready = bounded(30, sub { scalar(<$dfrom>) }) // 'no answer');
	$up = $ready =~ /^ready [0-9a-f:]{17}$/;
}
if ($machine && $up) {
	run($ip, '-n', $nsc, 'addr', 'add', '10.216.0.1/24', 'dev', $tap);
	run($ip, '-n', $nsc, 'link', 'set', $tap, 'up');
	flat($nsc, $tap);
}
my $base = $machine && $up ? machine_stat() : {};
$lpid = open2(my $lfrom, $lto, $ip, 'netns', 'exec', $nsl, $py, $peerpy, 'serve', $peer{L});
chomp(my $serving = bounded(30, sub { scalar(<$lfrom>) }) // 'no answer');
ok($up && $serving eq 'serving', "1 the machine is up on $tap ($ready), the Linux peer too ($serving)")
    or BAIL_OUT('no machine or no peer');
if ((my $pcap = $ENV{UML_TCP_PCAP}) && $machine) {
	$cap = fork() // BAIL_OUT("fork: $!");
	if (!$cap) {
		open(STDERR, '>', '/dev/null');
		exec($ip, 'netns', 'exec', $nsc, $tcpdump, '-i', $tap, '-s', '128', '-w', $pcap);
		exit 127;
	}
	sleep(1);
}

# A client, in the client's namespace, at most $secs seconds: its line.
sub client {
	my ($secs, @args) = @_;
	my $out = `timeout -k 5 $secs $ip netns exec $nsc $py $peerpy @args 2>&1`;
	$out = "bad: no answer within $secs s ($out)" if $? >> 8 == 124 || $? >> 8 == 137;
	chomp($out);
	return $out;
}

# A case against both peers: the machine's first.
sub both {
	my ($n, $what, $secs, $check, @args) = @_;
	for my $t (@targets) {
		my $out = client($secs, map { $_ eq 'HOST' ? $peer{$t} : $_ } @args);
		my $good = $out =~ /^ok / && (!$check || $check->($out));
		ok($good, "$n$t $what against the $name{$t} ($out)");
	}
}

both(2, 'echo 1 MiB', 60, undef, 'echo', 'HOST', 1 << 20);
both(3, 'sink 64 MiB, sha256 both sides', 120, undef, 'sink', 'HOST', 64 << 20);
both(4, 'source 64 MiB, sha256 checked', 120, undef, 'source', 'HOST', 64 << 20);
both(5, '200 concurrent connections echo 1000 bytes each', 120, undef, 'conc', 'HOST', 200, 1000);
both(6, 'closed port refused in under 1 s', 10, sub { $_[0] =~ /in ([\d.]+) s/ && $1 < 1 },
     'refused', 'HOST', 5999);
both(7, 'rr 1000 round trips of 64 bytes', 60, undef, 'rr', 'HOST', 1000);

SKIP: {
	skip('no nft (nftables): no loss cases', 2 * @targets + ($machine ? 1 : 0)) unless $nft;
	my $rules = join("\n",
		'table netdev tt02loss {',
		map({ ("chain in_$_ { type filter hook ingress device $_ priority 0; "
		       . 'numgen random mod 100 < 1 counter drop; }',
		       "chain out_$_ { type filter hook egress device $_ priority 0; "
		       . 'numgen random mod 100 < 1 counter drop; }') } ($machine ? ($tap) : ()), $va),
		'}', '');
	open(my $fh, '|-', "$ip netns exec $nsc $nft -f -") or BAIL_OUT("nft: $!");
	print $fh $rules;
	close($fh) or BAIL_OUT("nft -f failed:\n$rules");
	my $before = $machine ? machine_stat() : {};
	both(8, '1% loss both ways: sink 16 MiB intact within 60 s', 60, undef, 'sink', 'HOST',
	     16 << 20);
	both(9, '1% loss both ways: source 16 MiB intact within 60 s', 60, undef, 'source', 'HOST',
	     16 << 20);
	if ($machine) {
		my $after = machine_stat();
		my %d = map { $_ => ($after->{$_} // 0) - ($before->{$_} // 0) }
		    qw(tcp_out_segs tcp_retrans_segs tcp_fast_retrans tcp_timeouts);
		ok($d{tcp_out_segs} > 0 && $d{tcp_retrans_segs} <= $d{tcp_out_segs} / 10,
		   "10 under 1% loss the machine retransmitted $d{tcp_retrans_segs} of its "
		   . "$d{tcp_out_segs} segments (at most 10%), $d{tcp_fast_retrans} fast "
		   . "retransmits, $d{tcp_timeouts} timeouts");
	}
	diag(`$ip netns exec $nsc $nft list table netdev tt02loss | grep -o 'chain [a-z_0-9]*\\|packets [0-9]*'`
	     =~ s/\n(?=packets)/ /gr);
	system($ip, 'netns', 'exec', $nsc, $nft, 'delete', 'table', 'netdev', 'tt02loss');
}

exit(0) unless $machine;
my ($c, $t0, $held) = (undef, time);
my $settled = sub {
	defined($c->{mem_used}) && defined($base->{mem_used}) && $c->{mem_used} == $base->{mem_used}
	    && ($c->{drive_conns} // 1) == 0;
};
do {
	sleep(0.5);
	$c = machine_stat();
} while (!$settled->() && time - $t0 < 75);
ok($settled->(),
   sprintf('11 every client closed: %s bytes held (%s at the start, the listeners), '
	   . '%s connections open, after %.1f s', $c->{mem_used} // '?', $base->{mem_used} // '?',
	   $c->{drive_conns} // '?', time - $t0))
    or diag(join(' ', map { "$_=$c->{$_}" } grep { /tcp|mem/ } sort keys %$c));

close($dto);
my $status = bounded(20, sub { local $/; scalar(<$dfrom>) }) // '';
kill('KILL', $dpid) unless $status;
waitpid($dpid, 0);
my $rc = $?;
$dpid = undef;
my %f = map { split / / } grep { / / } split /\n/, $status;
ok($rc == 0 && ($f{mem_used} // 1) == 0,
   "12 the machine stopped when told (status $rc), $f{mem_used} bytes held after")
    or diag($status);
close($lto);
