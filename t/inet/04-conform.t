#!/usr/bin/perl
# Conformance of the machine's stack, segment by segment (issue 13; the
# model is gVisor's packetimpact): t/inet/conform.py makes segments by hand
# with scapy in the peer's namespace and checks what comes back against the
# RFCs. Every case runs twice, against the machine and against Linux, so
# the script is proven on a stack known to be right; where Linux does what
# an RFC allows and the machine does what it should, conform.py says why.
# Two namespaces this test makes and removes: the peer's (tcfp), with the
# TAP owned by t/inet-drive -- a machine at 10.217.0.2/24 and fd00:217::2/64
# with TCP echo (7), sink (5001), source (5002) and keep (5004, echo with
# keepalive) -- and a veth to Linux's namespace (tcfl), where
# t/inet/tcppeer.py serves the same at 10.217.1.2 and fd00:217:1::2. In the
# peer's namespace nftables drops the RSTs its own Linux would send from
# the ports conform.py uses (40000-59999), since no socket there owns them.
# Needs root, /dev/net/tun, ip, nft, ethtool and Debian's python3-scapy.
#  1     the machine is up on the TAP; Linux's services are up
#  then each case, against the machine (M) and then Linux (L):
#  2-4   handshake with no options, MSS only, MSS+WS+TS+SACK-permitted:
#        the SYN-ACK has an MSS and only the options offered; 3000 bytes
#        echo in segments within our MSS (536 without the option), each
#        with a timestamp once they are agreed
#  5-8   a SYN with an unknown option, an option of length 0, one whose
#        length runs past the header, a truncated MSS: ignored or dropped,
#        never a malformed answer; a new connection echoes after it (and
#        the machine answers "stat")
#  9     a bad TCP checksum: no answer, the data not taken, counted
#        (tcp_in_errs; Linux's TcpInCsumErrors)
#  10-12 RST in the window but not at RCV.NXT: challenge ACK, connection
#        stays; at RCV.NXT: gone; out of the window: ignored (RFC 5961 3)
#  13    SYN on an established connection: challenge ACK (RFC 5961 4)
#  14    data out of the window: an ACK of RCV.NXT, the data not taken
#  15    our window 0 while the source has data: probes backing off, the
#        rest as soon as the window opens
#  16-18 passive close, active close, a FIN again in TIME-WAIT is ACKed
#  19    delayed ACK for small segments, at once for two full-sized ones
#  20    SACK block for a hole; the cumulative ACK after it is filled
#  21    ARP: a reply for the target's address with its MAC, to ours; none
#        for another
#  22    ICMP echo with 200 bytes of payload, checked
#  23    ICMP port unreachable for UDP to a closed port, quoting our headers
#  24    to a closed port, a SYN gets RST|ACK, ack = seq+1; an ACK with data
#        gets RST, seq = its ack
#  25    a SYN again in SYN-RECEIVED: the same SYN-ACK again
#  26    no ACK for the SYN-ACK: it comes again after about 1 s
#  27    PAWS (RFC 7323 5.3): data with an old TSval dropped and ACKed
#  28    data on a SYN: taken and echoed, or left unACKed and echoed when
#        sent again (RFC 9293 allows both)
#  29    IPv6 ND: an NS for the target's link-local address gets a
#        solicited NA, hop limit 255, to us
#  30-32 an NS with hop limit 64, with a zero-length option, for a
#        multicast target: no NA (RFC 4861 7.1.1)
#  33    ICMPv6 echo with 200 bytes of payload, checked (RFC 4443 4.2)
#  34    URG with an urgent pointer: the data ACKed in order, the data after
#        it too; the sink read all 200 bytes (Linux: 199, its urgent byte out
#        of band without SO_OOBINLINE; nothing else about URG is asserted)
#  35    window scale 7 offered and agreed: 384 KiB to the sink, sent as far
#        as each ACK's scaled window allows; more than 64 KiB in flight at
#        once, and the cumulative ACK reaches the end
#  36    keepalive probes of ours (SEG.SEQ = SND.NXT - 1, 0 and 1 byte): ACKed
#        at RCV.NXT, SND.NXT; the byte not taken (RFC 1122 4.2.3.6)
#  37    keep (5004; keepalive after 1 s idle on both stacks): a probe
#        <SEQ=RCV.NXT-1><ACK=SND.NXT> of at most a byte after about 1 s
#        idle; answered, the connection stays
#  38-39 a TCP segment of 1200 bytes in five IPv4 fragments, in order and
#        out of order: reassembled, ACKed and echoed
#  40    an ICMP echo in two fragments overlapping by 8 bytes: no reply
#        (RFC 5722's rule, which both stacks apply to IPv4); the same echo
#        in three fragments without overlap, the last first and the middle
#        one twice (an exact duplicate, dropped alone): answered
#  41    SACK-permitted, a hole and then 120 segments of 500 bytes behind it
#        (within the SYN-ACK's window): SACKed as one block, and all ACKed
#        once the hole is filled (the machine's out-of-order queue held 64
#        segments, and stopped at 32,500)
#  42-66 the TCP cases 2-5, 9-20, 24-28 and 34-37 again over IPv6, between
#        global addresses (conform.py's "v6:" cases): the same segments in
#        IPv6 datagrams; the SYN-ACK's MSS and every segment of data within
#        a 1500-byte frame (1440 bytes of options and data; 1460 over IPv4,
#        checked in 2-40 too) though we offer 1460, and at most 1220 bytes
#        without our MSS option (RFC 9293 3.7.1). Not 6-8: the options
#        parser is the same for both families, and they cost 4 s. The
#        machine's address is used once its DAD is done (polled, at most
#        10 s; Linux's addresses are made without DAD)
#  and last:
#  67    the machine stops when told (status 0)
# UML_CONFORM_PEERS=L runs the cases against Linux alone; UML_CONFORM_CASES=
# urgent,wscale runs those cases alone (by name); UML_CONFORM_PCAP=FILE keeps
# a tcpdump of the TAP.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib", "$FindBin::Bin/lib";
use Test::More;
use IPC::Open2;
use Time::HiRes qw(sleep time);
use NfsTest;
use InetTest;

my ($nsp, $nsl) = ("tcfp$$", "tcfl$$");
my ($tap, $va, $vb) = ('tcftap0', 'tcfv0a', 'tcfv0b');
my %me = (M => '10.217.0.1', L => '10.217.1.1');
my %peer = (M => '10.217.0.2', L => '10.217.1.2');
my %me6 = (M => 'fd00:217::1', L => 'fd00:217:1::1');
my %peer6 = (M => 'fd00:217::2', L => 'fd00:217:1::2');
my %dev = (M => $tap, L => $va);
my %name = (M => 'machine', L => 'Linux');
my $conform = "$FindBin::Bin/conform.py";
my $peerpy = "$FindBin::Bin/tcppeer.py";
my $drive = build_dir() . '/t/inet-drive';
my $py = '/usr/bin/python3';    # Debian's, with its scapy (not a python3 of pyenv's)
my ($ip, $nft, $ethtool) = tap_plan($drive, undef, qw(ip nft ethtool));
my ($nstat, $tcpdump) = (which('nstat'), which('tcpdump'));
plan(skip_all => "needs $py with scapy (python3-scapy)")
    unless system("$py -c 'import scapy.all' >/dev/null 2>&1") == 0;
my @targets = grep { /^[ML]$/ } split(//, $ENV{UML_CONFORM_PEERS} // 'ML');
my $machine = grep { $_ eq 'M' } @targets;

my @cases = (
	[2,  'opts-none',        'handshake, no options'],
	[3,  'opts-mss',         'handshake, MSS only'],
	[4,  'opts-all',         'handshake, MSS+WS+TS+SACK-permitted'],
	[5,  'badopt-unknown',   'SYN with an unknown option'],
	[6,  'badopt-len0',      'SYN with an option of length 0'],
	[7,  'badopt-past',      'SYN with an option past the header'],
	[8,  'badopt-truncmss',  'SYN with a truncated MSS'],
	[9,  'csum',             'bad TCP checksum'],
	[10, 'rst-inwin',        'RST in window, not exact'],
	[11, 'rst-exact',        'RST at RCV.NXT'],
	[12, 'rst-oow',          'RST out of window'],
	[13, 'syn-estab',        'SYN on an established connection'],
	[14, 'oow-data',         'data out of window'],
	[15, 'zero-window',      'zero window: persist'],
	[16, 'fin-passive',      'passive close'],
	[17, 'fin-active',       'active close'],
	[18, 'time-wait',        'FIN again in TIME-WAIT'],
	[19, 'delayed-ack',      'delayed ACK'],
	[20, 'sack',             'SACK after a hole'],
	[21, 'arp',              'ARP'],
	[22, 'icmp-echo',        'ICMP echo'],
	[23, 'port-unreach',     'ICMP port unreachable'],
	[24, 'closed',           'SYN and ACK to a closed port'],
	[25, 'syn-again',        'SYN again in SYN-RECEIVED'],
	[26, 'synack-rtx',       'SYN-ACK retransmitted'],
	[27, 'paws',             'PAWS: an old timestamp'],
	[28, 'syn-data',         'data on a SYN'],
	[29, 'nd-ns',            'IPv6 NS for the link-local address'],
	[30, 'nd-hops',          'IPv6 NS with hop limit 64'],
	[31, 'nd-opt0',          'IPv6 NS with a zero-length option'],
	[32, 'nd-mcast',         'IPv6 NS for a multicast target'],
	[33, 'echo6',            'ICMPv6 echo'],
	[34, 'urgent',           'URG data'],
	[35, 'wscale',           'over 64 KiB in flight, window scaled'],
	[36, 'keep-answer',      'keepalive probes answered'],
	[37, 'keep-probe',       'keepalive probes sent'],
	[38, 'frag-inorder',     'a segment in IPv4 fragments'],
	[39, 'frag-reorder',     'a segment in IPv4 fragments out of order'],
	[40, 'frag-overlap',     'overlapping IPv4 fragments'],
	[41, 'sack-many',        'a hole and 120 segments behind it'],
);
# The TCP cases again over IPv6 (not ARP, ICMP, ND, UDP, IPv4's fragments, nor badopt's
# other three: see above).
my %what = map { $_->[1] => $_->[2] } @cases;
my $n6 = 42;
push @cases, map { [$n6++, "v6:$_", "$what{$_}, over IPv6"] }
    qw(opts-none opts-mss opts-all badopt-unknown csum rst-inwin rst-exact rst-oow syn-estab
       oow-data zero-window fin-passive fin-active time-wait delayed-ack sack closed syn-again
       synack-rtx paws syn-data urgent wscale keep-answer keep-probe);
my $last = $n6;
if (my $only = $ENV{UML_CONFORM_CASES}) {
	my %want = map { $_ => 1 } split(/,/, $only);
	@cases = grep { $want{ $_->[1] } } @cases;
}
# Cases the machine is known to fail, with the finding: case => reason.
my %todo = ();
plan(tests => 1 + @cases * @targets + ($machine ? 1 : 0));

my $limit = 300;    # seconds for the whole test; every step has its own bound below
my (%made, $dpid, $dfrom, $dto, $lpid, $lto, $cap, %cpid, %cfrom, %cto);
sub cleanup {
	reap_all(\$dpid, \$lpid, \$cap, map { \$cpid{$_} } keys %cpid);
	%cpid = ();
	netns_gone($ip, $_, \$made{$_}) for keys %made;
	%made = ();
}
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

sub run { system(@_) == 0 or BAIL_OUT("failed: @_") }

veth_pair($ip, \%made, [$nsp, $va, "$me{L}/24", "$me6{L}/64"],
	  [$nsl, $vb, "$peer{L}/24", "$peer6{L}/64"]);
# Segments as Linux makes them, one frame each and with their checksums
# filled in (veth would pass on 64 KB super-packets and partial checksums).
for ([$nsp, $va], [$nsl, $vb]) {
	my ($ns, $d) = @$_;
	run($ip, '-n', $ns, 'link', 'set', $d, 'gso_max_segs', '1');
	run("$ip netns exec $ns $ethtool -K $d tx off tso off gso off gro off >/dev/null 2>&1");
	run($ip, '-n', $ns, 'link', 'set', $d, 'up');
}
open(my $nfh, '|-', "$ip netns exec $nsp $nft -f -") or BAIL_OUT("nft: $!");
print $nfh "table inet tcf {\n chain out {\n  type filter hook output priority 0;\n"
    . "  tcp sport 40000-59999 tcp flags & rst == rst drop;\n }\n}\n";
close($nfh) or BAIL_OUT('nft -f failed');

# The machine's counters now ("stat": inet_status lines up to "end"), or
# undef if it did not answer.
sub machine_stat { return drive_stat($dto, $dfrom) }

# Linux's TcpInCsumErrors in its namespace (nstat -s: no history file).
sub linux_csum_errors {
	return undef unless $nstat;
	my $out = `$ip netns exec $nsl $nstat -asz TcpInCsumErrors 2>/dev/null`;
	return $out =~ /TcpInCsumErrors\s+(\d+)/ ? $1 : undef;
}

my ($ready, $up, %mac) = ('not asked for', !$machine);
if ($machine) {
	# Plain frames (-P) for the same reason: with offloads the machine would
	# leave its checksums to the host and hand it segments of many MSS,
	# which scapy reads off the TAP as they are (t/inet/09-vnet.t tests those).
	$dpid = open2($dfrom, $dto, $ip, 'netns', 'exec', $nsp, $drive, '-P', '-E', '7', '-K',
		      '5001', '-S', '5002', '-A', '5004', '-6', "$peer6{M}/64", $tap, "$peer{M}/24",
		      '7');
	chomp($ready = bounded(30, sub { scalar(<$dfrom>) }) // 'no answer');
	$up = $ready =~ /^ready ([0-9a-f:]{17})$/;
	$mac{M} = $1;
}
if ($machine && $up) {
	run($ip, '-n', $nsp, 'addr', 'add', "$me{M}/24", 'dev', $tap);
	run($ip, '-n', $nsp, 'addr', 'add', "$me6{M}/64", 'dev', $tap, 'nodad');
	run($ip, '-n', $nsp, 'link', 'set', $tap, 'up');
}
($mac{L}) = `$ip -n $nsl link show $vb` =~ m{link/ether ([0-9a-f:]{17})};
$lpid = open2(my $lfrom, $lto, $ip, 'netns', 'exec', $nsl, $py, $peerpy, 'serve', $peer{L},
		$peer6{L});
chomp(my $serving = bounded(30, sub { scalar(<$lfrom>) }) // 'no answer');
if ((my $pcap = $ENV{UML_CONFORM_PCAP}) && $machine) {
	$cap = fork() // BAIL_OUT("fork: $!");
	if (!$cap) {
		open(STDERR, '>', '/dev/null');
		exec($ip, 'netns', 'exec', $nsp, $tcpdump, '-i', $tap, '-s', '256', '-w', $pcap);
		exit 127;
	}
	sleep(1);
}
my %said;
for my $t (@targets) {
	$cpid{$t} = open2($cfrom{$t}, $cto{$t}, $ip, 'netns', 'exec', $nsp, $py, $conform, $dev{$t},
			  $me{$t}, $peer{$t}, $mac{$t} // '00:00:00:00:00:00', $t, $me6{$t},
			  $peer6{$t});
	$cto{$t}->autoflush(1);
	chomp($said{$t} = bounded(30, sub { scalar(readline($cfrom{$t})) }) // 'no answer');
}
ok($up && $serving eq 'serving' && !grep({ $said{$_} ne 'ready' } @targets),
   "1 the machine is up on $tap ($ready), Linux serves ($serving), conform.py is ready ("
   . join(', ', map { "$_: $said{$_}" } @targets) . ')')
    or BAIL_OUT('no machine, no Linux peer or no conform.py');

# Linux's IPv6 addresses (the link-locals its neighbour discovery answers
# from) are tentative until its DAD is done: wait for both namespaces.
bounded(15, sub {
	select(undef, undef, undef, 0.2)
	    while grep { `$ip -n $_ -6 addr show tentative` ne '' } $nsp, $nsl;
	1;
}) or diag('IPv6 addresses still tentative: the IPv6 cases may fail');
# And the machine's global address until its DAD is done (1 s from its start).
if ($machine) {
	my ($dad, $t6) = ('', time);
	while (time - $t6 < 10) {
		my $st = machine_stat() // {};
		($dad) = map { $st->{$_} } grep { /\.inet6_global_state$/ } keys %$st;
		$dad //= 'not said';
		last if $dad eq 'preferred';
		sleep(0.2);
	}
	diag("the machine's IPv6 address is $dad: the IPv6 cases may fail") if $dad ne 'preferred';
}

# One case against one target: conform.py's line.
sub conform {
	my ($t, $case) = @_;
	local $SIG{PIPE} = 'IGNORE';
	print { $cto{$t} } "$case\n";
	my $out = bounded(30, sub { scalar(readline($cfrom{$t})) }) // "bad: no answer within 30 s\n";
	chomp($out);
	return $out;
}

for my $c (@cases) {
	my ($n, $case, $what) = @$c;
	for my $t (@targets) {
		my $csum = $case =~ /^(v6:)?csum$/;
		my ($before, $lbefore) = ($t eq 'M' && $csum ? machine_stat() : undef,
					  $t eq 'L' && $csum ? linux_csum_errors() : undef);
		my $out = conform($t, $case);
		my $good = $out =~ /^ok /;
		if ($t eq 'M' && $case =~ /^(v6:)?badopt/) {
			my $st = machine_stat();
			$good &&= defined $st;
			$out .= defined $st ? '; the machine answers stat' : '; the machine does not answer stat';
		}
		if ($csum && $t eq 'M') {
			my $after = machine_stat();
			my $d = ($after->{tcp_in_errs} // 0) - ($before->{tcp_in_errs} // 0);
			$good &&= $d >= 1;
			$out .= "; tcp_in_errs +$d";
		}
		if ($csum && $t eq 'L' && defined $lbefore) {
			my $d = (linux_csum_errors() // 0) - $lbefore;
			$good &&= $d >= 1;
			$out .= "; TcpInCsumErrors +$d";
		}
	      TODO: {
			local $TODO = $t eq 'M' ? $todo{$case} : undef;
			ok($good, "$n$t $what against $name{$t} ($out)");
		}
	}
}

close($cto{$_}) for @targets;
for my $t (@targets) {
	delete $cpid{$t} if bounded(10, sub { waitpid($cpid{$t}, 0) });    # else cleanup kills it
}
exit(0) unless $machine;
close($dto);
my $status = bounded(20, sub { local $/; scalar(<$dfrom>) }) // '';
kill('KILL', $dpid) unless $status;
waitpid($dpid, 0);
my $rc = $?;
$dpid = undef;
my %f = map { split / / } grep { / / } split /\n/, $status;
ok($rc == 0 && $status =~ /^mem_used /m,
   "$last the machine stopped when told (status $rc), $f{mem_used} bytes held after "
   . '(connections in TIME-WAIT among them)')
    or diag($status);
close($lto);
