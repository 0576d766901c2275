# 40: Accepting=0 holds every new request before any handler runs; 1 lets
# the held requests run at once.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use Time::HiRes qw(time sleep);

plan tests => 6;

my ($rc) = nfs_write('/config/Accepting', "0\n");
ok t_cmp($rc, 0, 'Accepting=0 accepted');
my $batch = concurrent_gets(3, '/slow?ms=10');
ok wait_until(sub { (status_file('queued') // '') eq "3\n" }, 10), 'three requests held';
sleep 1;
ok t_cmp(status_file('requests_in_flight'), "0\n", 'none of them runs');
my $opened = time;
($rc) = nfs_write('/config/Accepting', "1\n");
ok t_cmp($rc, 0, 'Accepting=1 accepted');
my @r = $batch->collect;
ok t_cmp(scalar(grep { $_->{status} == 200 } @r), 3, 'all three served');
my ($first) = sort { $a <=> $b } map { $_->{start} } @r;
ok $first && $first >= $opened - 0.5 && $first < $opened + 1, 'and only after Accepting=1';
