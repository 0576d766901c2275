# 50: ListenBacklog calls listen() again on httpd's sockets: `ss -ltn` shows
# the new backlog (Send-Q) and so does status/listeners.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;

my ($ss) = grep { -x } map { "$_/ss" } split /:/, "$ENV{PATH}:/usr/sbin:/sbin:/usr/bin";
plan tests => 5, need { 'ss (iproute2) is needed' => defined $ss };

my $port = Apache::Test::vars('port');
my $orig = knob('ListenBacklog');

sub ss_backlog {
    for (`$ss -ltnH 'sport = :$port'`) {
        my @f = split;    # State Recv-Q Send-Q Local Peer
        return $f[2] if @f >= 4 && $f[3] =~ /:$port$/;
    }
    return -1;
}

my ($rc) = nfs_write('/config/ListenBacklog', "77\n");
ok t_cmp($rc, 0, 'ListenBacklog=77 accepted');
ok t_cmp(wait_until(sub { ss_backlog() == 77 }, 5) ? 77 : ss_backlog(), 77, 'ss -ltn shows 77');
ok t_cmp(status_file('listeners'), qr/:$port backlog 77 queue \d+$/m, 'status/listeners shows 77');
($rc) = nfs_write('/config/ListenBacklog', "$orig\n");
ok t_cmp($rc, 0, 'restored');
my $somax = `cat /proc/sys/net/core/somaxconn` + 0;
my $want = $orig < $somax ? $orig : $somax;
ok t_cmp(wait_until(sub { ss_backlog() == $want }, 5) ? $want : ss_backlog(), $want,
    'ss -ltn shows it back (capped by somaxconn)');
