# 60: an accepted write bumps the config generation and every live child's
# watcher applies it (status/children), within a short time.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use Time::HiRes qw(time);

plan tests => 5;

my $g0 = status_file('generation');
chomp $g0;
my $t0 = time;
my ($rc) = nfs_write('/config/Accepting', "1\n");
ok t_cmp($rc, 0, 'write accepted');
my $g1 = status_file('generation');
chomp $g1;
ok t_cmp($g1, $g0 + 1, 'generation bumped once');

my @kids;
my $all = wait_until(sub {
    my $c = status_file('children') // '';
    @kids = grep { !/^#/ } split /\n/, $c;
    @kids && !grep { (split ' ', $_)[2] < $g1 } @kids;
}, 5);
ok $all, 'every child applied generation ' . $g1 . ': ' . join(' | ', @kids);
ok @kids >= 2, scalar(@kids) . ' children reported';
my @late = grep { my $ns = (split ' ', $_)[3]; $ns / 1e9 < $t0 - 1 || $ns / 1e9 > time + 1 } @kids;
ok t_cmp(scalar(@late), 0, 'applied_ns is the time of this write');
