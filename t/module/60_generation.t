# 60: an accepted write bumps the config generation, and every live child
# has it in force (status/children): at once for a knob the request path
# reads from shared memory (Accepting: no child needs to wake), and once
# each child's watcher has run the apply for a knob that has one
# (ListenBacklog: listen(2) in every child).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use Time::HiRes qw(time);

plan tests => 10;

sub generation { my $g = status_file('generation'); chomp $g; $g }

sub kids { grep { !/^#/ } split /\n/, status_file('children') // '' }

sub behind {
    my ($gen, @kids) = @_;
    return grep { (split ' ', $_)[2] < $gen } @kids;
}

sub not_between {
    my ($from, $to, @kids) = @_;
    return grep { my $ns = (split ' ', $_)[3]; $ns / 1e9 < $from || $ns / 1e9 > $to } @kids;
}

# 1. Accepting: in force everywhere when the reply is back.
my $g0 = generation();
my $t0 = time;
my ($rc) = nfs_write('/config/Accepting', "1\n");
ok t_cmp($rc, 0, 'write accepted');
my @kids = kids();
my $t1 = time;
my $g1 = generation();
ok t_cmp($g1, $g0 + 1, 'generation bumped once');
ok @kids >= 2, scalar(@kids) . ' children reported';
ok t_cmp(scalar(behind($g1, @kids)), 0,
    "Accepting: the first read after the reply shows every child at $g1: "
    . join(' | ', @kids));
ok t_cmp(scalar(not_between($t0 - 0.5, $t1 + 0.5, @kids)), 0,
    'since the time of this write');

# 2. ListenBacklog: every child's watcher wakes and applies it.
my $backlog = knob('ListenBacklog');
my $new = $backlog == 200 ? 201 : 200;
$t0 = time;
($rc) = nfs_write('/config/ListenBacklog', "$new\n");
ok t_cmp($rc, 0, "ListenBacklog $new accepted");
my $g2 = generation();
my $all = wait_until(sub { @kids = kids(); @kids && !behind($g2, @kids) }, 5);
$t1 = time;
ok $all, "ListenBacklog: every child applied generation $g2: " . join(' | ', @kids);
ok t_cmp(scalar(not_between($t0 - 0.5, $t1 + 0.5, @kids)), 0, 'each when it did');
like status_file('listeners') // '', qr/backlog $new\b/, 'the listeners show the new backlog';

($rc) = nfs_write('/config/ListenBacklog', "$backlog\n");
ok t_cmp($rc, 0, "ListenBacklog back to $backlog");
