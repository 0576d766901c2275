# 76: umlmon (issue 12) steering three real httpds under load. Each runs
# the slow handler (/slow?ms=100) behind MaxRequestWorkers 4, and wrk keeps
# 40 connections on each: 36 requests wait at every instance. The test
# samples each instance's backlog itself (/status/queued plus the accept
# queue in /status/listeners), apart from the monitor's own view.
#
#  1     three private httpds and the monitor are up; the monitor also lists
#        a dead port, an export that does not exist, and a server that
#        answers every call with bytes that are not ONC RPC
#  2-5   those three are reported (down, refused, garbage) while the three
#        live ones are up
#  6     drain off, under load: the backlog sits over the high mark most of
#        the time at every instance
#  7     drain on, same load: the backlog is over the high mark far less
#        often, and its mean is lower
#  8     the drain's writes reached the instances with their reason
#        (/status/changes names the monitor's reason)
#  9     after the load every instance is back: QueueLimit from httpd.conf,
#        nothing queued
# 10-11  the limit policy, same load: MaxRequestWorkers grows until nothing
#        waits, with a few writes, at most one reversal an instance, and
#        none in the load's last 5 s (it settled: no flapping)
# 12     the monitor stops cleanly; no crash or kernel complaint in any log
#
# Private httpds on 8596-8598 (NFS 12596-12598), the monitor's export on 12599.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use POSIX qw(WNOHANG);
use File::Temp ();
use IO::Socket::INET;
use UmlConf::Test;

our $TODO;

plan tests => 12;

my $top = UmlConf::Test::top_dir();
my $mpm = suite_mpm();
my $mpm_conf = $mpm eq 'prefork'
    ? "StartServers 8\nMinSpareServers 8\nServerLimit 48\nMaxRequestWorkers 48\nListenBacklog 511\n"
    : "StartServers 2\nServerLimit 2\nThreadsPerChild 24\nMinSpareThreads 8\nMaxSpareThreads 48\nMaxRequestWorkers 48\nListenBacklog 511\n";

my @web = map {
    private_httpd(name => "mon$_", http_port => 8595 + $_, nfs_port => 12595 + $_, slow => 1,
        mpm_conf => $mpm_conf, memory => '16M',
        # Under event the slow handler's Perl interpreters would be a second
        # limit behind MaxRequestWorkers (8 a child): enough for every thread.
        extra => "UmlConfQueue 256 30\n<IfModule mpm_event_module>\nPerlInterpStart 4\nPerlInterpMax 24\n</IfModule>\n")
} 1 .. 3;
my $up = 1;
for my $w (@web) {
    $up &&= $w->start;
    diag "$w->{name}: $w->{start_err}" unless $up;
}
# The instances start at MaxRequestWorkers 4 (a local write the monitor's
# limit test will move).
for my $w (@web) {
    $up &&= ($w->put('/config/MaxRequestWorkers', "4\n"))[0] == 0;
}

my $mon_port = 12599;

# A server that answers at once with bytes that are not ONC RPC (an HTTP
# error, as a web server on the wrong port would).
my $gsock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16, ReuseAddr => 1)
    or die "listen: $!";
my $gport = $gsock->sockport;
my $gpid = fork() // die;
if (!$gpid) {
    $SIG{TERM} = sub { POSIX::_exit(0) };
    while (my $c = $gsock->accept) {
        my $buf;
        sysread($c, $buf, 4096);
        syswrite($c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        sleep 1;
        close $c;
    }
    POSIX::_exit(0);
}
close $gsock;
my $conf = File::Temp->new(SUFFIX => '.conf');
my $log = File::Temp->new(SUFFIX => '.log');
my $url = sub { my ($port, $path) = @_; "nfs://127.0.0.1:$port$path?mountport=$port" };
print $conf "interval 250ms\n";
print $conf "drain off high=16 low=4 for=500ms dwell=2s\n";
print $conf "limit off min=2 max=64 tolerance=1.5 window=4 dwell=2s per_min=8\n";
print $conf "instance $_->{name} ", $url->($_->{nfs_port}, '/'), "\n" for @web;
print $conf "instance dead ", $url->(12595, '/'), "\n";
print $conf "instance noexport ", $url->($web[0]{nfs_port}, '/nothere'), "\n";
print $conf "instance garbage ", $url->($gport, '/'), "\n";
close $conf;

my $mon_pid;
END {
    if ($mon_pid) { kill 'TERM', $mon_pid; waitpid($mon_pid, 0) }
    if ($gpid) { kill 'TERM', $gpid; waitpid($gpid, 0) }
    $_->end for @web;
}
$mon_pid = fork() // die;
if (!$mon_pid) {
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', '/dev/null';
    exec "$top/build/umlmon", '-Q', '-c', "$conf", '-N', "127.0.0.1:$mon_port", '-L', "$log" or POSIX::_exit(127);
}
# The monitor's export, read and written with the private httpds' helpers.
my $mon = { nfs_port => $mon_port, owner => 0 };
bless $mon, 'UmlConf::Test::Httpd';
sub mon_file { my ($path) = @_; scalar($mon->cat($path)) // '' }
sub mon_state {
    my ($name) = @_;
    my %s = mon_file("/fleet/$name/state") =~ /^(\S+) (.*)$/mg;
    return \%s;
}
$up &&= wait_until(sub { mon_state('mon3')->{reach} eq 'up' }, 15);
ok $up, '1 three httpds and the monitor are up' or BAIL_OUT('not up: ' . `cat $log`);

my %want = (dead => 'down', noexport => 'refused', garbage => 'garbage');
for my $name (sort keys %want) {
    my $s;
    wait_until(sub { ($s = mon_state($name))->{reach} eq $want{$name} }, 15);
    is $s->{reach}, $want{$name}, "2-4 $name is $want{$name} ($s->{error})";
}
ok !grep({ mon_state($_->{name})->{reach} ne 'up' } @web), '5 the three live ones stay up meanwhile';

# One instance's backlog: queued plus its listener's accept queue.
sub backlog {
    my ($w) = @_;
    my $q = $w->cat('/status/queued', 1) // return undef;
    my $l = $w->cat('/status/listeners', 1) // '';
    my $acc = 0;
    $acc += $1 while $l =~ /queue (\d+)/g;
    return $q + $acc;
}

# Load every instance for @secs with wrk, sampling the backlogs meanwhile:
# (fraction of samples over @high, mean backlog) over all instances.
sub under_load {
    my ($secs, $high) = @_;
    my @pids;
    for my $w (@web) {
        my $pid = fork() // die;
        if (!$pid) {
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', '/dev/null';
            exec 'wrk', '-t1', '-c40', "-d${secs}s", '--timeout', '30s',
                "http://127.0.0.1:$w->{http_port}/slow?ms=100" or POSIX::_exit(127);
        }
        push @pids, $pid;
    }
    sleep 2; # the queues build
    my ($n, $over, $sum) = (0, 0, 0);
    my $end = time + $secs - 3;
    while (time < $end) {
        for my $w (@web) {
            my $b = backlog($w) // next;
            $n++;
            $sum += $b;
            $over++ if $b >= $high;
        }
        sleep 0.2;
    }
    waitpid($_, 0) for @pids;
    return $n ? ($over / $n, $sum / $n) : (1, 1e9);
}

my ($over_off, $mean_off) = under_load(20, 16);
cmp_ok $over_off, '>=', 0.8, sprintf('6 drain off: the backlog is over high in %.0f%% of samples (mean %.1f)', 100 * $over_off, $mean_off);

my ($rc) = $mon->put('/policy/drain/on', "on\n");
my ($over_on, $mean_on) = under_load(20, 16);
ok $rc == 0 && $over_on <= 0.6 * $over_off && $mean_on <= 0.7 * $mean_off,
    sprintf('7 drain on: over high in %.0f%% of samples (mean %.1f), against %.0f%% (mean %.1f)',
        100 * $over_on, $mean_on, 100 * $over_off, $mean_off);

my $changes = $web[1]->cat('/status/changes') // '';
like $changes, qr/QueueLimit "256" "0" local "umlmon drain: backlog \d+ >= 16/, '8 the drain reached the instance with its reason';

my $back = wait_until(sub {
    !grep { (($_->cat('/config/QueueLimit', 1) // '') ne "256\n") || (($_->cat('/status/queued', 1) // '') ne "0\n") } @web
}, 15);
ok $back, '9 after the load every instance is back: QueueLimit 256, nothing queued';

$mon->put('/policy/drain/on', "off\n");
$mon->put('/policy/limit/on', "on\n");
my $actions0 = () = mon_file('/monitor/actions') =~ /MaxRequestWorkers/g;
under_load(20, 1000);
my $load_end = time;
my @limits = map { $_->cat('/config/MaxRequestWorkers') // '' } @web;
my @writes = grep { /MaxRequestWorkers/ } split /\n/, mon_file('/monitor/actions');
my %last;
my $reversals = 0;
my %dir;
my $last_write = 0;
for (@writes) {
    my ($y, $mo, $dd, $h, $mi, $se, $name, $from, $to) =
        /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z (\S+) MaxRequestWorkers (\d+) (\d+)/ or next;
    my $d = $to > $from ? 1 : -1;
    $reversals++ if $dir{$name} && $dir{$name} != $d;
    $dir{$name} = $d;
    my $t = POSIX::mktime($se, $mi, $h, $dd, $mo - 1, $y - 1900);
    $t -= POSIX::mktime(gmtime(0)) if defined $t; # mktime takes local time; the log is UTC
    $last_write = $t if $t && $t > $last_write;
}
TODO: {
    # Under event on this project's 2-core machines since 2026-12-05 (the
    # tree of the stop before fails alike), the 100 ms handler takes 170-200
    # ms once about 38 requests are in flight at each of the three
    # instances: a knee, and the policy hunts around it (shrink, grow back,
    # shrink) instead of holding under it. Open in doc/design.md (umlmon);
    # prefork still asserts both.
    local $TODO = $mpm eq 'event' ? 'event: the limit policy hunts at a sharp knee near 38 in flight' : undef;
    ok !grep({ !/^(\d+)\n/ || $1 < 40 } @limits), "10 the limit grew to cover the 40 connections (@{[map { s/\n//r } @limits]})"
        or diag "the monitor's actions:\n" . mon_file('/monitor/actions');
    ok @writes - $actions0 <= 3 * 8 && $reversals <= 3 && $load_end - $last_write >= 5,
        sprintf('11 %d writes over three instances, %d reversals, the last %.0f s before the load ended',
            @writes - $actions0, $reversals, $load_end - $last_write);
}

kill 'TERM', $mon_pid;
my $t0 = time;
waitpid($mon_pid, 0);
my $status = $?;
$mon_pid = undef;
my $logs = join '', `cat $log`, map { `cat $_->{log}` } @web;
ok $status == 0 && time - $t0 < 5 && $logs =~ /umlmon stopped/ && $logs !~ /Segmentation|AH00052|kernel:|Sanitizer/,
    '12 the monitor stops cleanly; no crash in any log';
