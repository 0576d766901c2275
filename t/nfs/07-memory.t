#!/usr/bin/perl
# Connections are bounded by the machine's memory, not only by slots: each
# holds a kernel thread whose stack comes from the machine, and a new one is
# given a stack only while a quarter of the memory stays free. Past that the
# least recently active connection is closed to make room, so a client that
# piles up connections never locks others out and never starves the tree.
#  1     100 connections on a 2 MiB machine, one after another, each served
#  2     the server closed the oldest of them to make room...
#  3     ...and not the newest
#  4     files can still be written (the tree got its memory)
#  5     no connection was refused outright; the server is the same process
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use NfsTest;

plan_nfs(5);

my $s = start_server('-l', '127.0.0.1:0', '-w', '1', '-m', '2M', '-e', '/:rw:127.0.0.1',
		     '-p', '/config/a=1');

my @socks;
my $served = 0;
for (1 .. 100) {
	my $sock = rpc_connect($s);
	my ($astat) = rpc_call($sock, 100003, 3, 0, '');
	$served++ if defined $astat && $astat == 0;
	push @socks, $sock;
}
is($served, 100, '1 100 connections in a row on a 2 MiB machine are all served');

# A closed socket reads EOF at once; an open, idle one has nothing to read.
sub closed_now {
	my ($sock) = @_;
	my $rin = '';
	vec($rin, fileno($sock), 1) = 1;
	return 0 unless select(my $r = $rin, undef, undef, 0.2);
	return !sysread($sock, my $buf, 1);
}
my $old_closed = grep { closed_now($_) } @socks[0 .. 9];
ok($old_closed >= 5, "2 the server closed the oldest connections ($old_closed of the first 10)");
my ($astat) = rpc_call($socks[-1], 100003, 3, 0, '');
ok(defined $astat && $astat == 0, '3 the newest connection is still served');

my ($rc, $out) = nfsc($s, '/', 'write', 'config/b', 'x' x 20000);
ok($rc == 0, '4 a 20 KB file is written meanwhile') or diag($out);

close $_ for @socks;
my $alive = kill 0, $s->{pid};
my $log = stop_server($s);
my ($refused) = $log =~ /(\d+) refused/;
ok($alive && log_clean($log) && defined $refused && $refused == 0,
   '5 nothing refused, no worker died') or diag($log);
