#!/usr/bin/perl
# umlmon's dashboard in a browser: t/lib/dashboard-shot runs Debian's
# chromium headless against the unit test's server serving its synthetic
# fleet (build/t/umlmon-http.t --serve), and looks at the DOM it rendered
# and at a screenshot (left in build/t/umlmon-dashboard*.png).
#  1  a card per instance that has data, with numbers; "no data yet" on
#     those without; every action in the time line, a hostile reason as
#     text; no banner; a 1280x900 picture with the chart colours
#  2  the page where api/fleet fails (served from a plain file server):
#     the banner says so, and the cards say there is no data yet
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use Test::More;

my $build = $ENV{UML_BUILD} // 'build';
my $bin = "$build/t/umlmon-http.t";
my $shot = "$FindBin::Bin/../lib/dashboard-shot";
my $page = "$FindBin::Bin/../../tools/umlmon/dashboard.html";
plan(skip_all => "$bin not built (make)") unless -x $bin;
plan(skip_all => 'no chromium (tools/install-deps --test)')
	unless $ENV{CHROMIUM} || -x '/usr/bin/chromium' || -x '/usr/bin/chromium-browser';
plan(tests => 2);

my (@pids, @pipes);
END {
	my $status = $?;
	kill('TERM', $_) for @pids;
	waitpid($_, 0) for @pids;
	$? = $status;
}
$SIG{$_} = sub { exit 1 } for qw(PIPE INT TERM HUP);

# Start @cmd, its stderr (a log per request) dropped; what the first line it
# prints that matches $re captures.
sub start {
	my ($re, @cmd) = @_;
	my $pid = open(my $out, '-|') // die "fork: $!";
	if (!$pid) {
		open(STDERR, '>', '/dev/null') or die;
		exec(@cmd) or die "$cmd[0]: $!";
	}
	push @pids, $pid;
	push @pipes, $out; # closing it would wait for the server to end
	while (my $line = <$out>) {
		return $1 if $line =~ $re;
	}
	die "$cmd[0] ended without saying where it listens";
}

# t/lib/dashboard-shot with @args; whether it passed. Its report goes to the TAP output.
sub shot {
	my (@args) = @_;
	open(my $out, '-|', $shot, @args) or die "$shot: $!";
	my $text = do { local $/; <$out> } // '';
	close($out);
	my $good = $? == 0;
	$good ? note($text) : diag($text);
	return $good;
}

my $url = start(qr{^(http://\S+)}, $bin, '--serve', '300', '127.0.0.1:0');
ok(shot($url, "$build/t/umlmon-dashboard.png",
	qw(card:web1 card:web2 card:db-1 nodata:web3 nodata:cache-a nodata:typo actions:7),
	'action:backlog 52 >= high 40', 'action:dry run', 'action:ERANGE: Numerical result out of range',
	'action:</script><img src=x onerror=alert(1)>', 'connect 10.0.0.21:2049: Connection refused',
	"!The monitor's API"),
   '1 the synthetic fleet: cards with numbers, no-data states, the time line, the picture');

# The page alone, from a server that has no api/fleet: 404 for it.
my $dir = tempdir(CLEANUP => 1);
system('cp', $page, "$dir/index.html") == 0 or die "cp $page: $!";
my $bare = start(qr{port (\d+)}, 'python3', '-u', '-m', 'http.server', '--bind', '127.0.0.1',
		 '--directory', $dir, '0');
ok(shot('--colors', '', "http://127.0.0.1:$bare/", "$build/t/umlmon-dashboard-down.png",
	"The monitor's API (api/fleet) failed: HTTP 404", 'No data yet', 'No actions yet'),
   '2 api/fleet failing: the banner says so, and there is no data yet');
