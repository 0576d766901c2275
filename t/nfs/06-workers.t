#!/usr/bin/perl
# umlnfsd's worker processes: several CPUs serve one listener; a worker
# killed with SIGKILL is replaced and the service goes on.
#  1     -w 3 starts three workers
#  2     one killed with SIGKILL is replaced by a new process
#  3     the files are still served, by whichever worker accepts
#  4     SIGTERM stops the parent and every worker
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use NfsTest;

plan_nfs(4);

sub workers {
	my ($pid) = @_;
	my @kids;
	for my $st (glob '/proc/[0-9]*/stat') {
		open(my $fh, '<', $st) or next;
		my $line = <$fh> // next;
		push @kids, $1 if $line =~ /^(\d+) \(umlnfsd\) \S+ (\d+)/ && $2 == $pid;
	}
	return sort { $a <=> $b } @kids;
}

my $s = start_server('-l', '127.0.0.1:0', '-w', '3', '-p', '/config/a=1');
my @w = workers($s->{pid});
is(scalar(@w), 3, '1 three workers');

kill 'KILL', $w[0];
my @now;
for (1 .. 50) {
	@now = workers($s->{pid});
	last if @now == 3 && !grep { $_ == $w[0] } @now;
	sleep 0.1;
}
ok(@now == 3 && !grep({ $_ == $w[0] } @now), '2 a killed worker is replaced');

my $good = 0;
for (1 .. 6) {
	my (undef, $out) = run_tool('nfs-cat', nfs_url($s, '/config/a'));
	$good++ if $out eq '1';
}
is($good, 6, '3 six reads in a row are served');

my $log = stop_server($s);
ok(!kill(0, @now) && $log =~ /stopped:/, '4 SIGTERM stops the parent and all workers');
