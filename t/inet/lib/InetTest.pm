# Helpers the t/inet tests share: finding a program, a step bounded in
# time, and the counters of a t/inet-drive machine asked for on its
# standard input.
package InetTest;
use strict;
use warnings;
use Exporter 'import';
use Time::HiRes qw(time);

our @EXPORT = qw(which bounded drive_stat);

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

1;
