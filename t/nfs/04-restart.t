#!/usr/bin/perl
# File handles survive a restart: the same tree built the same way, keyed by
# the same key file, gives the same handles, so a monitor's mount keeps
# working after httpd restarts; another installation's key refuses them.
#  1     handles taken before the restart; the key file was made with mode 0600
#  2-3   after it, GETATTR and READ with the old handle succeed and read the content
#  4     a handle of a file a client created before the restart is STALE, not BADHANDLE
#  5     the old root handle still lists the tree (READDIRPLUS)
#  6     no worker crashed
#  7     a server with another key (another installation) answers the old handle
#        with NFS3ERR_BADHANDLE, though the tree and inode numbers are the same
#  8     without a key file, handles do not outlive a restart (a key per boot)
#  9     a key file others may read is refused at start, with the reason
# 10     so is one that holds no key
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use NfsTest;

plan_nfs(10);

my $key = tmp_path('umlnfsd.key');
my @tree = ('-l', '127.0.0.1:0', '-p', '/config/a=1', '-p', '/config/b=two',
	    '-p', '/status/x=3', '-e', '/:rw:127.0.0.1');
my @args = (@tree, '-k', $key);

my $s = start_server(@args);
my $sock = rpc_connect($s);
my $root = rpc_mnt($sock, '/');
my $cfg = rpc_lookup_fh($sock, $root, 'config');
my $b = rpc_lookup_fh($sock, $cfg, 'b');
nfsc($s, '/', 'write', 'config/client-made', 'x');
my $made = rpc_lookup_fh($sock, $cfg, 'client-made');
ok(defined $b && defined $made && length($b) == 32 && ((stat $key)[2] & 07777) == 0600,
   '1 handles of /config/b and a client-made file; the key file is 0600');
close $sock;
my $log = stop_server($s);

$s = start_server(@args);
$sock = rpc_connect($s);
my (undef, $res) = rpc_call($sock, 100003, 3, 1, xdr_opaque($b));
is(unpack('N', $res // ''), 0, '2 GETATTR with the old handle after a restart: NFS3_OK');
(undef, $res) = rpc_call($sock, 100003, 3, 6, xdr_opaque($b) . pack('NNN', 0, 0, 100));
# status, post_op_attr (1 + 84 bytes), count, eof, data
my ($st, $has) = unpack('NN', $res // '');
my $off = 8 + ($has ? 84 : 0);
my ($count, $eof, $len) = unpack('NNN', substr($res // '', $off, 12) . "\0" x 12);
is($st == 0 ? substr($res, $off + 12, $len) : "status $st", 'two', '3 READ with it reads the content');
(undef, $res) = rpc_call($sock, 100003, 3, 1, xdr_opaque($made));
is(unpack('N', $res // ''), 70, '4 the client-made file is gone: NFS3ERR_STALE');
(undef, $res) = rpc_call($sock, 100003, 3, 17,
			 xdr_opaque($root) . pack('NN', 0, 0) . ("\0" x 8) . pack('NN', 4096, 8192));
ok(unpack('N', $res // '') == 0 && $res =~ /config/ && $res =~ /status/,
   '5 READDIRPLUS with the old root handle lists config and status');
$log .= stop_server($s);
ok(log_clean($log), '6 no worker crashed') or diag($log);

my $other = tmp_path('other.key');
$s = start_server(@tree, '-k', $other);
$sock = rpc_connect($s);
(undef, $res) = rpc_call($sock, 100003, 3, 1, xdr_opaque($b));
my $st7 = unpack('N', $res // '');
my $b2 = rpc_lookup_fh($sock, rpc_lookup_fh($sock, rpc_mnt($sock, '/'), 'config'), 'b');
ok($st7 == 10001 && defined $b2 && $b2 ne $b,
   '7 another key: the old handle is BADHANDLE, the same file has another handle')
    or diag("status $st7");
stop_server($s);

$s = start_server(@tree);
$sock = rpc_connect($s);
$b2 = rpc_lookup_fh($sock, rpc_lookup_fh($sock, rpc_mnt($sock, '/'), 'config'), 'b');
stop_server($s);
$s = start_server(@tree);
$sock = rpc_connect($s);
(undef, $res) = rpc_call($sock, 100003, 3, 1, xdr_opaque($b2));
is(unpack('N', $res // ''), 10001, '8 without -k a restart makes new handles (BADHANDLE)');
stop_server($s);

chmod 0644, $key;
my ($rc, $out) = run_tool(build_dir() . '/umlnfsd', '-f', @args);
ok($rc != 0 && $out =~ /open to others \(mode 0644\).*chmod 600/,
   '9 a key file others may read is refused') or diag($out);
open(my $fh, '>', $other) or die;
print $fh "not a key\n";
close $fh;
chmod 0600, $other;
($rc, $out) = run_tool(build_dir() . '/umlnfsd', '-f', @tree, '-k', $other);
ok($rc != 0 && $out =~ /does not hold a key/, '10 so is a file that holds no key') or diag($out);
