#!/usr/bin/perl
# File handles survive a restart: the same tree built the same way gives the
# same handles, so a monitor's mount keeps working after httpd restarts.
#  1     handles taken before the restart
#  2-3   after it, GETATTR and READ with the old handle succeed and read the content
#  4     a handle of a file a client created before the restart is STALE, not BADHANDLE
#  5     the old root handle still lists the tree (READDIRPLUS)
#  6     no worker crashed
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use NfsTest;

plan_nfs(6);

my @args = ('-l', '127.0.0.1:0', '-p', '/config/a=1', '-p', '/config/b=two',
	    '-p', '/status/x=3', '-e', '/:rw:127.0.0.1');

sub mnt {
	my ($sock, $path) = @_;
	my (undef, $res) = rpc_call($sock, 100005, 3, 1, xdr_str($path));
	my ($st, $len) = unpack('NN', $res // '');
	return ($st // -1) == 0 ? substr($res, 8, $len) : undef;
}

sub lookup {
	my ($sock, $dir, $name) = @_;
	my (undef, $res) = rpc_call($sock, 100003, 3, 3, xdr_opaque($dir) . xdr_str($name));
	my ($st, $len) = unpack('NN', $res // '');
	return ($st // -1) == 0 ? substr($res, 8, $len) : undef;
}

my $s = start_server(@args);
my $sock = rpc_connect($s);
my $root = mnt($sock, '/');
my $cfg = lookup($sock, $root, 'config');
my $b = lookup($sock, $cfg, 'b');
nfsc($s, '/', 'write', 'config/client-made', 'x');
my $made = lookup($sock, $cfg, 'client-made');
ok(defined $b && defined $made && length($b) == 32, '1 handles of /config/b and a client-made file');
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
