#!/usr/bin/perl
# The kernel's own NFSv3 client (uml/nfsclnt.h) against umlnfsd, through
# t/nfs/nfsclnt-drive (built by make), which prints one line per call.
#  1     MNT of /pub gives a 32-byte root handle
#  2-4   LOOKUP of etc/motd with its attributes, GETATTR of etc, ENOENT
#  5     ACCESS grants read and modify on the rw export
#  6-8   299 CREATEs; READDIRPLUS lists all 300 with handles and attributes
#        over several replies; max_entries 100 stops it with -EFBIG
#  9-11  a 200 KB file created, written (FILE_SYNC, wtmax) and read back
#        whole; a read across the end stops at it with eof
# 12-14  truncated to 1000 bytes; CREATE UNCHECKED of it again does not
#        truncate; a read gives the 1000 bytes and eof
# 15     a forged handle: -ESTALE
# 16-18  MNT of an export for another client and of an unexported path:
#        -EACCES; of a missing directory in an export: -ENOENT
# 19     no call was retransmitted or timed out
# 20     a port nobody listens on: -ECONNREFUSED
# 21     no worker crashed
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use NfsTest;
use POSIX qw(ENOENT EACCES ESTALE EFBIG ECONNREFUSED);

my $drive = build_dir() . '/t/nfsclnt-drive';
plan(skip_all => "$drive not built (make)") unless -x $drive;
plan(tests => 21);

my $s = start_server('-l', '127.0.0.1:0', '-m', '64M', '-e', '/pub:rw:127.0.0.1',
		     '-e', '/priv:rw:10.9.9.9', '-p', '/pub/etc/motd=hello',
		     '-p', '/pub/many/seed=x', '-p', '/priv/x=y');
my ($rc, $out) = run_tool($drive, "nfs://127.0.0.1:$s->{port}/pub");
diag($out) if $rc;
my %step;
for (split /\n/, $out) {
	my ($name, $err, @kv) = split / /;
	next unless defined $err && $err =~ /^-?\d+$/ || $name eq 'stats';
	$step{$name} = {rc => $err, map { split /=/, $_, 2 } grep { /=/ } ($err, @kv)};
}
sub step_is {
	my ($name, $want, %kv) = @_;
	my $st = $step{$name} // {};
	my $good = defined $st->{rc} && $st->{rc} == $want;
	for (sort keys %kv) {
		$good &&= defined $st->{$_} && $st->{$_} eq $kv{$_};
	}
	return $good;
}

ok(step_is('mount', 0, fhlen => 32), '1 MNT gives a 32-byte root handle') or diag($out);
ok(step_is('lookup', 0, type => 1, size => 5), '2 LOOKUP etc/motd: a file of 5 bytes');
ok(step_is('getattr', 0, type => 2), '3 GETATTR etc: a directory');
ok(step_is('lookup-absent', -ENOENT), '4 LOOKUP of a missing name: -ENOENT');
ok(step_is('access', 0, read => 1, modify => 1), '5 ACCESS grants read and modify');
ok(step_is('create-many', 0), '6 299 CREATEs');
ok(step_is('readdirplus', 0, n => 300, fh => 300, attr => 300),
   '7 READDIRPLUS lists all 300, each with a handle and attributes');
ok(($step{readdirplus}{calls} // 0) >= 3,
   "8 over several replies ($step{readdirplus}{calls} calls)");
ok(step_is('readdirplus-max', -EFBIG, n => 100), '9 max_entries 100: -EFBIG after 100');
ok(step_is('create', 0) && step_is('write', 0), '10 a 200 KB file created and written');
ok(step_is('read', 0, got => 204800, same => 1) && step_is('read-end', 0, got => 100, eof => 1),
   '11 read back whole, and across the end with eof');
ok(step_is('truncate', 0, size => 1000), '12 SETATTR truncates to 1000 bytes');
ok(step_is('create-existing', 0, size => 1000), '13 CREATE UNCHECKED of it does not truncate');
ok(step_is('read-short', 0, got => 1000, eof => 1, same => 1), '14 a read gives 1000 bytes, eof');
ok(step_is('forged', -ESTALE), '15 a forged handle: -ESTALE');
ok(step_is('mount-priv', -EACCES), '16 MNT of an export for another client: -EACCES');
ok(step_is('mount-nothere', -EACCES), '17 MNT of an unexported path: -EACCES');
ok(step_is('mount-missing', -ENOENT), '18 MNT of a missing directory of an export: -ENOENT');
ok(($step{stats}{retransmits} // -1) == 0 && ($step{stats}{timeouts} // -1) == 0,
   '19 no retransmission, no timeout');
ok(step_is('refused', -ECONNREFUSED), '20 a port nobody listens on: -ECONNREFUSED');
my $log = stop_server($s);
ok(log_clean($log), '21 no worker crashed') or diag($log);
