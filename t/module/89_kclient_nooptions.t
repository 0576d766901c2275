# 89: issue 17, the monitor host's view: `mount -t nfs web1:/ /mnt/web1`
# with no options at all, by the Linux kernel's NFS client in the QEMU guest
# (t/kclient, --no-options: mount.nfs, the guest's own rpcbind and
# rpc.statd), against httpd with mod_umlconf on 127.0.0.1:2049 registered in
# the host's rpcbind. In network and mount namespaces of its own (so 2049
# and 111 are ours and the host's rpcbind is never touched), QEMU beside it.
#  1     the mount is NFSv3 over TCP on our port, with locking (no nolock)
#  2     the guest lists /config and reads a knob
#  3-4   echo and sed -i change it; the server serves the new value and
#        every child applies it
#  5     a write lock on the knob; a second process of the guest sees it
#  6     through a second mount (so the client asks the server: NLM TEST)
#        the lock is seen held and a second one refused
#  7     released: free at the server, granted again
#  8     /status/nfs counted the locks granted and refused, none held now
#  9     the guest's dmesg has no NFS, lockd or statd error
use strict;
use warnings FATAL => 'all';

my $in_ns;
BEGIN { require UmlConf::Test; $in_ns = UmlConf::Test::own_namespaces() }

use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use FindBin;
use lib "$FindBin::Bin/../kclient";
use KClient;
use UmlConf::Test;
use Time::HiRes qw(sleep);

my $missing = KClient::missing();
my @need = grep { !-x $_ } qw(/usr/sbin/rpcbind);
plan skip_all => $missing if defined $missing;
plan skip_all => "not installed: @need (tools/install-deps --test)" if @need;
plan skip_all => 'needs root and unshare for its namespaces' unless $in_ns;
plan tests => 9;

my $rpcbind = private_rpcbind();
END { my $st = $?; kill 'KILL', $rpcbind; waitpid($rpcbind, 0); $? = $st }

# NFS on 2049, where Linux probes v4 first; HTTP on 8589; locks of a silent
# client are never broken here (the lease is not what this test is about).
my $h = private_httpd(name => '89_kclient_nooptions', http_port => 8589, nfs_port => 2049);
$h->start or BAIL_OUT('private httpd did not start: ' . $h->log_since(0));
my $mrw = 'MaxRequestWorkers';
chomp(my $orig = $h->cat("/config/$mrw") // '');
my ($v1, $v2) = grep { $_ != $orig } 5, 6, 7;

my $body = <<"SH";
K=/mnt/config/$mrw
step ls ls /mnt/config
step read cat \$K
step echo sh -c 'echo $v1 > /mnt/config/$mrw'
step read_echo cat \$K
step sed_i sed -i 's/^$v1\$/$v2/' \$K
step read_sed cat \$K
# The holder: a write lock on the whole knob until /tmp/release exists.
lockprobe -h 60 -u /tmp/release \$K set >/tmp/holder.out 2>&1 &
n=0
until grep -q locked /tmp/holder.out || [ \$n -ge 300 ]; do sleep 0.1; n=\$((n + 1)); done
step holder cat /tmp/holder.out
step local_get lockprobe \$K get
mkdir /mnt2
step mount2 timeout 60 mount.nfs -o nosharecache "\$KCLIENT_SOURCE" /mnt2
step server_get lockprobe /mnt2/config/$mrw get
step server_set lockprobe /mnt2/config/$mrw set
touch /tmp/release
wait
step released cat /tmp/holder.out
step server_free lockprobe /mnt2/config/$mrw get
step server_take lockprobe /mnt2/config/$mrw set
timeout 15 umount.nfs /mnt2
step dmesg dmesg
SH

my $r = KClient::run(no_options => 1, script => KClient::STEP_LIB . $body, timeout => 150,
	mount_timeout => 90);
my %st = %{$r->{step}};
my %m = %{$r->{mount}};
note "kclient-mount: " . join(' ', map { "$_=$m{$_}" } sort keys %m);

ok $r->{rc} == 0 && ($m{vers} // '') eq '3' && ($m{proto} // '') eq 'tcp'
    && ($m{port} // '') eq '2049' && ($m{lock} // '') eq 'lock',
    "the mount without options is NFSv3 over TCP on port 2049 with locking ($r->{mount_options})"
    or diag $r->{log};
ok(($st{ls}{out} // '') =~ /^$mrw$/m && ($st{read}{out} // '') eq "$orig\n",
    "the guest lists /config and reads $mrw ($orig)")
    or diag "ls: " . ($st{ls}{out} // '') . "read: " . ($st{read}{out} // '');
ok(($st{read_echo}{out} // '') eq "$v1\n", "echo $v1 > $mrw: the guest reads it back")
    or diag "echo: " . ($st{echo}{out} // '') . "read_echo: " . ($st{read_echo}{out} // '');
# Served by the server, and applied by every child (each at the generation now).
chomp(my $served = $h->cat("/config/$mrw") // "");
chomp(my $gen = $h->cat('/status/generation') // '');
my $applied = wait_until(sub {
	my $rows = $h->children_status or return 0;
	return @$rows && !grep { $_->{gen} < $gen } @$rows;
}, 10);
ok(($st{read_sed}{out} // '') eq "$v2\n" && $served eq $v2 && $applied,
    "sed -i makes it $v2: served so (libnfs: $served) and applied by every child")
    or diag "sed_i: " . ($st{sed_i}{out} // '') . "read_sed: " . ($st{read_sed}{out} // '');
ok(($st{holder}{out} // '') =~ /^lockprobe: locked type=write/m
    && ($st{local_get}{out} // '') =~ /^lockprobe: held type=write/m,
    'a write lock on the knob; a second process of the guest sees it held')
    or diag "holder: " . ($st{holder}{out} // '') . "local_get: " . ($st{local_get}{out} // '');
ok(($st{mount2}{rc} // 1) == 0 && ($st{server_get}{out} // '') =~ /^lockprobe: held type=write/m
    && ($st{server_set}{out} // '') =~ /^lockprobe: busy/m,
    'through a second mount the server names the lock held (NLM TEST) and refuses another')
    or diag join '', map { "$_: " . ($st{$_}{out} // "(none)\n") } qw(mount2 server_get server_set);
ok(($st{released}{out} // '') =~ /^lockprobe: unlocked/m
    && ($st{server_free}{out} // '') =~ /^lockprobe: free$/m
    && ($st{server_take}{out} // '') =~ /^lockprobe: locked.*\n.*unlocked/m,
    'released: free at the server and granted again')
    or diag join '', map { "$_: " . ($st{$_}{out} // "(none)\n") } qw(released server_free server_take);

my %nfs = map { /^(\w+) (\d+)$/ ? ($1 => $2) : () } split /\n/, $h->cat('/status/nfs') // '';
my $counted = join ', ', map { "$_ " . ($nfs{$_} // 'none') } qw(locks_granted locks_denied locks_held);
ok(($nfs{locks_granted} // 0) >= 2 && ($nfs{locks_denied} // 0) >= 1 && ($nfs{locks_held} // -1) == 0,
    "/status/nfs counted them: $counted") or diag explain \%nfs;
my @bad = grep { /nfs|lockd|statd|rpc|nlm/i && /error|fail|refus|not responding|timed out|cannot|unable|denied/i }
    split /\n/, $st{dmesg}{out} // '';
ok defined $st{dmesg} && !@bad, "the guest's dmesg shows no NFS, lockd or statd error"
    or diag join "\n", @bad;
$h->stop('TERM', 12);
$h->end;
