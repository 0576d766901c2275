# Helpers the t/inet tests share: finding a program, a step bounded in
# time, the whole test's limit and its teardown (processes killed,
# namespaces removed), two namespaces and a veth between them, the plan of
# a test on a TAP, umlnfsd started on one and stopped, the counters of a
# t/inet-drive machine asked for on its standard input, and the http
# service's pattern fetched with curl.
package InetTest;
use strict;
use warnings;
use Exporter 'import';
use Digest::SHA;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

our @EXPORT = qw(which bounded test_limit reap_all netns_gone veth_pair tap_plan nfsd_on_tap
    nfsd_stop drive_stat pattern_sha http_fetch);

# A program on PATH (or in /usr/sbin, /sbin), or ''.
sub which {
	my ($name) = @_;
	for (split /:/, "$ENV{PATH}:/usr/sbin:/sbin") {
		return "$_/$name" if -x "$_/$name";
	}
	return '';
}

# $code's value, or undef when it took more than $secs seconds. The caller's
# own alarm, if any, goes on after with what was left of it.
sub bounded {
	my ($secs, $code) = @_;
	my ($left, $t0) = (alarm(0), time);
	my $v = eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm($secs);
		my $r = $code->();
		alarm(0);
		$r;
	};
	alarm(int($left - (time - $t0)) > 0 ? int($left - (time - $t0)) : 1) if $left;
	return $v;
}

# The whole test's time: past $secs, a diagnostic, $cleanup and exit 1.
sub test_limit {
	my ($secs, $cleanup) = @_;
	$SIG{ALRM} = sub { Test::More::diag("timed out after $secs s"); $cleanup->(); exit 1 };
	alarm($secs);
}

# The processes whose pids the scalars @_ refer to (undef or 0: none)
# killed and reaped, and forgotten.
sub reap_all {
	for my $r (@_) {
		next unless $$r;
		kill('KILL', $$r);
		waitpid($$r, 0);
		$$r = undef;
	}
}

# Namespace $ns deleted if $$made says the test made it; $$made cleared.
sub netns_gone {
	my ($ip, $ns, $made) = @_;
	system($ip, 'netns', 'del', $ns) if $$made;
	$$made = 0;
}

# Namespaces $one->[0] and $two->[0] made (loopback up; each marked in
# %$made for netns_gone) with a veth between them, $one->[1] in the first
# and $two->[1] in the second, each given the addresses after its name
# (IPv6 ones without DAD) and left down for the test to set up. BAIL_OUT
# if a step fails.
sub veth_pair {
	my ($ip, $made, $one, $two) = @_;
	my $run = sub { system(@_) == 0 or Test::More::BAIL_OUT("failed: @_") };

	for my $ns ($one->[0], $two->[0]) {
		$run->($ip, 'netns', 'add', $ns);
		$made->{$ns} = 1;
		$run->($ip, '-n', $ns, 'link', 'set', 'lo', 'up');
	}
	$run->($ip, '-n', $one->[0], 'link', 'add', $one->[1], 'type', 'veth', 'peer', 'name',
	       $two->[1], 'netns', $two->[0]);
	for my $end ($one, $two) {
		my ($ns, $dev, @addrs) = @$end;
		$run->($ip, '-n', $ns, 'addr', 'add', $_, 'dev', $dev, /:/ ? 'nodad' : ()) for @addrs;
	}
}

# The plan of a test of $prog (inet-drive, umlnfsd, echod) on a TAP in a
# namespace: skipped without $prog built, root, /dev/net/tun or one of the
# programs @need (which() finds them); else $tests tests, or none yet if
# undef (the test plans once it knows how many). The programs' paths.
sub tap_plan {
	my ($prog, $tests, @need) = @_;
	my @path = map { which($_) } @need;
	my @missing = map { $need[$_] } grep { !$path[$_] } 0 .. $#need;

	Test::More::plan(skip_all => "$prog not built (make)") unless -x $prog;
	Test::More::plan(skip_all => 'needs root (network namespaces, a TAP device)') unless $> == 0;
	Test::More::plan(skip_all => 'no /dev/net/tun') unless -c '/dev/net/tun';
	Test::More::plan(skip_all => "needs @missing (not on PATH)") if @missing;
	Test::More::plan(tests => $tests) if defined $tests;
	return @path;
}

# umlnfsd (@args after -f -l 127.0.0.1:0 -w 2) in namespace $ns, made
# here with TAP $dev given $host4 and $host6 (each "addr/prefix"), its
# standard error in $log. Returns its pid (a child of this test) and the
# log's text once it said "ready on" or exited, within 10 s.
sub nfsd_on_tap {
	my ($ip, $ns, $dev, $host4, $host6, $nfsd, $log, @args) = @_;

	system($ip, '-n', $ns, 'tuntap', 'add', 'dev', $dev, 'mode', 'tap', 'multi_queue') == 0
	    && system($ip, '-n', $ns, 'addr', 'add', $host4, 'dev', $dev) == 0
	    && system($ip, '-n', $ns, 'addr', 'add', $host6, 'dev', $dev, 'nodad') == 0
	    && system($ip, '-n', $ns, 'link', 'set', $dev, 'up') == 0
	    && system($ip, '-n', $ns, 'link', 'set', 'lo', 'up') == 0
	    or return (undef, "could not make $dev");
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		open(STDERR, '>', $log) or die;
		open(STDOUT, '>', '/dev/null') or die;
		exec($ip, 'netns', 'exec', $ns, $nfsd, '-f', '-l', '127.0.0.1:0', '-w', '2', @args)
		    or die "exec: $!";
	}
	my $text = '';
	for (my $end = time + 10; time < $end; sleep 0.05) {
		# The log appears once the child has opened it.
		if (open(my $fh, '<', $log)) {
			local $/;
			$text = <$fh> // '';
		}
		last if $text =~ /ready on/ || waitpid($pid, WNOHANG) == $pid;
	}
	return ($pid, $text);
}

# umlnfsd (the child $$pid of nfsd_on_tap) told to stop and waited for, at
# most 10 s; $$pid cleared. Its exit status, the text of its log $log, and
# the counters it logged there ("name value" lines) as a list of pairs.
sub nfsd_stop {
	my ($pid, $log) = @_;

	kill('TERM', $$pid);
	for (my $end = time + 10; time < $end && waitpid($$pid, WNOHANG) != $$pid; sleep 0.05) { }
	my $rc = $?;
	$$pid = undef;
	my $text = do { open(my $lf, '<', $log); local $/; <$lf> } // '';
	return ($rc, $text, map { /^(\S+) (\d+)$/ ? ($1, $2) : () } split /\n/, $text);
}

# inet-drive's counters now: "stat" written to $to, "name value" lines read
# from $from up to "end", within $secs (5) seconds. A hash reference, or
# undef when the machine did not answer to the end.
sub drive_stat {
	my ($to, $from, $secs) = @_;
	local $SIG{PIPE} = 'IGNORE';
	$to->autoflush(1);
	print $to "stat\n";
	my (%c, $end);
	bounded($secs // 5, sub {
		while (defined(my $l = <$from>)) {
			($end = 1), last if $l eq "end\n";
			my ($k, $v) = split(' ', $l);
			$c{$k} = $v if defined $v;
		}
	});
	return $end ? \%c : undef;
}

# The sha256 of $n bytes of inet-drive's http pattern (byte i is i % 251).
sub pattern_sha {
	my ($n) = @_;
	my $period = join('', map { chr } 0 .. 250);
	my $block = $period x 4096;
	my $sha = Digest::SHA->new(256);
	for (my $left = $n; $left > 0; $left -= length($block)) {
		$sha->add($left >= length($block) ? $block : substr($block, 0, $left));
	}
	return $sha->hexdigest;
}

# curl of http://$addr/$n from namespace $ns, at most $secs: "CODE LENGTH
# SHA256" (the status and Content-Length from the headers, the digest of
# the body). $ip and $curl are the programs' paths.
sub http_fetch {
	my ($ip, $curl, $ns, $addr, $n, $secs) = @_;
	my $hdr = "/tmp/inet-fetch-$$-$n.hdr";
	my $sha = `timeout -k 5 $secs $ip netns exec $ns $curl -sS --max-time $secs -D $hdr http://$addr/$n 2>/dev/null | sha256sum`;
	my $h = -e $hdr ? do { local (@ARGV, $/) = ($hdr); <> } : '';
	unlink($hdr);
	my ($code) = $h =~ m{^HTTP/1\.1 (\d+)}m;
	my ($len) = $h =~ /^Content-Length: (\d+)/mi;
	($sha) = split(' ', $sha // '');
	return join(' ', $code // 'none', $len // 'none', $sha // 'none');
}

1;
