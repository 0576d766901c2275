# The Linux kernel's own NFS client as a monitor host: boot a Debian kernel
# under QEMU (t/kclient/guest), mount the module's export with vers=3 over
# TCP, edit knobs the way an admin would (echo, sed -i, cp, rm) and check what
# a user sees; then check from this host with libnfs (nfs-cat) that the server
# serves what the guest wrote; a second short boot restores the knobs. The
# cases are t/kclient/Cases.pm's, which 99_interface.t runs over the
# machine's own stack too.
#
# Needs the assets from tools/kclient-prepare (CI runs it); skips only when
# they are missing. The server is mod_umlconf's NFS server on 127.0.0.1,
# port $UMLCONF_TEST_NFS_PORT or $UMLCONF_NFS_PORT (default 12049), export /
# rw for 127.0.0.1 (QEMU's user networking connects from there). For checking
# this test against another server: KCLIENT_TEST_MOUNT_PORT (MOUNT on its
# own port) and KCLIENT_TEST_EXPORT (default /).
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use File::Temp qw(tempfile);
use FindBin;
use lib "$FindBin::Bin/../kclient";
use KClient;
use KClient::Cases;

# t/TEST exports UMLCONF_NFS_PORT; UMLCONF_TEST_NFS_PORT overrides it.
my $port = $ENV{UMLCONF_TEST_NFS_PORT} || $ENV{UMLCONF_NFS_PORT} || 12049;
my $mport = $ENV{KCLIENT_TEST_MOUNT_PORT} || $port;
my $export = $ENV{KCLIENT_TEST_EXPORT} || '/';
(my $root = $export) =~ s{/+$}{};

my $missing = KClient::missing();
# Skip only without the guest; nfs-cat/nfs-cp (libnfs-utils) are a build
# dependency, so their absence fails below instead.
plan tests => KClient::Cases::TESTS, need { ($missing // 'kclient') => !defined $missing };

sub url { "nfs://127.0.0.1$root/$_[0]?nfsport=$port&mountport=$mport" }

# What the server serves, read through libnfs (not the kernel client).
sub nfs_cat {
    my ($path) = @_;
    # Bounded: a server that stops answering must fail the test, not hang it.
    my $out = `timeout 30 nfs-cat '${\ url($path)}' 2>/dev/null`;
    return $? == 0 ? $out : undef;
}

KClient::Cases::run(guest => { port => $port, mount_port => $mport, export => $export },
                    nfs_cat => \&nfs_cat, where => "127.0.0.1:$port$export");
