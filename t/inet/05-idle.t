#!/usr/bin/perl
# Ten thousand idle connections on the machine's own TCP: t/inet-drive's
# hold service (-H) keeps them with one kernel thread and no buffer of
# their own, on a TAP in a network namespace this test makes and removes
# (the machine 10.217.0.2/24, the namespace's side 10.217.0.1), and
# t/inet/idlepeer.py opens them from Linux in that namespace. Needs root,
# /dev/net/tun, ip and python3.
#  1     the machine is up
#  2     10,000 connections are established and the machine holds them all
#  3     within the stack's memory bound: its budget never ran out, and what
#        it charges for them is the connection blocks alone, at most 1 KiB
#        each (the figure is printed)
#  4     meanwhile the stack serves: 200 of the held connections, picked at
#        random, echo a line, and a new connection echoes 64 KiB
#  5     once the client has closed them all, the machine holds none, its
#        stack's budget and its pages are what they were before
#  6     the machine stops when told
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib", "$FindBin::Bin/lib";
use Test::More;
use IPC::Open2;
use Time::HiRes qw(sleep time);
use NfsTest;
use InetTest;

my $n = $ENV{UML_IDLE_CONNS} // 10000;
my $ns = "ti05c$$";
my $tap = 'titap0';
my ($maddr, $haddr) = ('10.217.0.2', '10.217.0.1');
my $drive = build_dir() . '/t/inet-drive';
my ($ip, $py) = tap_plan($drive, 6, qw(ip python3));

my $limit = 300;
my ($made, $dpid, $dfrom, $dto, $cpid, $cfrom, $cto);
sub cleanup { reap_all(\$cpid, \$dpid); netns_gone($ip, $ns, \$made) }
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

sub run { system(@_) == 0 or BAIL_OUT("failed: @_") }

# The machine's counters ("stat": lines up to "end").
sub stat_now { return drive_stat($dto, $dfrom, 10) // {} }

# Poll the counters until @cond holds, at most $secs: the last counters.
sub stat_until {
	my ($secs, $cond) = @_;
	my $c;
	for (my $t0 = time; ; sleep(0.5)) {
		$c = stat_now();
		last if $cond->($c) || time - $t0 > $secs;
	}
	return $c;
}

# One line from the client, at most $secs.
sub client_line {
	my ($secs) = @_;
	my $l = bounded($secs, sub { scalar(<$cfrom>) }) // "bad: no answer within $secs s\n";
	chomp($l);
	return $l;
}

run($ip, 'netns', 'add', $ns);
$made = 1;
run($ip, '-n', $ns, 'link', 'set', 'lo', 'up');
# 10,000 blocks of ~0.5 KiB and the connections' frames in flight: a 16 MiB budget.
$dpid = open2($dfrom, $dto, $ip, 'netns', 'exec', $ns, $drive, '-m', '64', '-b', '16', '-H',
	      '5010', '-E', '7', $tap, "$maddr/24", '7');
$dto->autoflush(1);
chomp(my $ready = bounded(30, sub { scalar(<$dfrom>) }) // 'no answer');
my $up = $ready =~ /^ready [0-9a-f:]{17}$/;
if ($up) {
	run($ip, '-n', $ns, 'addr', 'add', "$haddr/24", 'dev', $tap);
	run($ip, '-n', $ns, 'link', 'set', $tap, 'up');
	# Room for the client's sockets in the namespace's own tables.
	system($ip, 'netns', 'exec', $ns, 'sysctl', '-qw', 'net.ipv4.ip_local_port_range=20000 65000');
}
ok($up, "1 the machine is up on $tap ($ready)") or BAIL_OUT('no machine');
# A first exchange, so that ARP and the slabs' first pages are in the baseline.
`timeout 30 $ip netns exec $ns $py $FindBin::Bin/tcppeer.py echo $maddr 1000 2>&1`;
my $base = stat_until(10, sub { $_[0]{drive_held} == 0 && $_[0]{drive_conns} == 0 });

$cpid = open2($cfrom, $cto, $ip, 'netns', 'exec', $ns, $py, "$FindBin::Bin/idlepeer.py", $maddr,
	      '5010', $n);
$cto->autoflush(1);
my $conn = client_line(180);
my $held = stat_until(30, sub { $_[0]{drive_held} >= $n });
ok($conn =~ /^ok connected $n / && $held->{drive_held} == $n,
   "2 $n connections established ($conn), the machine holds $held->{drive_held}");

my $per = ($held->{mem_used} - $base->{mem_used}) / $n;
diag(sprintf('stack budget: %d of %d bytes with %d idle connections: %.0f bytes each',
	     $held->{mem_used}, $held->{mem_max}, $n, $per));
ok($held->{mem_used} <= $held->{mem_max} && $held->{tcp_mem_fails} == $base->{tcp_mem_fails} &&
       $held->{mem_fails} == $base->{mem_fails} && $per <= 1024,
   sprintf('3 within the memory bound: %.0f bytes charged a connection, no allocation refused',
	   $per));

print $cto "echo 200\n";
my $echo = client_line(60);
my $fresh = `timeout 60 $ip netns exec $ns $py $FindBin::Bin/tcppeer.py echo $maddr 65536 2>&1`;
chomp($fresh);
ok($echo eq 'ok echoed 200' && $fresh =~ /^ok /,
   "4 while held, the stack serves: $echo; a new connection: $fresh");

print $cto "close\n";
my $closed = client_line(60);
my $after = stat_until(60, sub {
	$_[0]{drive_held} == 0 && $_[0]{mem_used} == $base->{mem_used} &&
	    $_[0]{drive_pages} == $base->{drive_pages}
});
ok($closed =~ /^ok closed $n/ && $after->{drive_held} == 0 &&
       $after->{mem_used} == $base->{mem_used} && $after->{drive_pages} == $base->{drive_pages},
   "5 all closed ($closed): the machine holds $after->{drive_held}, budget $after->{mem_used} "
       . "(was $base->{mem_used}), pages $after->{drive_pages} (were $base->{drive_pages})");
close($cto);
waitpid($cpid, 0);
$cpid = undef;

close($dto);
my $out = bounded(30, sub { local $/; scalar(<$dfrom>) }) // '';
my $exited = bounded(10, sub { waitpid($dpid, 0) }) // 0;
my $rc = $?;
$dpid = undef if $exited > 0;
ok($exited > 0 && $rc == 0, "6 the machine stops when told (exit $rc)");
