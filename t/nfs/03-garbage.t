#!/usr/bin/perl
# Garbage on the port never crashes or stalls the server.
#  1     a 2 GiB fragment length: the connection is dropped
#  2     64 KiB of random bytes over TCP, then a new connection is served
#  3-4   a half record and a silent client stay open; others are served meanwhile
#  5     a call split into three fragments is answered
#  6     two calls in one write: both answered, in order
#  7     random UDP datagrams, then MNT and GETATTR over UDP are answered
#  8     200 idle connections of another listed host (more than the workers'
#        slots), then nfs-ls works (a host's own surplus is refused, so its
#        idle pile would only lock out itself: see 08-connections.t)
#  9     1000 connections one after another are each served: a closed
#        connection gives back its thread and stack
# 10     the server counted garbage and is still the same process
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use NfsTest;

plan_nfs(10);

my $s = start_server('-l', '127.0.0.1:0', '-T', 'tcp+udp', '-w', '2', '-p', '/config/a=1',
		     '-e', '/:ro:127.0.0.1,127.0.0.2');

sub null_ok {
	my $sock = rpc_connect($s);
	my ($astat) = rpc_call($sock, 100003, 3, 0, '');
	return defined $astat && $astat == 0;
}

# Wait up to 3 s for the peer to close; true when it did.
sub closed_by_peer {
	my ($sock) = @_;
	my $rin = '';
	vec($rin, fileno($sock), 1) = 1;
	for (1 .. 30) {
		next unless select(my $r = $rin, undef, undef, 0.1);
		my $n = sysread($sock, my $buf, 65536);
		return 1 if !$n;
	}
	return 0;
}

my $big = rpc_connect($s);
syswrite($big, pack('N', 0xffffffff) . ('x' x 1000));
ok(closed_by_peer($big), '1 a fragment header of 2 GiB gets the connection dropped');

my $rnd = rpc_connect($s);
syswrite($rnd, join('', map { chr(int(rand(256))) } 1 .. 65536));
close $rnd;
ok(null_ok(), '2 after 64 KiB of random bytes a new connection is served');

my $half = rpc_connect($s);
syswrite($half, pack('N', 0x80000000 | 100) . ('y' x 50));
my $silent = rpc_connect($s);
ok(null_ok(), '3 a half record and a silent client do not block others');
my ($rc, $out) = run_tool('nfs-cat', nfs_url($s, '/config/a'));
is($out, '1', '4 nfs-cat works meanwhile');

{
	# NULL call of NFS v3 as the server would see it, in three fragments.
	my $cred = pack('N', 0) . xdr_opaque('t') . pack('NNN', 0, 0, 0);
	my $msg = pack('NNNNNN', 4242, 0, 2, 100003, 3, 0) . pack('N', 1) . xdr_opaque($cred) .
	    pack('NN', 0, 0);
	my @frag = (substr($msg, 0, 10), substr($msg, 10, 7), substr($msg, 17));
	my $sock = rpc_connect($s);
	syswrite($sock, pack('N', length $frag[0]) . $frag[0] . pack('N', length $frag[1]) .
		 $frag[1] . pack('N', 0x80000000 | length $frag[2]) . $frag[2]);
	my $got = '';
	sysread($sock, $got, 4 + 24);
	my (undef, $xid, $type, $rstat, undef, undef, $astat) = unpack('N7', $got . "\0" x 28);
	ok($xid == 4242 && $type == 1 && $rstat == 0 && $astat == 0,
	   '5 a record in three fragments is answered');

	my $two = pack('N', 0x80000000 | length $msg) . $msg;
	my $msg2 = $msg;
	substr($msg2, 0, 4) = pack('N', 4343);
	$two .= pack('N', 0x80000000 | length $msg2) . $msg2;
	syswrite($sock, $two);
	my $r = '';
	while (length $r < 56) {
		my $n = sysread($sock, $r, 56 - length $r, length $r);
		last unless $n;
	}
	my @x = (unpack('N', substr($r, 4, 4) // ''), unpack('N', substr($r, 32, 4) // ''));
	ok(length($r) == 56 && $x[0] == 4242 && $x[1] == 4343,
	   '6 two pipelined calls get two replies in order');
}

{
	my $u = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{port},
				      Proto => 'udp') or die;
	for (1 .. 200) {
		$u->send(join('', map { chr(int(rand(256))) } 1 .. 1 + int(rand(1400))));
	}
	$u->send(pack('N', 0x7fffffff) x 3);
	my (undef, $res) = rpc_udp_call($s, 100005, 3, 1, xdr_str('/config'));
	my ($st, $len) = unpack('NN', $res // '');
	my $fh = ($st // -1) == 0 ? substr($res, 8, $len) : '';
	my ($astat, $attr) = rpc_udp_call($s, 100003, 3, 1, xdr_opaque($fh));
	my ($ast, $type) = unpack('NN', $attr // '');
	ok(defined $astat && $astat == 0 && $ast == 0 && $type == 2,
	   '7 after 200 random datagrams MNT and GETATTR over UDP are answered');
}

my @idle = map { rpc_connect($s, LocalAddr => '127.0.0.2') } 1 .. 200;
($rc, $out) = run_tool('nfs-ls', nfs_url($s, '/config'));
ok($rc == 0 && $out =~ /\ba\b/, '8 with 200 idle connections open, nfs-ls still works')
    or diag($out);
close $_ for @idle;

my $served = 0;
for (1 .. 1000) {
	$served++ if null_ok();
}
is($served, 1000, '9 1000 connections in a row are all served');

my $alive = kill 0, $s->{pid};
my $log = stop_server($s);
my ($garbage) = $log =~ /(\d+) garbage/;
ok($alive && log_clean($log) && ($garbage // 0) > 0,
   "10 no worker died; $garbage garbage records counted") or diag($log);
