# 83: issue 15, death at any instant: a kill storm. Four libnfs clients
# (t/lib/storm-client.c) create, write, rename and remove files under
# /storm and write the three built-in knobs while a random child is killed
# with SIGKILL every 0.3 s, for about 20 s. Then the clients remove their
# files and, after 2 quiet seconds: the machine's memory (MemUsed of
# /status/mm/meminfo) is back within a small tolerance of what it was before
# the storm under the same quiet conditions; a knob write is applied by every
# child; HTTP answers 200; the clients saw nothing fail but the connections
# of the children killed under them (no call unanswered for 10 s, no error);
# the error_log shows no crash and no kernel complaint; /status/check, where
# it exists, says "ok"; and SIGTERM still ends httpd at once.
#
# On a private httpd (HTTP 8583, NFS 12583) with the suite's MPM, so that
# the kills never touch the suite's server. UMLCONF_STORM_SECONDS sets the
# storm's length (20), UMLCONF_STORM_SEED the clients' seed.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use File::Temp ();
use POSIX ();
use Time::HiRes qw(time sleep);

plan tests => 10;

my $storm_s = $ENV{UMLCONF_STORM_SECONDS} || 20;
my $seed = $ENV{UMLCONF_STORM_SEED} || int time;
my $clients = 4;    # clients 0-2 write a knob each
my $mpm = suite_mpm();
# A fixed number of children: a killed one is replaced, never one more (the
# machine's memory depends on how many CPUs there are).
my ($mpm_conf, $capacity, $children) = $mpm eq 'prefork' ? (<<'PREFORK', 6, 6) : (<<'THREADED', 8, 4);
StartServers 6
MinSpareServers 6
MaxSpareServers 6
ServerLimit 6
MaxRequestWorkers 6
PREFORK
StartServers 4
ServerLimit 16
ThreadsPerChild 2
MinSpareThreads 8
MaxSpareThreads 16
MaxRequestWorkers 8
THREADED
# What a child may keep and a killed one may leave to its successor: cached
# kernel-thread stacks and objects in per-CPU magazines. 64 pages (256 KiB)
# per child, as t/soak/run allows, without its megabyte besides.
my $tolerance_kib = 256 * $children;

my $h = private_httpd(name => '83_killstorm', http_port => 8583, nfs_port => 12583,
    mpm_conf => $mpm_conf, memory => '16M');
my $up = $h->start && wait_until(sub {
    my $rows = $h->children_status or return 0;
    return @$rows >= $children;
}, 15);
ok $up, "private httpd ($mpm) up on 8583 with $children children attached";
diag "its error_log:\n" . $h->log_since(0) unless $up;

my $client = storm_client();
my $url = "nfs://127.0.0.1/?nfsport=12583&mountport=12583";
my @knobs = ("MaxRequestWorkers:2:$capacity", 'ListenBacklog:64:1024', 'Accepting:1:1');

# Start the clients for @seconds, each a process of its own (a client that
# dies takes no other with it); returns a sub that waits for them (at most
# @wait seconds) and returns (whether all ended well, their output).
sub clients_start {
    my ($seconds, $wait) = @_;
    my @run;
    for my $i (0 .. $clients - 1) {
        my $out = File::Temp->new;
        my @args = ('-t', $seconds, '-d', "/storm/c$i", '-s', $seed + $i,
            $i < @knobs ? ('-k', $knobs[$i]) : (), $url);
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            open STDOUT, '>', "$out" or POSIX::_exit(127);
            open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
            # No core file in the tree if a client dies.
            exec 'sh', '-c', 'ulimit -c 0; exec "$@"', 'sh', $client, @args or POSIX::_exit(127);
        }
        push @run, [$pid, $out];
    }
    return sub {
        my $end = time + $wait;
        my ($all_ok, $text) = (1, '');
        for (@run) {
            my ($pid, $out) = @$_;
            my $how;
            while (1) {
                if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
                    $how = $? & 127 ? 'killed by signal ' . ($? & 127) : 'exit ' . ($? >> 8);
                    last;
                }
                if (time > $end) {
                    kill 'KILL', $pid;
                    waitpid $pid, 0;
                    $how = "not done in $wait s";
                    last;
                }
                sleep 0.1;
            }
            $all_ok = 0 unless $how eq 'exit 0';
            open my $fh, '<', "$out" or next;
            local $/;
            my $o = <$fh> // '';
            $text .= $o =~ /^storm-client .*\n\z/ ? $o : "$o($how)\n";
        }
        return ($all_ok, $text);
    };
}

# MemUsed, the median of three reads; with the whole meminfo of the last.
sub mem_used {
    my (@v, $last);
    for (1 .. 3) {
        $last = $h->meminfo;
        push @v, $last->{MemUsed} if $last && defined $last->{MemUsed};
        sleep 0.3;
    }
    @v = sort { $a <=> $b } @v;
    return (@v ? $v[$#v / 2] : undef, $last);
}

# Quiet: no client for 2 s, all the children there, each applying knobs.
sub settle {
    sleep 2;
    wait_until(sub { $h->children == $children }, 10);
    return $h->knob_applies('MaxRequestWorkers', $capacity, 15);
}

SKIP: {
    skip 'no private httpd', 9 unless $up;

    # The same work once without kills, so that what the first use of
    # each path allocates for good is in the baseline.
    my ($ok, $out) = clients_start(3, 45)->();
    diag "warm-up clients:\n$out";
    settle();
    my ($before, $mi_before) = mem_used();

    my $off = $h->log_size;
    # A client gives up on a call after 10 s and on cleaning up after 30 s.
    my $wait = clients_start($storm_s, $storm_s + 45);
    my $t0 = time;
    my $kills = 0;
    # Until 2 s before the clients' time is up: they end and remove their
    # files on a calm server.
    while (time < $t0 + $storm_s - 2) {
        my $next = time + 0.3;
        my @kids = $h->children;
        $kills++ if @kids && $h->kill_child($kids[rand @kids]);
        my $left = $next - time;
        sleep $left if $left > 0;
    }
    ($ok, $out) = $wait->();
    my $gone = !defined $h->ls('/storm');
    my ($applied, $gen, $seen) = settle();
    my ($after, $mi_after) = mem_used();

    my @lines = grep { /^storm-client \S+: / } split /\n/, $out;
    ok $ok, 'the clients saw nothing fail but dropped connections, and removed their files: '
        . join('; ', @lines)
        or diag "the clients' output:\n$out";
    ok $gone, 'the clients removed all their files (/storm is gone)'
        or diag 'left: ' . ($h->ls('/storm') // '');

    my $lost = defined $before && defined $after ? $after - $before : undef;
    diag sprintf 'kills %d, pages lost %s (MemUsed %s kB before, %s kB after; '
            . 'ScratchUsed %s kB before, %s after; Cached %s kB before, %s after)',
        $kills, defined $lost ? sprintf('%d', $lost / 4) : '?', $before // '?', $after // '?',
        map { $_ // '?' } $mi_before->{ScratchUsed}, $mi_after->{ScratchUsed},
        $mi_before->{Cached}, $mi_after->{Cached};
    ok $kills >= 10, "$kills children killed in " . ($storm_s - 2) . ' s';
    ok defined $lost && $lost <= $tolerance_kib,
        sprintf('MemUsed back near where it was: %s kB before, %s kB after the storm '
                . '(%s kB, tolerance %d kB)', $before // '?', $after // '?',
            defined $lost ? sprintf('%+d', $lost) : '?', $tolerance_kib);

    ok $applied, "after the storm MaxRequestWorkers=$capacity (generation "
        . ($gen // '?') . ") is applied by every live child: $seen";
    ok t_cmp($h->get('/index.html')->{status}, 200, 'HTTP answers 200 after the storm');

    my $log = $h->log_since(0);
    @lines = grep { /umlsync:|umlmm:|Segmentation|AH00051|AH00052/ && !/over from a dead holder/ } split /\n/, $log;
    ok !@lines, 'no crash or kernel complaint in the error_log: ' . scalar(@lines) . ' lines'
        or diag join "\n", @lines[0 .. ($#lines < 9 ? $#lines : 9)];

    my ($check, $err) = $h->cat('/status/check');
    if (defined $check || $err !~ /NOENT/) {
        my ($first) = split /\n/, $check // '';
        ok t_cmp($first // '', 'ok', '/status/check says ok after the storm')
            or diag '/status/check: ' . ($check // "unreadable: $err");
    } else {
        diag '/status/check does not exist (yet): its assertion is skipped';
      SKIP: { skip '/status/check does not exist', 1 }
    }

    # Slower than the limit: say what its processes are doing, while they do it.
    my $stacks = '';
    my $stop = $h->stop('TERM', 12, 3, sub { $stacks = $h->stacks });
    ok defined $stop->{exited} && $stop->{exited} < 3,
        'after the storm SIGTERM ends httpd in '
        . (defined $stop->{exited} ? sprintf('%.1f s', $stop->{exited}) : 'more than 12 s')
        or diag "what its processes did at 3 s:\n$stacks\nits error_log:\n" . $h->log_since(0);
}
$h->end;
