#!/usr/bin/perl
# curl against the machine's own TCP, and a SYN flood beside it: t/inet-drive
# serves HTTP (-W: "GET /N" answers N bytes of the pattern, byte i being
# i % 251) on a TAP in a network namespace this test makes and removes (the
# machine 10.219.0.2/24, the namespace's side 10.219.0.1), and curl and
# hping3 run in that namespace. Needs root, /dev/net/tun, ip and curl; the
# flood needs hping3.
#  1     the machine is up
#  2     curl fetches 1 GiB: status 200, the length announced, and the
#        sha256 of what arrived is the pattern's
#  3     a malformed request gets a 400
#  4     under a SYN flood from random sources (hping3 --flood, 6 s), a
#        transfer that was established before it and one that starts
#        during it both arrive intact
#  5     the flood was met with SYN cookies, within the stack's budget, and
#        the machine serves a new request after it
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

my $ns = "ti06c$$";
my $tap = 'tiwtap0';
my ($maddr, $haddr) = ('10.219.0.2', '10.219.0.1');
my $big = $ENV{UML_HTTP_BYTES} // (1 << 30);
my $drive = build_dir() . '/t/inet-drive';
my ($ip, $curl) = tap_plan($drive, 6, qw(ip curl));
my $hping = which('hping3');

my $limit = 400;
my ($made, $dpid, $dfrom, $dto, @bg);
sub cleanup {
	reap_all((map { \$_ } @bg), \$dpid);
	@bg = ();
	netns_gone($ip, $ns, \$made);
}
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

sub run { system(@_) == 0 or BAIL_OUT("failed: @_") }

sub stat_now { return drive_stat($dto, $dfrom, 10) // {} }

# curl of /$n from the namespace (InetTest's http_fetch).
sub fetch { http_fetch($ip, $curl, $ns, $maddr, @_) }

run($ip, 'netns', 'add', $ns);
$made = 1;
run($ip, '-n', $ns, 'link', 'set', 'lo', 'up');
$dpid = open2($dfrom, $dto, $ip, 'netns', 'exec', $ns, $drive, '-m', '64', '-b', '16', '-W',
	      '80', $tap, "$maddr/24", '7');
$dto->autoflush(1);
chomp(my $ready = bounded(30, sub { scalar(<$dfrom>) }) // 'no answer');
my $up = $ready =~ /^ready [0-9a-f:]{17}$/;
if ($up) {
	run($ip, '-n', $ns, 'addr', 'add', "$haddr/24", 'dev', $tap);
	run($ip, '-n', $ns, 'link', 'set', $tap, 'up');
}
ok($up, "1 the machine is up on $tap ($ready)") or BAIL_OUT('no machine');

my $want = pattern_sha($big);
my $t0 = time;
my $got = fetch($big, 240);
ok($got eq "200 $big $want",
   sprintf('2 curl fetched %d bytes in %.1f s: %s (want 200 %d %.12s...)', $big, time - $t0,
	   $got, $big, $want));

my $bad = `timeout 30 $ip netns exec $ns $curl -sS -o /dev/null -w '%{http_code}' http://$maddr/abc 2>&1`;
is($bad, '400', '3 a malformed request gets a 400');

SKIP: {
	skip('no hping3: no SYN flood', 2) unless $hping;
	my $base = stat_now();
	my $n = 64 << 20;
	my $sha = pattern_sha($n);
	# The established one: started before the flood, read slowly enough to outlast its start.
	my $early = "/tmp/ti06-$$-early";
	my $pid = fork() // BAIL_OUT("fork: $!");
	if (!$pid) {
		open(STDOUT, '>', $early);
		exec('sh', '-c',
		     "$ip netns exec $ns $curl -sS --max-time 120 --limit-rate 16M " .
			 "http://$maddr/$n | sha256sum");
		exit 127;
	}
	push(@bg, $pid);
	sleep(1);
	my $flood = fork() // BAIL_OUT("fork: $!");
	if (!$flood) {
		open(STDOUT, '>', '/dev/null');
		open(STDERR, '>', '/dev/null');
		exec('timeout', '6', $ip, 'netns', 'exec', $ns, $hping, '-S', '-p', '80', '--flood',
		     '--rand-source', $maddr);
		exit 127;
	}
	push(@bg, $flood);
	sleep(2);
	my $during = fetch($n, 120);
	waitpid($flood, 0);
	bounded(130, sub { waitpid($pid, 0) });
	@bg = ();
	my ($early_sha) = split(' ', do { local (@ARGV, $/) = ($early); <> } // '');
	unlink($early);
	ok(($early_sha // '') eq $sha && $during eq "200 $n $sha",
	   '4 under the flood, the established transfer (' . ($early_sha // 'none') =~ s/^(.{12}).*/$1.../r .
	       ") and one started during it ($during) arrive intact");
	my $after = stat_now();
	my $fresh = fetch(1000, 30);
	my $cookies = $after->{tcp_cookies_sent} - $base->{tcp_cookies_sent};
	diag("the flood: $cookies SYN cookies, $after->{tcp_in_segs} segments in, budget " .
	     "$after->{mem_used} of $after->{mem_max}");
	ok($cookies > 0 && $after->{mem_used} <= $after->{mem_max} &&
	       $fresh eq '200 1000 ' . pattern_sha(1000),
	   "5 the flood met SYN cookies ($cookies), the budget held, and a new request is served");
}

close($dto);
bounded(30, sub { local $/; scalar(<$dfrom>) });
my $exited = bounded(15, sub { waitpid($dpid, 0) }) // 0;
my $rc = $?;
$dpid = undef if $exited > 0;
ok($exited > 0 && $rc == 0, "6 the machine stops when told (exit $rc)");
