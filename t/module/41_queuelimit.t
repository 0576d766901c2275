# 41: QueueLimit, the admission queue's bound, live. It defaults to
# UmlConfQueue's size (8 here) and takes 0 .. that size. At 0 the server
# sheds: a request that finds no free slot gets 503 + Retry-After at once,
# while the requests already queued keep their place and are served as slots
# free (the backlog drains). Back to a value, requests queue again.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use Time::HiRes qw(time sleep);

plan tests => 16;

my $mrw = knob('MaxRequestWorkers');

# 1. Its default and its range.
ok t_cmp(knob('QueueLimit'), 8, "defaults to UmlConfQueue's size");
for my $bad (['9', qr/9 is out of range 0\.\.8/], ['-1', qr/-1 is out of range 0\.\.8/]) {
    my ($v, $reason) = @$bad;
    my ($rc) = nfs_write('/config/QueueLimit', "$v\n");
    my ($last) = (split /\n/, status_file('errors') // '')[-1] // '';
    ok $rc != 0 && $last =~ m{ /config/QueueLimit "$v\\n" } && $last =~ $reason,
        "QueueLimit=$v refused (ERANGE), reported in status/errors: $last";
}
ok t_cmp(wait_until(sub { (knob('QueueLimit') // '') eq '8' }, 5), 1, 'and 8 stays');

# 2. One slot, held by a 3 s request; two requests queue behind it.
ok t_cmp(set_knob('MaxRequestWorkers', 1), 0, 'MaxRequestWorkers=1');
my $hold = concurrent_gets(1, '/slow?ms=3000', 30);
wait_until(sub { (status_file('requests_in_flight') // '') eq "1\n" }, 10);
my $queued = concurrent_gets(2, '/slow?ms=200', 30);
ok wait_until(sub { (status_file('queued') // '') eq "2\n" }, 10), 'two requests queued';

# 3. QueueLimit=0: newcomers are shed at once, the queued two stay.
my $rejected = status_file('rejected') // 0;
ok t_cmp(set_knob('QueueLimit', 0), 0, 'QueueLimit=0 accepted');
my @shed = concurrent_gets(3, '/slow?ms=10', 30)->collect;
ok t_cmp(join(' ', map { $_->{status} } @shed), '503 503 503', 'newcomers get 503');
my $slowest = (sort { $b <=> $a } map { $_->{done} - $_->{sent} } @shed)[0];
ok $slowest < 1, sprintf('at once (the slowest in %.2f s), not after a wait', $slowest);
ok t_cmp($shed[0]{retry_after}, 7, 'with Retry-After from UmlConfRetryAfter');
ok t_cmp(status_file('queued'), "2\n", 'the two queued keep their place');
ok t_cmp(status_file('rejected'), $rejected + 3 . "\n", 'status/rejected counts the three');
my @drained = $queued->collect;
$hold->collect;
ok t_cmp(join(' ', map { $_->{status} } @drained), '200 200',
    'the queued two are served as the slot frees: the backlog drains');

# 4. Back to a value: requests queue again.
ok t_cmp(set_knob('QueueLimit', 4), 0, 'QueueLimit=4');
$hold = concurrent_gets(1, '/slow?ms=1500', 30);
wait_until(sub { (status_file('requests_in_flight') // '') eq "1\n" }, 10);
my @waited = concurrent_gets(2, '/slow?ms=10', 30)->collect;
$hold->collect;
ok t_cmp(join(' ', map { $_->{status} } @waited), '200 200', 'newcomers wait and are served');

nfs_write('/config/QueueLimit', "8\n");
nfs_write('/config/MaxRequestWorkers', "$mrw\n");
ok t_cmp(knob('QueueLimit') . ' ' . knob('MaxRequestWorkers'), "8 $mrw", 'restored');
