# 65: every child runs its watcher and NFS service as kernel threads on a
# CPU of its own, and /status/sched shows them (per-CPU threads, run queue,
# context switches). Whichever child serves the read, it sees them all.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;

plan tests => 6;

sub cpus {
    my $c = status_file('sched/cpus') // '';
    my %by_pid;
    for (split /\n/, $c) {
        next if /^#/;
        my ($cpu, $pid, $threads, $runnable, $timers, $switches) = split ' ';
        $by_pid{$pid} = { threads => $threads, switches => $switches };
    }
    return ($c, \%by_pid);
}

my ($text, $cpus) = cpus();
like $text, qr/^# cpu pid threads runnable timers switches remote_wakes io_wakes\n/,
    'sched/cpus starts with its header';

my @kids;
wait_until(sub {
    @kids = map { (split ' ', $_)[1] } grep { !/^#/ } split /\n/, (status_file('children') // '');
    ($text, $cpus) = cpus();
    @kids && !grep { !$cpus->{$_} } @kids;
}, 5);
ok @kids >= 2 && !grep({ !$cpus->{$_} } @kids),
    'every child (' . join(' ', @kids) . ') has a CPU: ' . join(' ', sort keys %$cpus);

# Stopper, watcher and NFS acceptor (no UDP thread: UDP is off unless
# UmlConfNFS asks for it), plus a connection thread in the child serving this read.
my @few = grep { $cpus->{$_} && $cpus->{$_}{threads} < 3 } @kids;
ok t_cmp(scalar(@few), 0, 'each child runs at least three kernel threads');

# A write of a knob that each child applies wakes every child's watcher:
# each CPU switches at least twice. (A knob the request path reads, such as
# Accepting, wakes nobody: t/module/60_generation.t.)
my %before = map { $_ => $cpus->{$_}{switches} } grep { $cpus->{$_} } @kids;
my $backlog = knob('ListenBacklog');
my ($rc) = nfs_write('/config/ListenBacklog', ($backlog == 200 ? 201 : 200) . "\n");
ok t_cmp($rc, 0, 'knob write accepted');
my $moved = wait_until(sub {
    (undef, $cpus) = cpus();
    !grep { !$cpus->{$_} || $cpus->{$_}{switches} < $before{$_} + 2 } keys %before;
}, 5);
ok $moved, 'every child\'s CPU ran its watcher after the write';
nfs_write('/config/ListenBacklog', "$backlog\n");

my $sum = status_file('sched/summary') // '';
my ($n) = $sum =~ /^cpus (\d+)$/m;
ok defined $n && $n >= @kids, "sched/summary counts the CPUs: $sum";
