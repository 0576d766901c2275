#!/usr/bin/perl
# umlmon against NFS servers that are not httpd: umlnfsd instances serving a
# /status/metrics the test writes (so the numbers are the test's), a dead
# port, an export that does not exist, a TCP server answering garbage and a
# name that does not resolve. The monitor must report each, keep steering
# the live ones, and be steered through its own export.
#  1     the monitor starts and exports its tree
#  2-6   web1 is up; the dead port is down, /nothere refused, the garbage
#        server garbage, the bad name badurl, each with its reason
#  7-8   web1's backlog over high: QueueLimit=0 at web1 with the reason
#        after '#', and the action in the monitor's /monitor/actions
#  9     the backlog drained (the instance's QueueLimit is 0, as it would
#        be): the monitor clears its write (a comment-only write)
# 10     /fleet/web1/drain off: a new backlog is left alone
# 11-13  its settings as files: a bad switch value and low over high are
#        refused and the old values stay; high=90 is taken
# 14     the live instance is polled every interval while the others fail
# 15     the dead one backs off (far fewer attempts than intervals)
# 16-17  web2 killed: down; started again on its port: up again
# 18     --dry-run logs the action and writes nothing
# 19     the dashboard in headless chromium (t/lib/dashboard-shot): a card
#        with numbers for each live instance, the failing ones with their
#        state, the drain in the time line; a screenshot with the charts
# 20     SIGTERM stops the monitor cleanly; no sanitizer spoke
# 21     a monitor stopped in the middle of a drain ends it on its way out:
#        the instance does not shed for good
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use NfsTest;

plan_nfs(21);

my $BUILD = build_dir();

# A /status/metrics in an instance's format.
sub metrics {
	my (%v) = (in_flight => 2, queued => 0, accq => 0, mrw => 10, ql => 256, ql_src => 'conf', count => 100, @_);
	return join('',
		"# TYPE umlconf_requests_in_flight gauge\n",
		"umlconf_requests_in_flight $v{in_flight}\n",
		"umlconf_requests_queued $v{queued}\n",
		"umlconf_listen_queue{listener=\"127.0.0.1:80\"} $v{accq}\n",
		"umlconf_knob_value{knob=\"MaxRequestWorkers\",source=\"conf\"} $v{mrw}\n",
		"umlconf_knob_value{knob=\"QueueLimit\",source=\"$v{ql_src}\"} $v{ql}\n",
		"umlconf_request_duration_seconds_bucket{le=\"0.1\"} $v{count}\n",
		"umlconf_request_duration_seconds_bucket{le=\"+Inf\"} $v{count}\n",
		"umlconf_request_duration_seconds_sum 1.0\n",
		"umlconf_request_duration_seconds_count $v{count}\n");
}

sub instance {
	my (@listen) = @_;
	return start_server(@listen ? @listen : ('-l', '127.0.0.1:0'), '-w', '1', '-e', '/:rw:127.0.0.1',
		'-p', '/status/metrics=' . metrics(), '-p', "/config/QueueLimit=256\n",
		'-p', "/config/MaxRequestWorkers=10\n");
}
sub put { my ($s, $path, $text) = @_; my ($st, $out) = nfsc($s, '/', 'write', $path, $text); diag "$path: $out" if $st; !$st }
# A write the server must refuse: true when it did.
sub refused { my ($s, $path, $text) = @_; my ($st) = nfsc($s, '/', 'write', $path, $text); $st != 0 }
sub cat { my ($s, $path) = @_; my ($st, $out) = run_tool('nfs-cat', nfs_url($s, $path)); $st ? undef : $out }

my $web1 = instance();
my $web2 = instance();

# A free port nobody listens on.
my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die;
my $dead_port = $probe->sockport;
close $probe;

# A server that answers every connection with bytes that are not ONC RPC:
# an HTTP server, as when the URL names httpd's port instead of its NFS port.
my $garbage = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16, ReuseAddr => 1) or die;
my $gport = $garbage->sockport;
my $gpid = fork() // die;
if ($gpid == 0) {
	$SIG{TERM} = sub { exit 0 };
	while (my $c = $garbage->accept) {
		my $buf;
		sysread($c, $buf, 4096);
		syswrite($c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
		sleep 1;
		close $c;
	}
	exit 0;
}
close $garbage;

my $url = sub { my ($port, $path) = @_; "nfs://127.0.0.1:$port$path?mountport=$port" };
my $conf = tmp_path('umlmon.conf');
open(my $fh, '>', $conf) or die;
print $fh <<"EOF";
interval 200ms
drain on high=64 low=8 for=400ms dwell=400ms
instance web1 ${\ $url->($web1->{port}, '/')}
instance web2 ${\ $url->($web2->{port}, '/')}
instance dead ${\ $url->($dead_port, '/')}
instance nothere ${\ $url->($web1->{port}, '/nothere')}
instance garbage ${\ $url->($gport, '/')}
instance badurl nfs://no-such-host.invalid/
EOF
close $fh;

my %mons;
END { kill 'TERM', $_ for keys %mons; kill 'TERM', $gpid if $gpid }
sub start_mon {
	my (@args) = @_;
	my $log = tmp_path('umlmon.' . int(rand(1e9)) . '.log');
	my $pid = fork() // die;
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', '/dev/null');
		exec("$BUILD/umlmon", '-Q', '-c', $conf, '-N', '127.0.0.1:0', '-H', '127.0.0.1:0', '-L', $log, @args)
		    or exit 127;
	}
	$mons{$pid} = 1;
	my $m = {pid => $pid, log => $log};
	for (1 .. 100) {
		my $text = slurp($log);
		if ($text =~ /exported on 127\.0\.0\.1:(\d+), dashboard on (\S+)/) {
			@$m{qw(port http)} = ($1, $2);
			return $m;
		}
		last if waitpid($pid, WNOHANG) == $pid;
		sleep 0.1;
	}
	return $m;
}
sub slurp { open(my $f, '<', $_[0]) or return ''; local $/; <$f> // '' }
sub mon_file { my ($m, $path) = @_; cat($m, $path) // '' }
sub state_of {
	my ($m, $name) = @_;
	my %s = mon_file($m, "/fleet/$name/state") =~ /^(\S+) (.*)$/mg;
	return \%s;
}
sub wait_until {
	my ($cond, $secs) = @_;
	my $end = time + $secs;
	while (time < $end) { return 1 if $cond->(); sleep 0.1 }
	return $cond->();
}

my $mon = start_mon();
ok $mon->{port}, '1 umlmon started and exported its tree' or BAIL_OUT(slurp($mon->{log}));

ok wait_until(sub { state_of($mon, 'web1')->{reach} eq 'up' }, 10), '2 web1 is up';
my %want = (dead => 'down', nothere => 'refused', garbage => 'garbage', badurl => 'badurl');
for my $name (qw(dead nothere garbage badurl)) {
	my $got;
	wait_until(sub { ($got = state_of($mon, $name))->{reach} eq $want{$name} }, 10);
	is $got->{reach}, $want{$name}, "3-6 $name is $want{$name} ($got->{error})";
}

put($web1, '/status/metrics', metrics(queued => 90, accq => 10));
my $ql;
ok wait_until(sub { ($ql = cat($web1, '/config/QueueLimit') // '') =~ /^0 # umlmon drain: backlog 100 >= 64/ }, 10),
    "7 backlog 100: QueueLimit=0 written with its reason ($ql)";
like mon_file($mon, '/monitor/actions'), qr/web1 QueueLimit 256 0 drain applied drain: backlog 100/, '8 and listed in /monitor/actions';

put($web1, '/status/metrics', metrics(queued => 2, ql => 0, ql_src => 'local'));
ok wait_until(sub { ($ql = cat($web1, '/config/QueueLimit') // '') =~ /^# umlmon drain over: backlog 2 <= 8/ }, 10),
    "9 drained: the monitor's write cleared with a comment-only write ($ql)";

put($mon, '/fleet/web1/drain', "off\n");
put($web1, '/config/QueueLimit', "256\n");
put($web1, '/status/metrics', metrics(queued => 200));
sleep 2;
is cat($web1, '/config/QueueLimit'), "256\n", '10 drain switched off for web1: its backlog is left alone';

ok refused($mon, '/fleet/web1/drain', "maybe\n") && mon_file($mon, '/fleet/web1/drain') eq "off\n",
    '11 a bad switch value is refused, the old one stays';
ok refused($mon, '/policy/drain/low', "500\n") && mon_file($mon, '/policy/drain/low') eq "8\n",
    '12 low over high is refused, low stays 8';
ok put($mon, '/policy/drain/high', "90\n") && mon_file($mon, '/policy/drain/high') eq "90\n",
    '13 high=90 is taken and reads back';

my $p0 = state_of($mon, 'web2')->{polls};
my $f0 = state_of($mon, 'dead')->{failures};
sleep 4;
my $p1 = state_of($mon, 'web2')->{polls};
my $f1 = state_of($mon, 'dead')->{failures};
cmp_ok $p1 - $p0, '>=', 12, "14 web2 polled every interval meanwhile (" . ($p1 - $p0) . " polls in 4 s)";
cmp_ok $f1 - $f0, '<=', 4, "15 the dead one backs off (" . ($f1 - $f0) . " attempts in 4 s)";

my $port2 = $web2->{port};
stop_server($web2);
ok wait_until(sub { state_of($mon, 'web2')->{reach} eq 'down' }, 10), '16 web2 killed: down';
$web2 = instance('-l', "127.0.0.1:$port2");
ok wait_until(sub { state_of($mon, 'web2')->{reach} eq 'up' }, 40), '17 web2 back on its port: up again';

put($web1, '/config/QueueLimit', "256\n");
put($mon, '/fleet/web1/drain', "on\n");
kill 'TERM', $mon->{pid};
waitpid($mon->{pid}, 0);
delete $mons{$mon->{pid}};
my $dry = start_mon('-n');
put($web1, '/status/metrics', metrics(queued => 200));
ok wait_until(sub { mon_file($dry, '/monitor/actions') =~ /web1 QueueLimit 256 0 drain dry-run/ }, 10)
    && cat($web1, '/config/QueueLimit') eq "256\n",
    '18 --dry-run logs the drain and writes nothing';

my $png = tmp_path('dashboard.png');
my $shot = `$FindBin::Bin/../lib/dashboard-shot http://$dry->{http}/ $png card:web1 card:web2 'action:QueueLimit' garbage badurl refused 2>&1`;
ok $? == 0, '19 the dashboard shows the fleet in chromium' or diag $shot;
system('cp', $png, "$BUILD/t/umlmon-dashboard-real.png");

kill 'TERM', $dry->{pid};
my $t0 = time;
waitpid($dry->{pid}, 0);
my $status = $?;
delete $mons{$dry->{pid}};
my $log = slurp($mon->{log}) . slurp($dry->{log});
ok $status == 0 && time - $t0 < 5 && $log =~ /umlmon stopped/ && $log !~ /Sanitizer|runtime error/,
    '20 SIGTERM stops it cleanly (' . sprintf('%.1f', time - $t0) . ' s)';
put($web1, '/config/QueueLimit', "256\n");
put($web1, '/status/metrics', metrics(queued => 200));
my $last = start_mon();
my $draining = wait_until(sub { (cat($web1, '/config/QueueLimit') // '') =~ /^0 # umlmon drain/ }, 10);
put($web1, '/status/metrics', metrics(queued => 200, ql => 0, ql_src => 'local'));
sleep 0.5;
kill 'TERM', $last->{pid};
waitpid($last->{pid}, 0);
delete $mons{$last->{pid}};
my $after = cat($web1, '/config/QueueLimit') // '';
ok $draining && $after =~ /^# umlmon drain over: umlmon stopping/,
    "21 stopped mid-drain: the monitor cleared its QueueLimit=0 on its way out ($after)";
stop_server($_) for $web1, $web2;
