#!/usr/bin/perl
# Connections are bounded by the machine's memory, not only by slots: each
# holds a kernel thread whose stack comes from the machine, and a new one is
# given a stack only while a quarter of the memory stays free. Past that a
# newcomer may only take the place of a connection of the host holding the
# most, so hosts share what there is; a host that piles up connections locks
# out only itself, never others, and never starves the tree.
# (These tests once had one host open 100 connections in a row and expected
# every one served, the oldest closed to make room, and nothing refused. That
# churn was the bug: any newcomer closed any host's connection. Now a host's
# surplus is refused, and the tests ask the same of several hosts instead:
# every host served, memory the bound, the tree writable.)
#  1     four hosts open 8 connections each on a 2 MiB machine: each host's
#        first is served
#  2     fewer than the 32 stay open: memory bounded them, not slots
#  3     every host keeps one, and the last comer got an even share: nobody
#        holds more than one connection above it
#  4     the monitor, holding none, still gets one from the biggest holder and
#        writes a file (the tree got its memory)
#  5     the surplus was refused and counted; the server is the same process
# Clients' own files are capped (-s, the scratch cap), so they can't take the
# memory that connections, knobs and status need (attack review, part 3):
#  6     FSSTAT offers clients the cap (256 KiB of a 2 MiB machine), not the machine
#  7     20 KB files fill it: a write is refused after a dozen of them...
#  8     ...while the machine still has memory, and FSSTAT says the room is gone
#  9     removing them gives the room back: the same number fits again
# 10     a cap above the machine's memory is refused at start
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use Test::More;
use NfsTest;

plan_nfs(10);

$SIG{PIPE} = 'IGNORE'; # a call on a refused connection

my $s = start_server('-l', '127.0.0.1:0', '-w', '1', '-m', '2M', '-e', '/:rw:127.0.0.0/24',
		     '-p', '/config/a=1');

my (%socks, %first);
for my $h (1 .. 4) {
	for my $i (1 .. 8) {
		my $sock = rpc_connect($s, LocalAddr => '127.0.0.' . ($h + 1));
		my ($astat) = rpc_call($sock, 100003, 3, 0, '');
		$first{$h} = defined $astat && $astat == 0 if $i == 1;
		push @{$socks{$h}}, $sock;
	}
}
is(scalar(grep { $first{$_} } 1 .. 4), 4, "1 each of four hosts' first connection is served");

# A closed socket reads EOF (or a reset) at once; an open, idle one has nothing to read.
sleep 0.3;
sub open_now {
	my ($sock) = @_;
	my $rin = '';
	vec($rin, fileno($sock), 1) = 1;
	return !select(my $r = $rin, undef, undef, 0);
}
my %kept = map { my $h = $_; ($h => scalar(grep { open_now($_) } @{$socks{$h}})) } 1 .. 4;
my $total = 0;
$total += $_ for values %kept;
my @shares = map { $kept{$_} } 1 .. 4;
ok($total < 32, "2 memory bounds the connections: $total of 32 stay open (@shares)");
ok(!grep({ $_ < 1 || $_ > $kept{4} + 1 } @shares),
   "3 every host keeps one, nobody more than one above the last comer (@shares)");

my ($rc, $out) = nfsc($s, '/', 'write', 'config/b', 'x' x 20000);
ok($rc == 0, '4 the monitor still connects and writes a 20 KB file meanwhile') or diag($out);

close $_ for map { @$_ } values %socks;
my $alive = kill 0, $s->{pid};
my $log = stop_server($s);
my ($refused) = $log =~ /(\d+) refused/;
ok($alive && log_clean($log) && ($refused // 0) > 0,
   "5 the surplus was refused ($refused), no worker died") or diag($log);

# (fbytes, abytes) of FSSTAT on the root of export /.
sub fsstat {
	my ($srv) = @_;
	my $sock = rpc_connect($srv);
	my (undef, $res) = rpc_call($sock, 100005, 3, 1, xdr_str('/'));
	my ($st, $len) = unpack('NN', $res // '');
	return () unless defined $st && $st == 0;
	my $fh = substr($res, 8, $len);
	(undef, $res) = rpc_call($sock, 100003, 3, 18, xdr_opaque($fh));
	return () unless defined $res && unpack('N', $res) == 0;
	my $off = unpack('N', substr($res, 4, 4)) ? 8 + 84 : 8; # past the post-op attributes
	my (undef, $fbytes, $abytes) = unpack('Q>Q>Q>', substr($res, $off, 24));
	return ($fbytes, $abytes);
}

my $c = start_server('-l', '127.0.0.1:0', '-w', '1', '-m', '2M', '-s', '256K',
		     '-e', '/:rw:127.0.0.1');
my ($free, $avail) = fsstat($c);
ok(defined $avail && $avail <= 256 * 1024 && $avail > 200 * 1024 && $free > 1024 * 1024,
   "6 FSSTAT offers clients the 256 KiB cap, not the machine's free memory")
    or diag('fbytes ' . ($free // '?') . ' abytes ' . ($avail // '?'));

# libnfs reports a refused WRITE without its status: FSSTAT says what happened.
sub fill {
	my ($srv) = @_;
	my $n = 0;
	$n++ while $n < 40 && (nfsc($srv, '/', 'write', "f$n", 'x' x 20000))[0] == 0;
	return $n;
}
my $n = fill($c);
ok($n >= 10 && $n <= 12, "7 a client's 20 KB files are refused after $n of them");
($free, $avail) = fsstat($c);
ok(defined $avail && $avail < 20000 && $free > 1024 * 1024,
   '8 the machine has memory left (' . ($free // '?') . ' bytes), clients ' .
   ($avail // '?'));
nfsc($c, '/', 'rm', "f$_") for 0 .. $n;
is(fill($c), $n, '9 removing them gives the room back: as many fit again');
$log = stop_server($c);

ok(!eval { start_server('-l', '127.0.0.1:0', '-m', '2M', '-s', '4M'); 1 },
   '10 a scratch cap above the memory is refused at start');
