#!/usr/bin/perl
# Exports: read-only exports refuse changes (ROFS), allowlists refuse other
# clients at MOUNT and at every call made with a handle of the export.
#  1-3   a ro export reads, but refuses write and mkdir with EROFS
#  4     a client outside the allowlist can't mount (libnfs: MNT3ERR_ACCES)
#  5-6   MOUNT from 127.0.0.2: refused for an export of 127.0.0.1 only, granted for its own
#  7     that handle, used from 127.0.0.1, is refused with NFS3ERR_ACCES
#  8     the rw export next to them takes writes
#  9     without -e, / is exported read-only to localhost
# 10     no worker crashed
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use NfsTest;

plan_nfs(10);

my $s = start_server('-l', '127.0.0.1:0', '-p', '/pub/motd=hi', '-p', '/rw/x=1',
		     '-p', '/other/y=2', '-e', '/pub:ro:127.0.0.1', '-e', '/rw:rw:127.0.0.0/8',
		     '-e', '/other:rw:127.0.0.2');

my ($rc, $out) = run_tool('nfs-cat', nfs_url($s, '/pub/motd'));
is($out, 'hi', '1 a read-only export can be read');
($rc, $out) = nfsc($s, '/pub', 'write', 'new', 'data');
ok($rc != 0 && $out =~ /Read-only file system/, '2 a write to it fails with EROFS') or diag($out);
($rc, $out) = nfsc($s, '/pub', 'mkdir', 'd');
ok($rc != 0 && $out =~ /Read-only file system/, '3 so does mkdir') or diag($out);

($rc, $out) = run_tool('nfs-ls', nfs_url($s, '/other'));
ok($rc != 0 && $out =~ /MNT3ERR_ACCES/, '4 mounting an export of 127.0.0.2 from 127.0.0.1 is refused')
    or diag($out);

my $sock2 = rpc_connect($s, LocalAddr => '127.0.0.2');
my ($astat, $res) = rpc_call($sock2, 100005, 3, 1, xdr_str('/pub'));
is(unpack('N', $res // ''), 13, '5 MNT /pub from 127.0.0.2 is MNT3ERR_ACCES');
($astat, $res) = rpc_call($sock2, 100005, 3, 1, xdr_str('/other'));
my ($st, $len) = unpack('NN', $res // '');
my $fh = substr($res // '', 8, $len // 0);
ok(defined $astat && $st == 0 && length($fh) == 32, '6 MNT /other from 127.0.0.2 gives a handle');

my $sock1 = rpc_connect($s);
($astat, $res) = rpc_call($sock1, 100003, 3, 1, xdr_opaque($fh));
is(unpack('N', $res // ''), 13, '7 GETATTR with that handle from 127.0.0.1 is NFS3ERR_ACCES');

($rc, $out) = nfsc($s, '/rw', 'write', 'new', 'data');
my (undef, $cat) = run_tool('nfs-cat', nfs_url($s, '/rw/new'));
is($cat, 'data', '8 the rw export (127.0.0.0/8) takes a write') or diag($out);
my $log = stop_server($s);

$s = start_server('-l', '127.0.0.1:0', '-p', '/etc/motd=x');
($rc, $out) = run_tool('nfs-cat', nfs_url($s, '/etc/motd'));
my ($rc2, $out2) = nfsc($s, '/', 'write', 'etc/new', 'data');
ok($out eq 'x' && $rc2 != 0 && $out2 =~ /Read-only/, '9 the default export: / read-only')
    or diag("$out / $out2");
$log .= stop_server($s);
ok(log_clean($log), '10 no worker crashed') or diag($log);
