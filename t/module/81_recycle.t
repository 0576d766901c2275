# 81: issue 15, death at any instant: children recycled by
# MaxConnectionsPerChild 1 leave nothing behind. Hundreds of children are
# born and end under load; each new one runs its kernel threads (no
# umlconf(10007)) and binds nothing again (no "(98)Address already in use");
# within a second of the load's end /status/sched/cpus lists only live
# children of this httpd, and every live child runs a CPU; a knob write is
# then applied by every child, as /status/children shows; and SIGTERM
# still ends httpd at once. Under a threaded MPM httpd itself fails the load
# and the stop with MaxConnectionsPerChild 1, so those two are prefork's only.
#
# On a private httpd (HTTP 8581, NFS 12581) with the suite's MPM, so that
# the recycling never touches the suite's server. UMLCONF_RECYCLE_REQUESTS
# sets the load (default 300 requests, 8 at a time).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use Time::HiRes qw(time sleep);

plan tests => 10;

my $requests = $ENV{UMLCONF_RECYCLE_REQUESTS} || 300;
my $mpm = suite_mpm();
# Every child serves one connection and exits. No idle child is ever reaped
# (the spares' ceiling is the capacity), so a child that ends is a recycled
# one. httpd starts at most 32 children a second: 32 of them keep the load
# at 15-25 requests a second. The threaded MPMs keep a child's slot while it
# finishes; ServerLimit leaves room for that.
my $mpm_conf = $mpm eq 'prefork' ? <<'PREFORK' : <<'THREADED';
StartServers 32
MinSpareServers 32
MaxSpareServers 32
ServerLimit 32
MaxRequestWorkers 32
MaxConnectionsPerChild 1
PREFORK
StartServers 16
ServerLimit 64
ThreadsPerChild 2
MinSpareThreads 32
MaxSpareThreads 64
MaxRequestWorkers 32
MaxConnectionsPerChild 1
THREADED

# The event MPM itself, without mod_umlconf, fails this load (on this
# machine: 3 of 300 requests failed, or ab timed out on a full scoreboard)
# and its retired children then take 11-12 s and AH00045 to stop: not this
# module's to judge there.
my $threaded_why = "httpd's $mpm MPM alone fails this with MaxConnectionsPerChild";

my $h = private_httpd(name => '81_recycle', http_port => 8581, nfs_port => 12581,
    mpm_conf => $mpm_conf);
my $up = $h->start;
ok $up, "private httpd ($mpm, MaxConnectionsPerChild 1) up on 8581, NFS 12581";
diag "its error_log:\n" . $h->log_since(0) unless $up;

SKIP: {
    skip 'no private httpd', 9 unless $up;
    my $parent = $h->pid;

    my $t0 = time;
    my $ab = `ab -r -q -s 20 -n $requests -c 8 http://127.0.0.1:8581/index.html 2>&1`;
    my $t_end = time;
    my ($done) = $ab =~ /^Complete requests:\s+(\d+)/m;
    my ($failed) = $ab =~ /^Failed requests:\s+(\d+)/m;
    my ($non2xx) = $ab =~ /^Non-2xx responses:\s+(\d+)/m;
    my $load = sprintf('ab: %s of %d requests complete, %s failed, %s non-2xx, in %.1f s',
        $done // '?', $requests, $failed // '?', $non2xx // 0, $t_end - $t0);
    SKIP: {
        skip "$threaded_why ($load)", 1 if $mpm ne 'prefork';
        ok(($done // -1) == $requests && !$failed && !$non2xx, $load) or diag $ab;
    }

    # Within a second of the load's end: every CPU listed is a live child of
    # this httpd. The children that served the last requests may still be
    # on their way out at the first look.
    my ($cpus, @bad);
    my $clean = wait_until(sub {
        $cpus = $h->cpus_status or return 0;
        @bad = map {
            my $st = proc_stat($_->{pid});
            !$st || $st->{state} =~ /^[ZX]$/ ? "cpu $_->{cpu} pid $_->{pid} dead"
                : $st->{ppid} != $parent ? "cpu $_->{cpu} pid $_->{pid} not a child of $parent"
                : ();
        } @$cpus;
        return @$cpus && !@bad;
    }, 1.0);
    my $after = time - $t_end;
    ok $clean, sprintf('%.2f s after the load, /status/sched/cpus lists only live children '
            . 'of this httpd: %s', $after,
        $cpus ? join(', ', map { "$_->{cpu}:$_->{pid}" } @$cpus) . (@bad ? '; ' . join('; ', @bad) : '')
            : 'unreadable');

    # And every live child runs a CPU: none is left half set up.
    my @no_cpu;
    my $all = wait_until(sub {
        my $c = $h->cpus_status or return 0;
        my %has = map { $_->{pid} => 1 } @$c;
        my @kids = $h->children;
        @no_cpu = grep { !$has{$_} } @kids;
        return @kids && !@no_cpu;
    }, 5);
    ok $all, 'every live child runs a CPU (children ' . join(' ', $h->children)
        . '; without one: ' . (join(' ', @no_cpu) || 'none') . ')';

    my $mrw = $h->cat('/config/MaxRequestWorkers') // '';
    chomp $mrw;
    my $new = $mrw =~ /^\d+$/ && $mrw > 1 ? $mrw - 1 : 2;
    my ($applied, $gen, $seen) = $h->knob_applies('MaxRequestWorkers', $new, 10);
    ok $applied, "MaxRequestWorkers=$new (generation " . ($gen // '?')
        . ") applied by every live child: $seen";

    my $log = $h->log_since(0);
    my @lines = grep { /umlconf\(10007\)/ } split /\n/, $log;
    ok !@lines, 'no child without kernel threads (umlconf(10007)): ' . scalar(@lines) . ' lines'
        or diag join "\n", @lines[0 .. ($#lines < 4 ? $#lines : 4)];
    @lines = grep { /\(98\)\s*Address already in use/ } split /\n/, $log;
    ok !@lines, 'nothing bound twice ((98)Address already in use): ' . scalar(@lines) . ' lines'
        or diag join "\n", @lines[0 .. ($#lines < 4 ? $#lines : 4)];
    # The other ways a child comes up half set: no CPU slot, no NFS service,
    # no watcher.
    @lines = grep { /umlconf\(100(?:06|13|19|20|21|22)\)/ } split /\n/, $log;
    ok !@lines, 'no child came up half set (umlconf(10006/10013/10019-10022)): '
        . scalar(@lines) . ' lines'
        or diag join "\n", @lines[0 .. ($#lines < 4 ? $#lines : 4)];
    @lines = grep { /AH00051|AH00052|Segmentation|umlsync:|umlmm:/ && !/over from a dead holder/ } split /\n/, $log;
    ok !@lines, 'no crash or kernel complaint in the error_log: ' . scalar(@lines) . ' lines'
        or diag join "\n", @lines[0 .. ($#lines < 4 ? $#lines : 4)];

    # And it still stops as apachectl -k stop asks: httpd's own patience
    # runs out at 3 s (AH00045, then AH00046 and SIGKILL).
    my $off = $h->log_size;
    my $stop = $h->stop('TERM', 12);
    @lines = grep { /AH0004[5-7]/ } split /\n/, $h->log_since($off);
    my $how = sprintf('after the recycling, SIGTERM ends httpd in %s (%d children); '
            . '%d AH00045-7 lines', defined $stop->{exited} ? sprintf('%.1f s', $stop->{exited})
            : 'more than 12 s', scalar @{ $stop->{kids} }, scalar @lines);
    SKIP: {
        skip "$threaded_why ($how)", 1 if $mpm ne 'prefork';
        ok defined $stop->{exited} && $stop->{exited} < 3 && !@lines, $how
            or diag join "\n", @lines[0 .. ($#lines < 4 ? $#lines : 4)];
    }
}

$h->end;
