#!/usr/bin/perl
# UDP is opt-in, and handles make a spoofed datagram useless. Before, UDP was
# always on and knob handles were the same on every installation: one raw
# packet "from 127.0.0.1:40000" carrying WRITE "333\n" set MaxRequestWorkers
# to 333 without any MOUNT. Also the "secure" export flag (privileged ports).
#  1     by default no UDP socket: a spoofed WRITE datagram with a valid handle
#        changes nothing, and a plain UDP MNT gets no answer
#  2     with -T tcp+udp, a listed client's MNT over UDP is answered
#  3     a spoofed WRITE with the handle of another boot (another key): unchanged
#  4     the control: the same datagram with this boot's handle is served and
#        writes (UDP believes the source address; that is why it is opt-in and
#        why handles must be secret)
#  5     -T udp alone: UDP answers, TCP is refused
#  6-7   a secure export: MNT from an unprivileged port is ACCES, from a
#        privileged one OK; its handle used from an unprivileged port is ACCES
#  8     no worker crashed
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Socket qw(AF_INET SOCK_RAW IPPROTO_RAW inet_aton pack_sockaddr_in);
use Test::More;
use NfsTest;

plan_nfs(8);

my @tree = ('-p', '/config/MaxRequestWorkers=150', '-e', '/:rw:127.0.0.1');

sub knob_handle {
	my ($sock) = @_;
	return rpc_lookup_fh($sock, rpc_lookup_fh($sock, rpc_mnt($sock, '/'), 'config'), 'MaxRequestWorkers');
}

sub knob_value {
	my ($s) = @_;
	my (undef, $out) = run_tool('nfs-cat', nfs_url($s, '/config/MaxRequestWorkers'));
	return $out;
}

# One UDP datagram with a forged source, as a host on the path would send it
# (root only: a raw socket; the kernel fills in the IP checksum and length).
sub spoof_write {
	my ($s, $fh, $data) = @_;
	my $cred = pack('N', 0) . xdr_opaque('spoof') . pack('NNN', 0, 0, 0); # AUTH_SYS root
	my $call = pack('NNNNNN', 0x5eed, 0, 2, 100003, 3, 7) . pack('N', 1) . xdr_opaque($cred) .
	    pack('NN', 0, 0) .
	    xdr_opaque($fh) . pack('NNNN', 0, 0, length $data, 2) . xdr_opaque($data);
	my $udp = pack('nnnn', 40000, $s->{port}, 8 + length $call, 0) . $call;
	my $ip = pack('CCnnnCCn', 0x45, 0, 0, 0, 0, 64, 17, 0) . inet_aton('127.0.0.1') .
	    inet_aton('127.0.0.1');
	socket(my $raw, AF_INET, SOCK_RAW, IPPROTO_RAW) or return 0;
	send($raw, $ip . $udp, 0, pack_sockaddr_in($s->{port}, inet_aton('127.0.0.1'))) or return 0;
	return 1;
}

SKIP: {
	skip 'raw sockets need root', 4 if $> != 0;

	my $s = start_server('-l', '127.0.0.1:0', @tree);
	my $fh = knob_handle(rpc_connect($s));
	my $sent = spoof_write($s, $fh, "333\n");
	select(undef, undef, undef, 0.3);
	my @udp = rpc_udp_call($s, 100005, 3, 0);
	ok($sent && knob_value($s) eq '150' && !@udp,
	   '1 no UDP by default: the spoofed WRITE changed nothing, UDP is not answered');
	stop_server($s);

	$s = start_server('-l', '127.0.0.1:0', '-T', 'tcp+udp', @tree);
	my (undef, $res) = rpc_udp_call($s, 100005, 3, 1, xdr_str('/config'));
	is(unpack('N', $res // "\xff\xff\xff\xff"), 0, '2 with -T tcp+udp, MNT over UDP is answered');
	$sent = spoof_write($s, $fh, "333\n");
	select(undef, undef, undef, 0.3);
	ok($sent && knob_value($s) eq '150',
	   '3 a spoofed WRITE with another boot\'s handle changed nothing');
	$sent = spoof_write($s, knob_handle(rpc_connect($s)), "333\n");
	select(undef, undef, undef, 0.3);
	is($sent && knob_value($s), "333\n", '4 the control: with this boot\'s handle it writes');
	stop_server($s);
}

my $s = start_server('-l', '127.0.0.1:0', '-T', 'udp', @tree);
my (undef, $res) = rpc_udp_call($s, 100005, 3, 1, xdr_str('/config'));
my $tcp = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{port}, Proto => 'tcp');
ok(unpack('N', $res // "\xff\xff\xff\xff") == 0 && !$tcp, '5 -T udp: UDP answers, TCP is refused');
my $log = stop_server($s);

SKIP: {
	skip 'binding a privileged port needs root', 2 if $> != 0;

	$s = start_server('-l', '127.0.0.1:0', '-p', '/sec/f=1', '-e', '/sec:rw,secure:127.0.0.1');
	my $high = rpc_connect($s);
	my $low;
	for my $port (map { 600 + int(rand(400)) } 1 .. 20) {
		$low = eval { rpc_connect($s, LocalPort => $port) } and last;
	}
	my (undef, $r) = rpc_call($high, 100005, 3, 1, xdr_str('/sec'));
	my $unpriv = unpack('N', $r // '');
	my $fh = $low && rpc_mnt($low, '/sec');
	ok($unpriv == 13 && defined $fh, '6 secure: MNT from a port >= 1024 is ACCES, from < 1024 OK')
	    or diag("unprivileged: $unpriv");
	(undef, $r) = rpc_call($high, 100003, 3, 1, xdr_opaque($fh // ''));
	my $st = unpack('N', $r // '');
	(undef, $r) = rpc_call($low, 100003, 3, 1, xdr_opaque($fh // ''));
	ok($st == 13 && unpack('N', $r // '') == 0,
	   '7 its handle from an unprivileged port: ACCES; from the privileged one: OK')
	    or diag("status $st");
	$log .= stop_server($s);
}
ok(log_clean($log), '8 no worker crashed') or diag($log);
