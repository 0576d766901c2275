# 82: issue 15, death at any instant: children killed with SIGKILL (idle
# ones, ones busy in a slow request, ones just born), 0.1-0.7 s apart, do
# not keep httpd from stopping. Then `apachectl -k stop` (SIGTERM to the
# parent) and, in a second round, `apachectl -k graceful-stop` (SIGWINCH):
# the parent exits within httpd's usual time, without having to resend
# SIGTERM or send SIGKILL (AH00045-AH00047), no process of that httpd is
# left, and no child spins on a core on its way out.
#
# On a private httpd (HTTP 8582, NFS 12582) with the suite's MPM and the
# admission tests' /slow handler, so that the kills and the stops never
# touch the suite's server.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use Time::HiRes qw(time sleep);

plan tests => 12;

my $mpm = suite_mpm();
# 24 single-threaded children, or 12 of 2 threads. GracefulShutdownTimeout
# bounds a graceful stop that would otherwise wait for ever.
my ($mpm_conf, $children, $idle_kills) = $mpm eq 'prefork' ? (<<'PREFORK', 24, 8) : (<<'THREADED', 12, 6);
StartServers 24
MinSpareServers 24
MaxSpareServers 32
ServerLimit 32
MaxRequestWorkers 32
GracefulShutdownTimeout 10
PREFORK
StartServers 12
ServerLimit 32
ThreadsPerChild 2
MinSpareThreads 24
MaxSpareThreads 64
MaxRequestWorkers 64
GracefulShutdownTimeout 10
THREADED
my $slow_s = 10;     # the slow requests' length: longer than the kills
my $busy = 4;        # slow requests started; two of their children are killed
my $busy_kills = 2;

# The pid /slow?tag=X wrote (t/lib/UmlConf/Slow.pm), once it has.
sub tag_pid {
    my ($tag) = @_;
    open my $fh, '<', "/tmp/umlconf-slow-$tag" or return;
    my $line = <$fh> // '';
    return $line =~ /^(\d+)$/ ? $1 : undef;
}

for my $round (['TERM', 'apachectl -k stop'], ['WINCH', 'apachectl -k graceful-stop']) {
    my ($sig, $what) = @$round;
    my $h = private_httpd(name => '82_shutdown', http_port => 8582, nfs_port => 12582,
        mpm_conf => $mpm_conf, slow => 1);
    my $up = $h->start && wait_until(sub {
        my $rows = $h->children_status or return 0;
        return @$rows >= $children;
    }, 15);
    ok $up, "$what: private httpd ($mpm) up on 8582 with $children children attached";
    diag "its error_log:\n" . $h->log_since(0) unless $up;

    SKIP: {
        skip 'no private httpd', 6 unless $up;

        # Slow requests, each in a child we can name.
        my (@batches, @busy);
        my $t_slow = time;
        for my $i (1 .. $busy) {
            my $tag = "s$$" . "r$sig$i";
            unlink "/tmp/umlconf-slow-$tag";
            push @batches, $h->gets(1, "/slow?ms=" . $slow_s * 1000 . "&tag=$tag", 30);
            push @busy, $tag;
        }
        my @busy_pids;
        wait_until(sub {
            @busy_pids = map { tag_pid($_) // () } @busy;
            return @busy_pids == $busy;
        }, 5);
        unlink map { "/tmp/umlconf-slow-$_" } @busy;
        my %busy = map { $_ => 1 } @busy_pids;

        # The kills: idle children at random; two busy ones; two newborn,
        # killed in their first milliseconds (child_init, attaching their
        # CPU) as the MPM replaces the dead. One idle kill comes first, so
        # that there is a replacement to catch.
        my @plan = ((('idle') x ($idle_kills - 1)), ('busy') x $busy_kills, ('newborn') x 2);
        @plan = ('idle', map { $_->[1] } sort { $a->[0] <=> $b->[0] } map { [rand, $_] } @plan);
        my @busy_victims = grep { defined } @busy_pids[0 .. $busy_kills - 1];
        my (@killed, %n);
        $n{$_} = 0 for qw(idle busy newborn);
        for my $kind (@plan) {
            sleep 0.1 + rand(0.6);
            my $victim;
            if ($kind eq 'busy') {
                $victim = shift @busy_victims;
            } elsif ($kind eq 'newborn') {
                my %seen = map { $_ => 1 } $h->children;
                my $until = time + 1.5;
                while (time < $until) {
                    ($victim) = grep { !$seen{$_} } $h->children;
                    last if $victim;
                    sleep 0.002;
                }
                sleep rand(0.02) if $victim;
            } else {
                my @idle = grep { !$busy{$_} } $h->children;
                $victim = $idle[rand @idle] if @idle;
            }
            next unless $victim && $h->kill_child($victim);
            push @killed, $victim;
            $n{$kind}++;
        }
        # The last slow ones still have about a second to go when the stop
        # comes: a graceful stop waits for them, a stop ends them.
        my $left = $t_slow + $slow_s - 1 - time;
        sleep $left if $left > 0;
        $left = $t_slow + $slow_s - time;
        $left = 0 if $left < 0;
        my $limit = $sig eq 'TERM' ? 3 : $left + 3;

        my $off = $h->log_size;
        # Slower than the limit: say what its processes are doing, while they do it.
        my $stacks = '';
        my $stop = $h->stop($sig, 12, $limit, sub { $stacks = $h->stacks });
        my $gone = $stop->{exited};
        my @left_procs;
        wait_until(sub { !(@left_procs = $h->procs) }, 1) if defined $gone;
        @left_procs = $h->procs unless defined $gone;
        $_->collect for @batches;
        my $log = $h->log_since($off);
        my $all_log = $h->log_since(0);

        ok defined $gone && $gone < $limit,
            sprintf('%s after %d kills (%d idle, %d busy, %d newborn; %s): the parent exits in %s '
                    . '(limit %.1f s; the slow requests had %.1f s left)',
                $what, scalar @killed, @n{qw(idle busy newborn)}, join(' ', @killed),
                defined $gone ? sprintf('%.1f s', $gone) : 'more than 12 s', $limit, $left)
            or diag "what its processes did at the limit:\n$stacks\nits error_log:\n" . $h->log_since(0);
        my @lines = grep { /AH0004[5-7]/ } split /\n/, $log;
        ok !@lines, "$what: httpd did not have to resend SIGTERM or send SIGKILL "
            . '(AH00045-AH00047): ' . scalar(@lines) . ' lines'
            or diag join "\n", @lines[0 .. ($#lines < 5 ? $#lines : 5)];
        ok !@left_procs, "$what: no process of that httpd is left ("
            . (join(' ', @left_procs) || 'none') . ')';
        ok $stop->{spin} < 0.5, sprintf('%s: no child spun on its way out (most: %d%% of a core%s)',
            $what, 100 * $stop->{spin}, $stop->{spinner} ? " by $stop->{spinner}" : '');
        # httpd's word on a child's death, ours (umlsync:, umlmm:), glibc's and assert's.
        @lines = grep { /AH00051|AH00052|Segmentation|umlsync:|umlmm:|Assertion|free\(\)|corrupt|double/
            && !/over from a dead holder/ } split /\n/, $all_log;
        ok !@lines, "$what: no crash or kernel complaint in the error_log: "
            . scalar(@lines) . ' lines'
            or diag join("\n", @lines[0 .. ($#lines < 5 ? $#lines : 5)]) . "\nthe whole error_log:\n$all_log";
    }
    $h->end;
}
