# 69: a crash of the whole application at any instant loses no acknowledged
# write, and leaves an image umlfsck finds clean (issue 10, UmlConfState).
#
# A libnfs client (t/lib/crash-client.c) writes a stream of growing values
# with stable writes: "i\n" over /crash/f<i % 50> and, every 10th, a value
# of 2..9 to /config/MaxRequestWorkers; it prints each acknowledgement. At a
# random moment 0.1-1.5 s after it starts, httpd's whole process group (the
# parent and every child) gets SIGKILL. Then, each iteration:
#
#  N.1  the client stopped when its server died (no hang)
#  N.2  umlfsck finds the image clean (exit 0)
#  N.3  httpd starts again on the image
#  N.4  every file and the knob hold their last acknowledged value, or the
#       value of the one write that was in flight when the server died (it
#       may have landed); nothing older, nothing else
#
# Odd iterations write FILE_SYNC (O_SYNC), even ones UNSTABLE then COMMIT.
# Iterations: UMLCONF_CRASH_ITERATIONS (5; `make crash` runs 200); the seed
# of the kill times: UMLCONF_CRASH_SEED. On a private httpd (HTTP 8569,
# NFS 12569) with the suite's MPM.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use File::Path ();
use File::Temp ();
use POSIX ();
use Time::HiRes qw(time sleep);

my $iterations = $ENV{UMLCONF_CRASH_ITERATIONS} || 5;
my $seed = $ENV{UMLCONF_CRASH_SEED} || int(time) % 100000;
srand $seed;
plan tests => 1 + 4 * $iterations + 1;

my $top = UmlConf::Test::top_dir();
my $files = 50;
my ($knob, $lo, $hi) = ('MaxRequestWorkers', 2, 9);
my $mpm = suite_mpm();
# MaxRequestWorkers 16 from httpd.conf: 2..9 are in its range under each MPM.
my $mpm_conf = $mpm eq 'prefork' ? "StartServers 2\nServerLimit 16\nMaxRequestWorkers 16\n"
    : "StartServers 2\nServerLimit 4\nThreadsPerChild 4\nMinSpareThreads 4\nMaxSpareThreads 16\nMaxRequestWorkers 16\n";
my $h = private_httpd(name => '69_crash', http_port => 8569, nfs_port => 12569,
    mpm_conf => $mpm_conf, memory => '',
    extra => "UmlConfKeyFile state/umlconf.key\nUmlConfState state/web1.img 4M\n");
my $root = $h->{root};
my $img = "$root/state/web1.img";
my $url = 'nfs://127.0.0.1/?nfsport=12569&mountport=12569';

my $client = crash_client();

# The key beside the image stays 0600, or httpd refuses it.
sub start {
    chmod 0600, "$root/state/umlconf.key";
    return $h->start(keep => 1);
}

sub pgrp_of {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return;
    my $line = <$fh> // return;
    $line =~ s/^.*\) //s;
    return (split ' ', $line)[2];
}

# A machine crash of the application: SIGKILL to httpd's process group, the
# parent and all its children at once. True when every process went.
sub crash {
    my $pid = $h->pid or return 0;
    my $pg = pgrp_of($pid);
    if ($pg && $pg == $pid && $pg != getpgrp) {
        kill 'KILL', -$pg;
    } else {
        kill 'KILL', $pid, $h->children;    # not a group of its own: by pid
    }
    kill 'KILL', $h->procs;
    my $gone = wait_until(sub { !$h->procs }, 10);
    # As a reboot clears /run: a dead parent's zombie (until init reaps it)
    # would make the next `httpd -k start` say it is already running.
    unlink $h->{pidfile};
    return $gone;
}

# Decode the client's "CONTENT" (C escapes).
sub unescape {
    my ($s) = @_;
    $s =~ s/\\(n|\\|"|x([0-9a-f]{2}))/$1 eq 'n' ? "\n" : defined $2 ? chr hex $2 : $1/ge;
    return $s;
}

sub show {
    my ($v) = @_;
    return 'nothing' unless defined $v;
    (my $s = $v) =~ s/\n/\\n/g;
    return "\"$s\"";
}

File::Path::remove_tree($root);
File::Path::make_path("$root/state");
my $up = start();
ok $up, "1 private httpd ($mpm) up on 8569 with a new 4M state image (seed $seed)"
    or diag $h->{start_err}, $h->log_since(0);

# What each path holds: undef (never made), '' (made, never written), "v\n".
my %model = map { ("/crash/f$_" => undef) } 0 .. $files - 1;
$model{"/config/$knob"} = "16\n";
my $next = 1;
my %sum = (acked => 0, knob => 0, lost => 0, wrong => 0, landed => 0, inflight => 0,
    clean => 0, torn => 0, killed_mid => 0);

for my $it (1 .. $iterations) {
    if (!$up) {
      SKIP: { skip "httpd is not up on the image", 4 }
        next;
    }
    my $commit = $it % 2 == 0;
    my $out = File::Temp->new;
    my $cpid = fork // die "fork: $!";
    if (!$cpid) {
        open STDOUT, '>', "$out" or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        exec 'timeout', '-k', '2', '40', $client, ($commit ? '-c' : ()), '-b', $next,
            '-n', $files, '-k', "$knob:$lo:$hi", '-t', 30, $url
            or POSIX::_exit(127);
    }
    my $delay = 0.1 + rand 1.4;
    sleep $delay;
    my $gone = crash();
    my $t_kill = time;
    my $how = 'not done in 15 s';
    while (time < $t_kill + 15) {
        if (waitpid($cpid, POSIX::WNOHANG()) == $cpid) {
            $how = $? & 127 ? 'killed by signal ' . ($? & 127) : 'exit ' . ($? >> 8);
            last;
        }
        sleep 0.02;
    }
    my $took = time - $t_kill;
    if ($how =~ /^not done/) {
        kill 'KILL', $cpid;
        waitpid $cpid, 0;
    }
    my $text = do { open my $fh, '<', "$out" or die; local $/; <$fh> // '' };
    my (%acked, @inflight, $acks);
    for (split /\n/, $text) {
        if (/^ACK (\S+) (\d+)$/) {
            $acked{$1} = $2;
            $acks++;
            $sum{knob}++ if $1 eq "/config/$knob";
            $next = $2 + 1 if $1 ne "/config/$knob" && $2 >= $next;
        } elsif (/^FAIL (\S+) (\d+): /) {
            @inflight = ($1, $2);
            $next = $2 + 1 if $1 ne "/config/$knob" && $2 >= $next;
        }
    }
    $acks //= 0;
    $sum{acked} += $acks;
    my ($last) = $text =~ /([^\n]*)\n?\z/;
    ok $gone && $how ne 'exit 0' && $how !~ /^not done|signal/ && $took < 12,
        sprintf('%d.1 %s: killed %.2f s in, after %d acknowledged writes; the client ended %.1f s later (%s): %s',
            $it, $commit ? 'UNSTABLE+COMMIT' : 'FILE_SYNC', $delay, $acks, $took, $how, $last // '')
        or diag "httpd's processes gone: " . ($gone ? 'yes' : 'no') . "; client output:\n"
        . join("\n", grep { defined } (split /\n/, $text)[-5 .. -1]);
    $sum{killed_mid}++ if @inflight;

    my ($frc, $fout, $ferr) = UmlConf::Test::Httpd::run_timed(60, undef, "$top/build/umlfsck", $img);
    my ($torn) = $fout =~ /(\d+) bytes of an unfinished write/;
    $sum{torn} += $torn // 0;
    $sum{clean}++ if $frc == 0;
    is $frc, 0, "$it.2 umlfsck: the image is clean" . ($torn ? " ($torn bytes of a torn tail)" : '')
        or diag $fout, $ferr;

    $up = start();
    ok $up, "$it.3 httpd starts again on the image"
        or diag $h->{start_err}, $h->log_since(0);
    if (!$up) {
      SKIP: { skip 'httpd did not start', 1 }
        next;
    }

    my ($rrc, $rout, $rerr) = UmlConf::Test::Httpd::run_timed(30, undef, $client, '-r', '-n', $files,
        '-k', $knob, $url);
    my %got;
    for (split /\n/, $rout) {
        $got{$1} = unescape($2) if /^HAS (\S+) "(.*)"$/;
        $got{$1} = undef if /^NONE (\S+)$/;
    }
    my @bad;
    my ($lost, $wrong) = (0, 0);
    for my $path (sort keys %model) {
        my $want = exists $acked{$path} ? "$acked{$path}\n" : $model{$path};
        my @ok = ($want);
        push @ok, "$inflight[1]\n" if @inflight && $inflight[0] eq $path;
        # Made by the open of this run, never written: it may be there empty.
        push @ok, '' if !defined $want && $path =~ m{^/crash/};
        if (!exists $got{$path}) {
            push @bad, "$path: not read back";
            $wrong++;
            next;
        }
        my $g = $got{$path};
        if (grep { defined $_ ? defined $g && $g eq $_ : !defined $g } @ok) {
            if (@inflight && $inflight[0] eq $path) {
                $sum{inflight}++;
                $sum{landed}++ if defined $g && $g eq "$inflight[1]\n";
            }
            $model{$path} = $g;
            next;
        }
        my ($gv) = ($g // '') =~ /^(\d+)\n\z/;
        my ($wv) = ($want // '') =~ /^(\d+)\n\z/;
        # What was acknowledged is not there and no later write covers it: a
        # write lost. Anything else (a value never written there) is wrong.
        if (defined $want && $want ne '' && !(defined $gv && defined $wv && $gv > $wv)) {
            $lost++;
        } else {
            $wrong++;
        }
        push @bad, sprintf '%s holds %s, last acknowledged %s%s', $path, show($g), show($want),
            @inflight && $inflight[0] eq $path ? " (in flight: $inflight[1])" : '';
        $model{$path} = $g;
    }
    $sum{lost} += $lost;
    $sum{wrong} += $wrong;
    ok $rrc == 0 && !@bad,
        "$it.4 every acknowledged write is there: lost $lost, wrong $wrong"
        or diag join("\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]), "\n", $rerr;
}

diag sprintf '69_crash (%s, seed %d): %d iterations, %d acknowledged writes (%d of them to '
        . '%s), %d lost, %d wrong; killed mid-write %d times, the write in flight landed %d '
        . 'of %d times; umlfsck clean %d of %d (torn tails %d bytes in all)',
    $mpm, $seed, $iterations, $sum{acked}, $sum{knob}, $knob, $sum{lost}, $sum{wrong},
    $sum{killed_mid}, $sum{landed}, $sum{inflight}, $sum{clean}, $iterations, $sum{torn};
ok $up && $sum{acked} > 0 && $sum{lost} == 0 && $sum{wrong} == 0,
    "$iterations crashes: $sum{acked} acknowledged writes, $sum{lost} lost, $sum{wrong} wrong";
$h->end;
