# 30: MaxRequestWorkers is an admission limit across all children: with 2,
# no more than 2 requests run at once and the rest wait; raising it lets the
# waiting ones run at once; a full queue or a long wait gets 503 + Retry-After.
# A freed slot wakes one waiting request, not every one (status/admission).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use Time::HiRes qw(time sleep);

plan tests => 15;

sub admission {
    my %c = map { split ' ' } split /\n/, status_file('admission') // '';
    return \%c;
}

my $orig = knob('MaxRequestWorkers');
my $slow = '/slow';

# 1. Six 1 s requests under a limit of 2 run in three waves.
my ($rc) = nfs_write('/config/MaxRequestWorkers', "2\n");
ok t_cmp($rc, 0, 'MaxRequestWorkers=2 accepted');
ok t_cmp(knob('MaxRequestWorkers'), 2);
my $before = admission();
my $batch = concurrent_gets(6, "$slow?ms=1000");
my $seen_queue = wait_until(sub { (status_file('queued') // 0) >= 3 }, 10);
my $in_flight = status_file('requests_in_flight');
my @r = $batch->collect;
ok $seen_queue, 'requests queued while 2 run';
ok t_cmp($in_flight, "2\n", 'exactly 2 in flight meanwhile');
ok t_cmp(scalar(grep { $_->{status} == 200 } @r), 6, 'all six served (none waited too long)');
my $overlap = max_overlap(map { [$_->{start}, $_->{end}] } grep { $_->{status} == 200 } @r);
ok t_cmp($overlap, 2, 'never more than 2 at once');
my $after = admission();
my %d = map { $_ => ($after->{$_} // 0) - ($before->{$_} // 0) } qw(waited released wakeups);
ok t_cmp($d{waited}, 4, 'four were admitted after a wait');
# Waking every waiter at each release made 4 + 3 + 2 + 1 or more.
ok $d{wakeups} <= $d{released} + 2,
    "one wake-up per released slot: $d{wakeups} wake-ups for $d{released} slots released";

# 2. Raising the limit releases the queue immediately.
$batch = concurrent_gets(4, "$slow?ms=3000");
wait_until(sub { (status_file('queued') // 0) >= 2 }, 10);
my $raised = time;
($rc) = nfs_write('/config/MaxRequestWorkers', "10\n");
@r = $batch->collect;
my @late = sort { $a <=> $b } map { $_->{start} } grep { $_->{status} == 200 } @r;
ok t_cmp(scalar(@late), 4, 'all four served');
ok $late[-1] < $raised + 1.0, 'the waiting ones started right after the raise ('
    . sprintf('%.2f s', $late[-1] - $raised) . ')';

# 3. A full queue (UmlConfQueue 8 5) answers 503 with Retry-After at once; a
# wait longer than 5 s answers 503 too.
nfs_write('/config/MaxRequestWorkers', "1\n");
my $hold = concurrent_gets(1, "$slow?ms=8000");
wait_until(sub { (status_file('requests_in_flight') // 0) >= 1 }, 10);
$batch = concurrent_gets(10, "$slow?ms=10", 30);
@r = $batch->collect;
$hold->collect;
my @refused = grep { $_->{status} == 503 } @r;
ok t_cmp(scalar(@refused), 10, 'every request behind the 8 s one got 503');
ok t_cmp($refused[0]{retry_after}, 7, 'Retry-After from UmlConfRetryAfter');
my $full = grep { $_->{done} - $_->{sent} < 3 } @refused;
my $waited = grep { my $w = $_->{done} - $_->{sent}; $w > 4.5 && $w < 8 } @refused;
ok t_cmp("$full full, $waited waited", '2 full, 8 waited', '8 queued for 5 s, 2 refused at once');
ok t_cmp(status_file('queued'), "0\n", 'queue empty afterwards');

nfs_write('/config/MaxRequestWorkers', "$orig\n");
ok t_cmp(knob('MaxRequestWorkers'), $orig, 'restored');
