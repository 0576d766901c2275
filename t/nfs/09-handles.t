#!/usr/bin/perl
# File handles as an attacker uses them. Exports nested and side by side:
#   /pub  rw to 127.0.0.2      /ro  ro to 127.0.0.1 and 127.0.0.2      /  rw to 127.0.0.1
# so 127.0.0.2 may see /pub and /ro and nothing else. Before handles carried
# a MAC, 127.0.0.2 put other inode numbers into its /pub root handle and read
# /secret/key, wrote /config/MaxRequestWorkers and wrote /ro/file.
#  1     127.0.0.2 mounts /pub and /ro
#  2     its /pub root handle with each other inode number 1..40: never OK, all BADHANDLE
#  3     1000 handles with random MACs: all BADHANDLE
#  4     /ro's file handle with /pub's export root spliced in: BADHANDLE
#  5     a WRITE to /ro/file through the ro export: ROFS, the file unchanged
#  6     127.0.0.1's (valid) handle of /secret/key used from 127.0.0.2: ACCES
#  7     LOOKUP ".." at /pub's root stays at /pub's root
#  8     a file 127.0.0.1 renames out of /pub: 127.0.0.2's handle of it goes STALE
#  9     so does a directory moved out, and a file inside that directory
# 10     a hard link 127.0.0.1 makes into /pub is seen there; once it is removed
#        127.0.0.2's handle of it is STALE though the file lives on in /secret
# 11     a valid MAC on a handle of another version byte: BADHANDLE
# 12     the secret and the knob were never changed or read by 127.0.0.2
# 13     no worker crashed
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use NfsTest;

plan_nfs(13);

my $s = start_server('-l', '127.0.0.1:0', '-p', '/secret/key=s3cret', '-p',
		     '/config/MaxRequestWorkers=150', '-p', '/ro/file=ro', '-p', '/pub/x=1',
		     '-p', '/pub/d/inner=2', '-p', '/pub/y=3', '-e', '/pub:rw:127.0.0.2',
		     '-e', '/ro:ro:127.0.0.1,127.0.0.2', '-e', '/:rw:127.0.0.1');
my $c1 = rpc_connect($s);
my $c2 = rpc_connect($s, LocalAddr => '127.0.0.2');

sub getattr { rpc_status($_[0], 1, xdr_opaque($_[1])) }

sub read_file {
	my ($sock, $fh) = @_;
	my (undef, $res) = rpc_call($sock, 100003, 3, 6, xdr_opaque($fh) . pack('NNN', 0, 0, 100));
	my ($st, $has) = unpack('NN', $res // '');
	return "status $st" if $st;
	my $off = 8 + ($has ? 84 : 0);
	my (undef, undef, $len) = unpack('NNN', substr($res, $off, 12));
	return substr($res, $off + 12, $len);
}

sub write_args {
	my ($fh, $data) = @_;
	return xdr_opaque($fh) . pack('NNNN', 0, 0, length $data, 2) . xdr_opaque($data);
}

my $pub = rpc_mnt($c2, '/pub');
my $ro = rpc_mnt($c2, '/ro');
ok(defined $pub && defined $ro && length($pub) == 32, '1 127.0.0.2 mounts /pub and /ro');

my %st;
my $forged = 0;
for my $ino (1 .. 40) {
	my $f = $pub;
	substr($f, 12, 8) = pack('NN', 0, $ino);
	next if $f eq $pub;
	$forged++;
	$st{getattr($c2, $f)}++;
	$st{rpc_status($c2, 7, write_args($f, "333\n"))}++;
}
is(join(',', map { "$_:$st{$_}" } sort keys %st), '10001:' . 2 * $forged,
   '2 the /pub root handle with inode numbers 1..40: all BADHANDLE');

%st = ();
for (1 .. 1000) {
	my $f = $pub;
	substr($f, 24, 8) = pack('C8', map { int(rand(256)) } 1 .. 8);
	$st{getattr($c2, $f)}++ unless $f eq $pub;
}
ok(keys(%st) == 1 && exists $st{10001}, '3 random MACs: all BADHANDLE')
    or diag(join(',', %st));

my (undef, $rofile) = rpc_lookup($c2, $ro, 'file');
my $splice = $rofile;
substr($splice, 0, 12) = substr($pub, 0, 12);
is(getattr($c2, $splice), 10001, '4 a /ro handle spliced onto /pub\'s export: BADHANDLE');

is(rpc_status($c2, 7, write_args($rofile, "rw\n")), 30, '5 WRITE through the ro export: ROFS');

my $root1 = rpc_mnt($c1, '/');
my (undef, $secret) = rpc_lookup($c1, $root1, 'secret');
my (undef, $key) = rpc_lookup($c1, $secret, 'key');
ok(defined $key && getattr($c1, $key) == 0 && getattr($c2, $key) == 13,
   '6 127.0.0.1\'s handle of /secret/key from 127.0.0.2: ACCES');

my ($dst, $dotdot) = rpc_lookup($c2, $pub, '..');
ok($dst == 0 && $dotdot eq $pub, '7 LOOKUP ".." at the export root stays there');

# 127.0.0.1, trusted with all of /, moves things out of /pub under 127.0.0.2's feet.
my (undef, $x2) = rpc_lookup($c2, $pub, 'x');
my (undef, $d2) = rpc_lookup($c2, $pub, 'd');
my (undef, $inner2) = rpc_lookup($c2, $d2, 'inner');
my (undef, $pub1) = rpc_lookup($c1, $root1, 'pub');
sub rename1 {
	my ($from, $fname, $to, $tname) = @_;
	return rpc_status($c1, 14, xdr_opaque($from) . xdr_str($fname) . xdr_opaque($to) . xdr_str($tname));
}
my $before = getattr($c2, $x2) . getattr($c2, $inner2);
my $r1 = rename1($pub1, 'x', $secret, 'x');
ok($before eq '00' && $r1 == 0 && getattr($c2, $x2) == 70 && read_file($c2, $x2) eq 'status 70',
   '8 a file renamed out of /pub: its handle is STALE there') or diag("before $before rename $r1");
my $r2 = rename1($pub1, 'd', $secret, 'd');
ok($r2 == 0 && getattr($c2, $d2) == 70 && getattr($c2, $inner2) == 70 &&
   rpc_status($c2, 7, write_args($inner2, "pwned\n")) == 70,
   '9 a directory moved out, and a file inside it: STALE') or diag("rename $r2");

my $l = rpc_status($c1, 15, xdr_opaque($key) . xdr_opaque($pub1) . xdr_str('key'));
my ($kst, $key2) = rpc_lookup($c2, $pub, 'key');
my $seen = $l == 0 && $kst == 0 ? read_file($c2, $key2) : "link $l lookup $kst";
my $rm = rpc_status($c1, 12, xdr_opaque($pub1) . xdr_str('key'));
ok($seen eq 's3cret' && $rm == 0 && getattr($c2, $key2) == 70 && getattr($c1, $key) == 0,
   '10 a hard link into /pub is seen there, and STALE once removed') or diag($seen);

my $v = $pub;
substr($v, 0, 1) = "\x01";
is(getattr($c2, $v), 10001, '11 another version byte: BADHANDLE');

my (undef, $config) = rpc_lookup($c1, $root1, 'config');
my (undef, $mrw) = rpc_lookup($c1, $config, 'MaxRequestWorkers');
is(read_file($c1, $key) . '|' . read_file($c1, $mrw) . '|' . read_file($c1, $rofile),
   's3cret|150|ro', '12 the secret, the knob and /ro/file are as they were');

close $c1;
close $c2;
my $log = stop_server($s);
ok(log_clean($log), '13 no worker crashed') or diag($log);
