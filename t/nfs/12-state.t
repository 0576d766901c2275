#!/usr/bin/perl
# umlnfsd -S: the tree kept in a state image, as a libuml program without
# httpd sees it, and umlfsck on the image.
#  1-3   a client makes a directory, files (one of 100 KB, one sparse past
#        2 GiB), a symlink and a hard link; a -p file is put too
#  4     stopped, umlfsck finds the image clean
#  5-8   started again on it: names, contents, sizes, the link count and the
#        old handle of a file (a raw LOOKUP before the stop) are all back
#  9     two servers can't share an image: the second refuses at start
# 10-11  a record in the log's middle is damaged: umlfsck exits 1, and
#        umlnfsd refuses the image (exit 1, says corrupt), leaving it as it was
# 12     an image is never made over a file that is not one
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::MD5 ();
use NfsTest;

plan_nfs(12);

my $img = tmp_path('state.img');
my $fsck = build_dir() . '/umlfsck';
# Handles are keyed by -k's secret: without it they go stale at a restart whatever the image.
my @srv = ('-l', '127.0.0.1:0', '-e', '/:rw:127.0.0.1', '-p', '/etc/motd=hello', '-k', tmp_path('key'),
	   '-S', "$img:4M");

sub md5_of {
	open my $fh, '<:raw', $_[0] or return '';
	return Digest::MD5->new->addfile($fh)->hexdigest;
}

my $s = start_server(@srv);
my $big = join('', map { sprintf "%07d\n", $_ } 1 .. 12500);	# 100,000 bytes
my @r = (nfsc($s, '/', 'mkdir', '/dir'), nfsc($s, '/', 'write', '/dir/big', $big),
	 nfsc($s, '/', 'write', '/dir/small', "tiny\n"));
ok(!$r[0] && !$r[2] && !$r[4], '1 a directory, a 100 KB file and a small one') or diag "@r";
my ($st, $out) = nfsc($s, '/', 'truncate', '/dir/sparse', 3 << 30);
($st) = nfsc($s, '/', 'write', '/dir/sparse', 'x') if $st;	# make it first
($st, $out) = nfsc($s, '/', 'truncate', '/dir/sparse', 3 << 30) if !$st;
is($st, 0, '2 a sparse file of 3 GiB') or diag $out;
@r = (nfsc($s, '/', 'symlink', 'big', '/dir/ln'), nfsc($s, '/', 'ln', '/dir/small', '/hard'));
ok(!$r[0] && !$r[2], '3 a symlink and a hard link') or diag "@r";

my $c = rpc_connect($s);
my $root = rpc_mnt($c, '/');
my $dirfh = rpc_lookup_fh($c, $root, 'dir');
my $smallfh = $dirfh && rpc_lookup_fh($c, $dirfh, 'small');
close $c;
stop_server($s);

my ($frc, $fout) = run_tool($fsck, $img);
is($frc, 0, '4 umlfsck: the image is clean') or diag $fout;

$s = start_server(@srv);
my ($rc, $text) = run_tool('nfs-cat', nfs_url($s, '/dir/big'));
ok($rc == 0 && $text eq $big, '5 the 100 KB file is back whole');
($rc, $text) = nfsc($s, '/', 'stat', '/dir/sparse');
like($text, qr/size=3221225472\b/, '6 the sparse file keeps its size') or diag $text;
($rc, $text) = nfsc($s, '/', 'stat', '/hard');
like($text, qr/nlink=2\b/, '7 the hard link is back: two links') or diag $text;
$c = rpc_connect($s);
my $res = $smallfh ? rpc_status($c, 1, xdr_opaque($smallfh)) : -1;
is($res, 0, '8 the handle of /dir/small from before the stop still works (no ESTALE)');
close $c;

my $log = '';
my $pid = fork() // die;
if (!$pid) {
	open STDERR, '>', tmp_path('second.log');
	open STDOUT, '>', '/dev/null';
	exec(build_dir() . '/umlnfsd', '-f', @srv) or exit 127;
}
waitpid($pid, 0);
my $second = $? >> 8;
{ local $/; open my $fh, '<', tmp_path('second.log'); $log = <$fh> // '' }
ok($second == 1 && $log =~ /busy|another server/i, '9 a second server refuses the image in use')
    or diag "exit $second: $log";
stop_server($s);

# Damage one byte of a record after the first checkpoint: the chain breaks
# there, and what follows can't be told from a torn end -- but the records
# the damaged one leaves behind can: umlfsck and the server see a record
# that does not apply, or the checkpoint cut.
open my $fh, '+<:raw', $img or die;
seek $fh, 8192 + 100, 0;
print $fh "\xff\xff\xff\xff";
close $fh;
my $before = md5_of($img);
($frc, $fout) = run_tool($fsck, $img);
is($frc, 1, '10 umlfsck: a damaged checkpoint is an inconsistency (exit 1)') or diag $fout;
$pid = fork() // die;
if (!$pid) {
	open STDERR, '>', tmp_path('third.log');
	open STDOUT, '>', '/dev/null';
	exec(build_dir() . '/umlnfsd', '-f', @srv) or exit 127;
}
waitpid($pid, 0);
my $third = $? >> 8;
{ local $/; open my $fh2, '<', tmp_path('third.log'); $log = <$fh2> // '' }
ok($third == 1 && $log =~ /corrupt/ && md5_of($img) eq $before,
   '11 umlnfsd refuses it, says it is corrupt, and leaves it as it was') or diag "exit $third: $log";

my $junk = tmp_path('junk.img');
open my $j, '>', $junk or die;
print $j "not an image\n" x 1000;
close $j;
my $jsum = md5_of($junk);
$pid = fork() // die;
if (!$pid) {
	open STDERR, '>', tmp_path('junk.log');
	open STDOUT, '>', '/dev/null';
	exec(build_dir() . '/umlnfsd', '-f', '-l', '127.0.0.1:0', '-S', $junk) or exit 127;
}
waitpid($pid, 0);
{ local $/; open my $fh3, '<', tmp_path('junk.log'); $log = <$fh3> // '' }
ok(($? >> 8) == 1 && $log =~ /not a state image/ && md5_of($junk) eq $jsum,
   '12 a file that is not an image is refused and left alone') or diag $log;
