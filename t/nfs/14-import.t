#!/usr/bin/perl
# umlnfsd -I: an export of another server (the center) copied into the
# machine's tree by the kernel's own NFS client, as a libuml program without
# httpd sees it; the center is a second umlnfsd.
#  1     a file written at the center shows at the importer's /import
#  2-3   a change, and a file in a new directory, follow; a removal too
#  4-5   NFS clients of the importer can't change the copy (write, mkdir)
#  6-8   the bounds: a file over maxfile, a directory past depth and names
#        past maxentries (of a pass: the last test, as it spends them) are left
#        out; the files within them are there
#  9     the center killed: the importer serves the last copy
# 10     the center back on its port (same image and key): a change follows
# 11-13  libuml's one-file calls (examples/nfscp): uml_nfs_put makes a file
#        at the center (the importer copies it) and replaces it whole,
#        uml_nfs_get reads it back and says when a file is missing
# 14     each of the importer's workers SIGKILLed in turn (one of them holds
#        the lease and polls): the survivor or the restarted one takes it
#        over, and a change follows
# 15     no sanitizer spoke, no other worker died
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use NfsTest;

plan_nfs(15);

my $img = tmp_path('center.img');
my @center = ('-e', '/:rw:127.0.0.1', '-k', tmp_path('center.key'), '-S', "$img:4M", '-w', '1');
my $c = start_server('-l', '127.0.0.1:0', @center);
my $url = "nfs://127.0.0.1:$c->{port}/";
my $imp = start_server('-l', '127.0.0.1:0', '-w', '2',
	'-I', "/import=$url interval=100,maxfile=4096,maxentries=64,depth=3");

sub cat_imp {
	my ($path) = @_;
	my ($st, $out) = run_tool('nfs-cat', nfs_url($imp, "/import/$path"));
	return $st ? undef : $out;
}

# Poll the importer until @path reads @want (undef: until it is gone); seconds taken or undef.
sub until_imp {
	my ($path, $want, $secs) = @_;
	my $t0 = time;
	while (time - $t0 < ($secs // 8)) {
		my $got = cat_imp($path);
		return time - $t0 if (defined $want ? defined $got && $got eq $want : !defined $got);
		sleep 0.1;
	}
	return undef;
}

my @r = (nfsc($c, '/', 'mkdir', '/config'), nfsc($c, '/', 'write', '/config/Foo', "hello\n"));
my $t = until_imp('config/Foo', "hello\n");
ok(!$r[0] && !$r[2] && defined $t, '1 a file written at the center is at the importer')
    or diag "@r";
diag sprintf('copied %.2f s after the write', $t) if defined $t;

nfsc($c, '/', 'write', '/config/Foo', "world\n");
nfsc($c, '/', 'mkdir', '/hosts');
nfsc($c, '/', 'mkdir', '/hosts/web1');
nfsc($c, '/', 'write', '/hosts/web1/Bar', "42\n");
ok(defined until_imp('config/Foo', "world\n") && defined until_imp('hosts/web1/Bar', "42\n"),
	'2 a change and a file in a new directory follow');
nfsc($c, '/', 'rm', '/hosts/web1/Bar');
ok(defined until_imp('hosts/web1/Bar', undef), '3 a removal follows');

my ($st) = nfsc($imp, '/', 'write', '/import/config/Foo', "mine\n");
ok($st && cat_imp('config/Foo') eq "world\n", "4 the importer's clients can't write the copy");
($st) = nfsc($imp, '/', 'mkdir', '/import/new');
ok($st, "5 nor make names in it");

nfsc($c, '/', 'write', '/config/Big', 'x' x 10000);
nfsc($c, '/', 'write', '/config/Small', "ok\n");
ok(defined until_imp('config/Small', "ok\n") && !defined cat_imp('config/Big'),
	'6 a file over maxfile is left out, the one beside it is there');
nfsc($c, '/', 'mkdir', $_) for qw(/d1 /d1/d2 /d1/d2/d3 /d1/d2/d3/d4);
nfsc($c, '/', 'write', '/d1/d2/in', "in\n");
nfsc($c, '/', 'write', '/d1/d2/d3/d4/out', "out\n");
ok(defined until_imp('d1/d2/in', "in\n") && !defined cat_imp('d1/d2/d3/d4/out'),
	'7 a directory past depth is left out, one within it is there');

nfsc($c, '/', 'mkdir', '/many');
nfsc($c, '/', 'write', "/many/f$_", "$_\n") for 1 .. 80;
sleep 1;
my ($lst, $ls) = nfsc($imp, '/', 'ls', '/import/many');
my $n = () = $ls =~ /^f\d+$/mg;
ok($n > 0 && $n <= 64 && cat_imp('config/Foo') eq "world\n",
	"8 names past maxentries are left out ($n of 80 copied), and what the pass did not reach stays")
    or diag $ls;
# Gone again, so that the copy may hold new names: the seen names of a pass
# that hit maxentries stay, and they fill the importer's table.
nfsc($c, '/', 'rm', "/many/f$_") for 1 .. 80;
nfsc($c, '/', 'rmdir', '/many');

my $port = $c->{port};
stop_server($c);
sleep 0.5;
ok(defined cat_imp('config/Foo') && cat_imp('config/Foo') eq "world\n",
	'9 the center gone, the importer serves the last copy');

$c = start_server('-l', "127.0.0.1:$port", @center);
nfsc($c, '/', 'write', '/config/Foo', "again\n");
$t = until_imp('config/Foo', "again\n", 15);
ok(defined $t, '10 the center back on its port: a change follows');
diag sprintf('%.2f s after the write', $t) if defined $t;

# libuml's one-file calls (uml_nfs_put, uml_nfs_get) through examples/nfscp.
my $nfscp = build_dir() . '/examples/nfscp';
my $curl = "nfs://127.0.0.1:$c->{port}/";
# (status, output) of nfscp @op on @path, with @in on its standard input for a put.
sub nfscp {
	my ($op, $path, $in) = @_;
	my $file = tmp_path('nfscp.in');
	open(my $fh, '>', $file) or die;
	print $fh $in // '';
	close $fh;
	return run_tool('sh', '-c', 'exec "$0" "$1" "$2" "$3" < "$4"', $nfscp, $op, $curl, $path,
		$file);
}
my ($pst) = nfscp('put', 'config/FromLib', "made by libuml, long at first\n");
my ($gst, $got) = run_tool('nfs-cat', nfs_url($c, '/config/FromLib'));
ok(!$pst && !$gst && $got eq "made by libuml, long at first\n"
	&& defined until_imp('config/FromLib', "made by libuml, long at first\n"),
	'11 uml_nfs_put makes a file at the center, which the importer copies')
    or diag "put $pst, center read $gst: [$got], copy: [" . (cat_imp('config/FromLib') // 'none') . ']';
($pst) = nfscp('put', 'config/FromLib', "short\n");
my ($gst2, $got2) = nfscp('get', 'config/FromLib');
ok(!$pst && !$gst2 && $got2 eq "short\n", '12 it replaces it whole; uml_nfs_get reads it back')
    or diag $got2;
my ($mst, $mout) = nfscp('get', 'config/Nope');
ok($mst == 1 && $mout =~ /No such file/, '13 uml_nfs_get of a missing file says so') or diag $mout;

# Each worker of the importer killed in turn (one of them polls): the lease moves on.
my @w = split ' ', `pgrep -P $imp->{pid}`;
my $followed = 0;
for my $i (0 .. $#w) {
	kill 'KILL', $w[$i];
	nfsc($c, '/', 'write', '/config/Foo', "kill$i\n");
	$followed++ if defined until_imp('config/Foo', "kill$i\n", 15);
}
ok(@w == 2 && $followed == 2, "14 each worker SIGKILLed in turn: changes still follow ($followed of "
	. scalar(@w) . ')');

stop_server($c);
my $log = stop_server($imp);
my $died = () = $log =~ /umlnfsd: worker \d+ exited/g;
ok($died == 2 && $log !~ /Sanitizer|runtime error/,
	"15 no sanitizer spoke, no other worker died ($died deaths, the two killed)") or diag $log;
