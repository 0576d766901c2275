#!/usr/bin/perl
# An application on libuml's sockets against Linux: examples/echod (one
# kernel thread, one poll set for every connection) on a TAP in a
# network namespace this test makes and removes (the machine 10.221.0.2/24,
# the namespace's side 10.221.0.1), and Linux's clients in that namespace
# (t/inet/echopeer.py). Needs root, /dev/net/tun, ip and python3.
#  1     echod is up
#  2     200 connections at once, each sending 256 KiB of random bytes while
#        reading its echo: every echo's sha256 and length are the sent
#        bytes', and each ends with the server's FIN after it
#  3     one connection of 32 MiB: intact
#  4     100 UDP datagrams of up to 8000 bytes (fragments both ways): each
#        comes back whole, from the port it was sent to
#  5     SIGTERM stops echod; it counted every connection (201)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib", "$FindBin::Bin/lib";
use Test::More;
use IPC::Open2;
use NfsTest;
use InetTest;

my $ns = "uk07$$";
my $tap = 'ukt7';
my ($maddr, $haddr) = ('10.221.0.2', '10.221.0.1');
my $echod = build_dir() . '/examples/echod';
my $peer = "$FindBin::Bin/echopeer.py";
my ($ip) = tap_plan($echod, undef, 'ip');
plan(skip_all => 'needs /usr/bin/python3') unless -x '/usr/bin/python3';
plan(tests => 5);

my $limit = 300;
my ($made, $pid, $from, $to);
sub cleanup { reap_all(\$pid); netns_gone($ip, $ns, \$made) }
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

sub run { system(@_) == 0 or BAIL_OUT("failed: @_") }

# A line from echopeer.py in the namespace, at most $secs.
sub peer {
	my ($secs, @args) = @_;
	my $out = `timeout -k 5 $secs $ip netns exec $ns /usr/bin/python3 $peer @args 2>&1`;
	chomp($out);
	return $out;
}

run($ip, 'netns', 'add', $ns);
$made = 1;
run($ip, '-n', $ns, 'link', 'set', 'lo', 'up');
$pid = open2($from, $to, $ip, 'netns', 'exec', $ns, $echod, $tap, "$maddr/24");
chomp(my $ready = bounded(30, sub { scalar(<$from>) }) // 'no answer');
my $up = $ready eq 'ready';
if ($up) {
	run($ip, '-n', $ns, 'addr', 'add', "$haddr/24", 'dev', $tap);
	run($ip, '-n', $ns, 'link', 'set', $tap, 'up');
}
ok($up, "1 echod is up on $tap ($ready)") or BAIL_OUT('no echod');

my $many = peer(120, 'tcp', $maddr, 7, 200, 256 << 10, 100);
is($many, sprintf('tcp conns 200 intact 200 bytes %d', 200 * (256 << 10)),
   "2 200 connections at once, 256 KiB each: every echo intact ($many)");

my $one = peer(120, 'tcp', $maddr, 7, 1, 32 << 20, 100);
is($one, sprintf('tcp conns 1 intact 1 bytes %d', 32 << 20), "3 one connection of 32 MiB intact ($one)");

my $udp = peer(60, 'udp', $maddr, 7, 100, 50);
is($udp, 'udp sent 100 intact 100', "4 UDP datagrams up to 8000 bytes echoed whole ($udp)");

kill('TERM', $pid);
my $last = bounded(30, sub { local $/; scalar(<$from>) }) // '';
my $rc = bounded(30, sub { waitpid($pid, 0) == $pid ? $? : undef });
$pid = undef if defined $rc;
ok(defined $rc && $rc == 0 && $last =~ /^connections 201 bytes \d+$/m,
   "5 SIGTERM stops echod (status " . ($rc // 'none') . "): $last");
