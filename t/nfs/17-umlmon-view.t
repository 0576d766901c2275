#!/usr/bin/perl
# umlmon's terminal view as a user sees it: the monitor runs in a tmux pane
# (a real terminal), the test reads the screen with capture-pane and types
# with send-keys. The instances are umlnfsd servers with a /status/metrics
# the test writes.
#  1     the view shows a header and one line per instance, with its knobs
#        and figures
#  2     a dead instance shows as down with its reason
#  3     new figures at an instance show on the screen within two intervals,
#        in place (the screen does not scroll: still one line per instance)
#  4     the drain's action shows on that instance's line
#  5-6   q quits: the monitor exits 0 and the terminal is back in its
#        normal mode (the shell echoes what is typed again)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use NfsTest;

plan_nfs(6);
my ($tmux) = grep { -x } map { "$_/tmux" } split /:/, $ENV{PATH};
$tmux or BAIL_OUT('tmux is not installed (tools/install-deps --test)');

my $BUILD = build_dir();
sub metrics {
	my (%v) = (in_flight => 2, queued => 0, mrw => 10, ql => 256, count => 100, @_);
	return "umlconf_requests_in_flight $v{in_flight}\numlconf_requests_queued $v{queued}\n"
	    . "umlconf_listen_queue{listener=\"127.0.0.1:80\"} 0\n"
	    . "umlconf_knob_value{knob=\"MaxRequestWorkers\",source=\"conf\"} $v{mrw}\n"
	    . "umlconf_knob_value{knob=\"QueueLimit\",source=\"conf\"} $v{ql}\n"
	    . "umlconf_knob_value{knob=\"Accepting\",source=\"conf\"} 1\n"
	    . "umlconf_request_duration_seconds_bucket{le=\"+Inf\"} $v{count}\n"
	    . "umlconf_request_duration_seconds_sum 1\numlconf_request_duration_seconds_count $v{count}\n";
}
my @web = map {
	start_server('-l', '127.0.0.1:0', '-w', '1', '-e', '/:rw:127.0.0.1', '-p', '/status/metrics=' . metrics(mrw => 10 * $_),
		'-p', "/config/QueueLimit=256\n")
} 1 .. 2;
my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die;
my $dead = $probe->sockport;
close $probe;

my $conf = tmp_path('view.conf');
open(my $fh, '>', $conf) or die;
print $fh "interval 250ms\ndrain on high=50 low=5 for=0s dwell=10s\n";
printf $fh "instance web%d nfs://127.0.0.1:%d/?mountport=%d\n", $_ + 1, $web[$_]{port}, $web[$_]{port} for 0 .. 1;
print $fh "instance gone nfs://127.0.0.1:$dead/?mountport=$dead\n";
close $fh;

my $sock = tmp_path('tmux.sock');
my $done = tmp_path('exit.status');
sub tm { system($tmux, '-S', $sock, @_) }
sub screen { my $s = `$tmux -S $sock capture-pane -p -t view 2>/dev/null`; $s // '' }
END { tm('kill-server') if $sock; }
tm('new-session', '-d', '-s', 'view', '-x', '160', '-y', '30',
	"$BUILD/umlmon -V -c $conf; echo \"exit \$?\" > $done; exec sh") == 0 or BAIL_OUT('tmux new-session failed');

sub wait_screen {
	my ($re, $secs) = @_;
	my $end = time + $secs;
	my $s;
	my $want = ref $re eq 'CODE' ? $re : sub { $_[0] =~ $re };
	while (time < $end) { $s = screen(); return $s if $want->($s); sleep 0.1 }
	diag "screen:\n$s";
	return undef;
}
sub nput {
	my ($s, $path, $text) = @_;
	my ($st, $out) = nfsc($s, '/', 'write', $path, $text);
	diag $out if $st;
}

# One frame must show all of it: the header counts both instances up and
# both lines carry their figures (a frame drawn while web1's first poll is
# still out shows web2 alone; that is not a failure, the next frame is).
my $s = wait_screen(sub {
	$_[0] =~ /^umlmon .*3 instances, 2 up/m && $_[0] =~ /^NAME\s+REACH\s+MRW/m
	    && $_[0] =~ /^web1\s+up\s+10\s+256\s+1\s+2\s+0\s+0\b/m
	    && $_[0] =~ /^web2\s+up\s+20\s+256\s+1\s+2\s+0\s+0\b/m
}, 10);
ok $s, '1 header, columns and a line per instance with its knobs and figures';
ok wait_screen(qr/^gone\s+down\s.*Connection refused/m, 10), '2 the dead instance: down, with its reason';

nput($web[0], '/status/metrics', metrics(mrw => 10, in_flight => 7, queued => 3));
$s = wait_screen(qr/^web1\s+up\s+10\s+256\s+1\s+7\s+3\b/m, 2);
my @lines = grep { /^web1\s/ } split /\n/, $s // '';
ok $s && @lines == 1, '3 new figures show within two intervals, in place';

nput($web[1], '/status/metrics', metrics(mrw => 20, queued => 80));
ok wait_screen(qr/^web2\s.*QueueLimit 256->0 drain: backlog 80 >= 50/m, 5), "4 the drain's action on web2's line";

tm('send-keys', '-t', 'view', 'q');
my $end = time + 5;
sleep 0.1 until -s $done || time > $end;
is do { open(my $f, '<', $done); local $/; <$f> // '' }, "exit 0\n", '5 q quits, exit status 0';
tm('send-keys', '-t', 'view', 'echo typed-back', 'Enter');
ok wait_screen(qr/^.*echo typed-back/m, 5), '6 the terminal is back in its normal mode (typing echoes)';
stop_server($_) for @web;
