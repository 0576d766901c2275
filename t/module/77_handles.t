# 77: file handles under httpd, used as an attacker would. 127.0.0.2 is listed
# only for /private (extra.conf.in). Before handles carried a MAC, such a
# host put other inode numbers into its root handle, read /config and listed /.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use File::Spec;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib";
use NfsTest qw(rpc_connect rpc_udp_call rpc_mnt rpc_lookup rpc_status xdr_opaque);
use UmlConf::Test;

plan tests => 9;

my $srv = { port => UmlConf::Test::nfs_port() };

my $before = knob('MaxRequestWorkers');
my $c1 = rpc_connect($srv);
my $c2 = rpc_connect($srv, LocalAddr => '127.0.0.2');
my $priv = rpc_mnt($c2, '/private');
ok defined $priv && length($priv) == 32, '127.0.0.2 mounts /private';

# Every inode number a small tree can have, put into its root handle, and
# used to read (GETATTR, READDIR) and to write a knob.
my %st;
for my $ino (1 .. 80) {
    my $f = $priv;
    substr($f, 12, 8) = pack('NN', 0, $ino);
    next if $f eq $priv;
    $st{ rpc_status($c2, 1, xdr_opaque($f)) }++;
    $st{ rpc_status($c2, 16, xdr_opaque($f) . pack('NN', 0, 0) . ("\0" x 8) . pack('N', 4096)) }++;
    $st{ rpc_status($c2, 7, xdr_opaque($f) . pack('NNNN', 0, 0, 4, 2) . xdr_opaque("333\n")) }++;
}
ok t_cmp(join(',', sort keys %st), '10001', 'forged handles: every call is BADHANDLE');

my ($rst, $config) = rpc_lookup($c1, rpc_mnt($c1, '/'), 'config');
ok $rst == 0 && rpc_status($c2, 1, xdr_opaque($config)) == 13,
    '127.0.0.1\'s handle of /config, used from 127.0.0.2: ACCES';
my ($dst, $up) = rpc_lookup($c2, $priv, '..');
ok $dst == 0 && $up eq $priv, 'LOOKUP ".." at /private stays there';
ok t_cmp(knob('MaxRequestWorkers'), $before, 'the knob is unchanged');

my @udp = rpc_udp_call($srv, 100005, 3, 0);
ok !@udp, 'no UDP unless UmlConfNFS asks for it';

my $key = File::Spec->catfile(Apache::Test::vars('serverroot'), 'umlconf.key');
my $mode = (stat $key)[2];
ok defined $mode && ($mode & 07777) == 0600, "the key file $key exists, mode 0600";

# A graceful restart keeps the machine, so handles stay; a monitor's mount lives on.
my (undef, $mrw) = rpc_lookup($c1, $config, 'MaxRequestWorkers');
ok graceful_restart(), 'graceful restart';
$c1 = rpc_connect($srv);
my (undef, $again) = rpc_lookup($c1, (rpc_lookup($c1, rpc_mnt($c1, '/'), 'config'))[1], 'MaxRequestWorkers');
ok defined $mrw && defined $again && $again eq $mrw && rpc_status($c1, 1, xdr_opaque($mrw)) == 0,
    'the same handles after a graceful restart';
