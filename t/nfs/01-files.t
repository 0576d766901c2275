#!/usr/bin/perl
# The NFS server seen through the real libnfs client: nfs-ls, nfs-cat,
# nfs-cp and t/nfs/nfsc (libnfs-dev) against build/umlnfsd.
#  1-3   list the exported tree and read a file
#  4-6   write a new file with nfs-cp and read it back; overwrite it shorter
#  7-10  mkdir, rename, remove, rmdir
# 11-12  setattr: chmod and truncate
# 13-14  symlink and readlink; hard link
# 15-16  a 1.5 MiB file written and read back across many RPCs
# 17     a directory of 300 entries lists completely (several READDIRPLUS)
# 18     no worker crashed
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More;
use NfsTest;

plan_nfs(18);

my $tmp = tempdir(CLEANUP => 1);
my $s = start_server('-l', '127.0.0.1:0', '-w', '2', '-m', '32M',
		     '-p', '/config/MaxRequestWorkers=150', '-p', '/status/busy=3',
		     '-e', '/:rw:127.0.0.1');

my ($rc, $out) = run_tool('nfs-ls', nfs_url($s, '/'));
ok($rc == 0 && $out =~ /\bconfig\b/ && $out =~ /\bstatus\b/, '1 nfs-ls / shows config and status')
    or diag($out);
($rc, $out) = run_tool('nfs-ls', nfs_url($s, '/config'));
like($out, qr/-rw-r--r--.*\s3\s+MaxRequestWorkers/, '2 nfs-ls /config shows the file, mode and size');
($rc, $out) = run_tool('nfs-cat', nfs_url($s, '/config/MaxRequestWorkers'));
is($out, "150", '3 nfs-cat reads the content');

open(my $fh, '>', "$tmp/hello") or die;
print $fh "hello, world\n";
close $fh;
($rc, $out) = run_tool('nfs-cp', "$tmp/hello", nfs_url($s, '/config/hello'));
is($rc, 0, '4 nfs-cp a local file to the server') or diag($out);
($rc, $out) = run_tool('nfs-cat', nfs_url($s, '/config/hello'));
is($out, "hello, world\n", '5 the new file reads back');
($rc, $out) = nfsc($s, '/', 'write', 'config/hello', 'short');
my (undef, $cat) = run_tool('nfs-cat', nfs_url($s, '/config/hello'));
is($cat, 'short', '6 an overwrite with O_TRUNC leaves only the new content');

($rc, $out) = nfsc($s, '/', 'mkdir', 'newdir');
is($rc, 0, '7 mkdir') or diag($out);
($rc, $out) = nfsc($s, '/', 'mv', 'config/hello', 'newdir/moved');
my (undef, $ls) = run_tool('nfs-ls', nfs_url($s, '/newdir'));
ok($rc == 0 && $ls =~ /moved/, '8 rename into the new directory') or diag($out);
($rc, $out) = nfsc($s, '/', 'rm', 'newdir/moved');
(undef, $ls) = run_tool('nfs-ls', nfs_url($s, '/newdir'));
ok($rc == 0 && $ls !~ /moved/, '9 remove') or diag($out);
($rc, $out) = nfsc($s, '/', 'rmdir', 'newdir');
(undef, $ls) = run_tool('nfs-ls', nfs_url($s, '/'));
ok($rc == 0 && $ls !~ /newdir/, '10 rmdir') or diag($out);

nfsc($s, '/', 'write', 'config/f', '0123456789');
($rc, $out) = nfsc($s, '/', 'chmod', '600', 'config/f');
my (undef, $st) = nfsc($s, '/', 'stat', 'config/f');
like($st, qr/mode=100600/, '11 chmod sets the mode') or diag($out);
($rc, $out) = nfsc($s, '/', 'truncate', 'config/f', '4');
(undef, $cat) = run_tool('nfs-cat', nfs_url($s, '/config/f'));
is($cat, '0123', '12 truncate shortens the file') or diag($out);

($rc, $out) = nfsc($s, '/', 'symlink', 'f', 'config/lnk');
my (undef, $target) = nfsc($s, '/', 'readlink', 'config/lnk');
is($target, "f\n", '13 symlink and readlink') or diag($out);
($rc, $out) = nfsc($s, '/', 'ln', 'config/f', 'config/f2');
(undef, $st) = nfsc($s, '/', 'stat', 'config/f');
ok($rc == 0 && $st =~ /nlink=2/, '14 hard link: two names, nlink 2') or diag("$out $st");

# (libnfs mounts "" for nfs://host/file: a file in the export's root is
# named nfs://host//file; a subdirectory avoids the question.)
nfsc($s, '/', 'mkdir', 'data');
open($fh, '>', "$tmp/big") or die;
my $big = join('', map { sprintf("%07d\n", $_) } 1 .. 196608); # 1.5 MiB
print $fh $big;
close $fh;
($rc, $out) = run_tool('nfs-cp', "$tmp/big", nfs_url($s, '/data/big'));
is($rc, 0, '15 a 1.5 MiB file is written') or diag($out);
($rc, $out) = run_tool('nfs-cp', nfs_url($s, '/data/big'), "$tmp/big.back");
my $back = '';
if (open(my $in, '<', "$tmp/big.back")) {
	local $/;
	$back = <$in>;
}
ok($rc == 0 && $back eq $big, '16 and reads back identical')
    or diag("rc $rc: $out; " . length($back) . " bytes");

nfsc($s, '/', 'mkdir', 'many');
for my $i (1 .. 300) {
	nfsc($s, '/', 'write', sprintf('many/entry-with-a-longish-name-%03d', $i), 'x');
}
($rc, $out) = nfsc($s, '/', 'ls', 'many');
my @names = grep { /^entry-/ } split /\n/, $out;
is(scalar(@names), 300, '17 all 300 entries are listed');

my $log = stop_server($s);
ok(log_clean($log), '18 no worker crashed') or diag($log);
