# 80: a child killed with SIGKILL in the middle of a request leaks no
# admission slot: the parent's monitor gives its share back.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use Time::HiRes qw(sleep);

plan tests => 6;

my $orig = knob('MaxRequestWorkers');
my $tag = "k$$";
unlink "/tmp/umlconf-slow-$tag";
my ($rc) = nfs_write('/config/MaxRequestWorkers', "2\n");
ok t_cmp($rc, 0, 'MaxRequestWorkers=2');
my $victim = concurrent_gets(1, "/slow?ms=8000&tag=$tag", 20);
ok wait_until(sub { -s "/tmp/umlconf-slow-$tag" }, 5), 'slow request running';
open my $fh, '<', "/tmp/umlconf-slow-$tag";
my $pid = <$fh> + 0;
unlink "/tmp/umlconf-slow-$tag";
my $off = error_log_size();
ok t_cmp(status_file('requests_in_flight'), "1\n", 'one in flight');
kill 'KILL', $pid;
$victim->collect;
ok wait_until(sub { (status_file('requests_in_flight') // '') eq "0\n" }, 5),
    'its slot came back';
ok t_cmp(wait_until(sub { error_log_since($off) =~ /umlconf\(10009\)/ }, 5), 1,
    'reclaim logged');
my @r = concurrent_gets(2, '/slow?ms=1000')->collect;
my $overlap = max_overlap(map { [$_->{start}, $_->{end}] } grep { $_->{status} == 200 } @r);
ok t_cmp($overlap, 2, 'two requests run at once again');
nfs_write('/config/MaxRequestWorkers', "$orig\n");
