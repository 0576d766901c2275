#!/usr/bin/perl
# Offloads on the machine's TAP (issue 13 step 4): t/inet-drive with
# virtio-net headers, checksum offload and TSO (its default), then with
# plain frames (-P), each on a TAP in a network namespace this test makes
# and removes (the machine 10.220.0.2/24, the namespace's side 10.220.0.1),
# Linux's own stack as the peer: curl fetches from the machine's http
# service (-W: "GET /N" answers N bytes of the pattern, byte i being
# i % 251) and t/inet/tcppeer.py sends to its sink (-K 5001: "bytes N
# sha256 HEX" after the FIN). Needs root, /dev/net/tun, ip, curl, python3.
#  for offloads on, then off:
#  1     the machine is up, and its status says vnet_hdr+tso (on) or
#        plain, not refused (off)
#  2     curl fetches 256 MiB: status 200, the length announced, and the
#        sha256 of what arrived is the pattern's
#  3     64 MiB of random data to the sink: the same sha256 both sides
#  4     on: the host handed the machine coalesced segments (rx_gso),
#        took TSO segments from it (tx_gso) and left it partial checksums
#        (rx_csum_partial), and the machine retransmitted little; off:
#        none of the three moved
#  4b    on, over IPv6 (the machine fd00:209::2/64): curl fetches 64 MiB
#        and 16 MiB go to the sink, both intact, and IPv6 segments of many
#        MSS went both ways (rx_gso, tx_gso moved during it: TSO6)
#  5     the machine stops when told
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib", "$FindBin::Bin/lib";
use Test::More;
use IPC::Open2;
use Time::HiRes qw(sleep time);
use NfsTest;
use InetTest;

my $ns = "uv09-$$";
my $tap = 'uvt09';
my ($maddr, $haddr) = ('10.220.0.2', '10.220.0.1');
my ($maddr6, $haddr6) = ('fd00:209::2', 'fd00:209::1');
my $big = $ENV{UML_VNET_BYTES} // (256 << 20);
my $up = 64 << 20;
my $drive = build_dir() . '/t/inet-drive';
my $peerpy = "$FindBin::Bin/tcppeer.py";
my ($ip, $curl, $py) = tap_plan($drive, 11, qw(ip curl python3));

my $limit = 600;
my ($made, $dpid, $dfrom, $dto);
sub cleanup { reap_all(\$dpid); netns_gone($ip, $ns, \$made) }
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

sub run { system(@_) == 0 or BAIL_OUT("failed: @_") }

# curl of /$n from the namespace (InetTest's http_fetch).
sub fetch { http_fetch($ip, $curl, $ns, $maddr, @_) }

my $want = pattern_sha($big);

sub one_run {
	my ($on) = @_;
	my $mode = $on ? 'on' : 'off';

	run($ip, 'netns', 'add', $ns);
	$made = 1;
	run($ip, '-n', $ns, 'link', 'set', 'lo', 'up');
	$dpid = open2($dfrom, $dto, $ip, 'netns', 'exec', $ns, $drive, '-m', '64', '-b', '16',
		      '-W', '80', '-K', '5001', '-6', "$maddr6/64", ($on ? () : ('-P')), $tap,
		      "$maddr/24", '7');
	$dto->autoflush(1);
	chomp(my $ready = bounded(30, sub { scalar(<$dfrom>) }) // 'no answer');
	my $alive = $ready =~ /^ready [0-9a-f:]{17}$/;
	if ($alive) {
		run($ip, '-n', $ns, 'addr', 'add', "$haddr/24", 'dev', $tap);
		run($ip, '-n', $ns, '-6', 'addr', 'add', "$haddr6/64", 'dev', $tap, 'nodad');
		run($ip, '-n', $ns, 'link', 'set', $tap, 'up');
	}
	my $base = ($alive && drive_stat($dto, $dfrom, 10)) || {};
	my $said = $base->{"$tap.offload"} // 'none';
	my $refused = $base->{"$tap.offload_refused"} // 'none';
	ok($alive && ($on ? $said eq 'vnet_hdr+tso' : $said eq 'plain' && $refused eq '0'),
	   "1 ($mode) the machine is up on $tap ($ready), offload $said (refused $refused)")
	    or BAIL_OUT('no machine');

	my $t0 = time;
	my $got = fetch($big, 240);
	ok($got eq "200 $big $want",
	   sprintf('2 (%s) curl fetched %d bytes in %.1f s: %s (want 200 %d %.12s...)', $mode,
		   $big, time - $t0, $got, $big, $want));

	my $sink = `timeout -k 5 180 $ip netns exec $ns $py $peerpy sink $maddr $up 2>&1`;
	chomp($sink);
	ok($sink =~ /^ok sink/, "3 ($mode) $up bytes to the sink: $sink");

	my $st = drive_stat($dto, $dfrom, 10) // {};
	my %d = map { $_ => ($st->{"$tap.$_"} // 0) - ($base->{"$tap.$_"} // 0) }
	    qw(rx_gso tx_gso rx_csum_partial tx_packets);
	my $rtx = ($st->{tcp_retrans_segs} // 0) - ($base->{tcp_retrans_segs} // 0);
	my $segs = ($st->{tcp_out_segs} // 0) - ($base->{tcp_out_segs} // 0);
	my $what = "rx_gso $d{rx_gso}, tx_gso $d{tx_gso}, rx_csum_partial $d{rx_csum_partial}, " .
	    "$d{tx_packets} frames and $segs segments out, $rtx retransmitted";
	if ($on) {
		ok($d{rx_gso} > 0 && $d{tx_gso} > 0 && $d{rx_csum_partial} > 0 &&
		       $rtx <= $segs / 10,
		   "4 (on) the host took and gave segments of many MSS: $what");
	} else {
		ok($d{rx_gso} == 0 && $d{tx_gso} == 0 && $d{rx_csum_partial} == 0 && $segs > 0,
		   "4 (off) plain frames only: $what");
	}

	if ($on) {
		my $n6 = 64 << 20;
		my $want6 = pattern_sha($n6);
		my $got6 = http_fetch($ip, $curl, $ns, "[$maddr6]", $n6, 120);
		my $sink6 = `timeout -k 5 120 $ip netns exec $ns $py $peerpy sink $maddr6 ${\(16 << 20)} 2>&1`;
		chomp($sink6);
		my $st6 = drive_stat($dto, $dfrom, 10) // {};
		my %d6 = map { $_ => ($st6->{"$tap.$_"} // 0) - ($st->{"$tap.$_"} // 0) }
		    qw(rx_gso tx_gso);
		ok($got6 eq "200 $n6 $want6" && $sink6 =~ /^ok sink/ && $d6{rx_gso} > 0 &&
		       $d6{tx_gso} > 0,
		   "4b (on) IPv6: curl got $got6, the sink said $sink6; rx_gso $d6{rx_gso}, " .
		       "tx_gso $d6{tx_gso}");
	}

	close($dto);
	bounded(30, sub { local $/; scalar(<$dfrom>) });
	my $exited = bounded(15, sub { waitpid($dpid, 0) }) // 0;
	my $rc = $?;
	$dpid = undef if $exited > 0;
	ok($exited > 0 && $rc == 0, "5 ($mode) the machine stops when told (exit $rc)");
	cleanup();
}

one_run(1);
one_run(0);
