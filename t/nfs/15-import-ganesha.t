#!/usr/bin/perl
# umlnfsd -I with nfs-ganesha as the center: the kernel's NFS client against
# the reference userspace NFS server (FSAL_VFS), as an operator would run it.
# ganesha will not start without rpcbind, so the test runs in network and
# mount namespaces of its own (unshare -n -m), with a private rpcbind and
# /run, and the importer beside them.
#  1     a file written to ganesha is copied to the importer's /import
#  2-3   a change and a removal follow
#  4     a file in a subdirectory, from ganesha's READDIRPLUS, follows
#  5     ganesha killed: the importer serves the last copy
#  6     ganesha back: a change follows
#  7     no worker died, no sanitizer spoke
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Cwd ();
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time sleep);

my @need = grep { !-x $_ } qw(/usr/bin/ganesha.nfsd /usr/sbin/rpcbind /usr/bin/unshare);
if (@need) {
	plan(skip_all => "not installed: @need (tools/install-deps --test)");
} elsif ($> != 0) {
	plan(skip_all => 'needs root for its namespaces');
} elsif (!$ENV{UMLCONF_IN_NS}) {
	# Again, in namespaces of our own; TAP goes out as it is.
	$ENV{UMLCONF_IN_NS} = 1;
	exec('unshare', '-n', '-m', '--', $^X, $0, @ARGV) or die "unshare: $!";
}

require NfsTest;
NfsTest->import;
NfsTest::plan_nfs(7);

my $top = Cwd::getcwd();
my $w = tempdir(CLEANUP => 1);
system('ip', 'link', 'set', 'lo', 'up') == 0 or BAIL_OUT('ip link set lo up');
system('mount', '-t', 'tmpfs', '-o', 'size=16m,mode=755', 'tmpfs', '/run') == 0
    or BAIL_OUT('tmpfs on /run');
mkdir '/run/ganesha';
mkdir "$w/export";
mkdir "$w/state";
mkdir "$w/state/recovery";

my %pids;
END { my $st = $?; kill 'KILL', keys %pids; waitpid($_, 0) for keys %pids; $? = $st }

sub spawn {
	my ($log, @cmd) = @_;
	my $pid = fork() // die;
	if ($pid == 0) {
		open(STDOUT, '>>', $log) or die;
		open(STDERR, '>&', \*STDOUT) or die;
		exec(@cmd) or exit 127;
	}
	$pids{$pid} = 1;
	return $pid;
}

sub wait_for {
	my ($cond, $secs) = @_;
	my $t0 = time;
	while (time - $t0 < $secs) {
		return 1 if $cond->();
		sleep 0.05;
	}
	return 0;
}

spawn("$w/rpcbind.log", 'rpcbind', '-f', '-w');
wait_for(sub { -S '/run/rpcbind.sock' }, 5) or BAIL_OUT('rpcbind did not start');

open(my $in, '<', "$top/bench/nfs/ganesha.conf.in") or die;
my $conf = do { local $/; <$in> };
$conf =~ s/\@PORT\@/2049/g;
$conf =~ s/\@MNTPORT\@/20048/g;
$conf =~ s/\@EXPORT_DIR\@/$w\/export/g;
$conf =~ s/\@STATE_DIR\@/$w\/state/g;
open(my $out, '>', "$w/ganesha.conf") or die;
print $out $conf;
close $out;

sub ganesha_up {
	open(my $l, '>', "$w/ganesha.log");
	close $l;
	my $pid = spawn("$w/ganesha.out", 'ganesha.nfsd', '-F', '-f', "$w/ganesha.conf", '-L',
		"$w/ganesha.log", '-p', '/run/ganesha/ganesha.pid', '-N', 'NIV_EVENT');
	my $ok = wait_for(sub {
		open(my $fh, '<', "$w/ganesha.log") or return 0;
		local $/;
		return (<$fh> // '') =~ /NFS SERVER INITIALIZED/;
	}, 30);
	BAIL_OUT("ganesha did not start: see $w/ganesha.log") unless $ok;
	return $pid;
}
my $g = ganesha_up();
my $gurl = "nfs://127.0.0.1$w/export?nfsport=2049&mountport=20048";
wait_for(sub { (run_tool('nfs-ls', $gurl))[0] == 0 }, 20) or BAIL_OUT('ganesha does not answer');

# A write to ganesha through NFS, as a monitor would make it (t/nfs/nfsc.c).
sub center {
	my $bin = build_dir() . '/t/nfsc';
	nfsc({port => 2049}, '/', 'stat', '/') unless -x $bin;	# builds it
	my ($st, $o) = run_tool($bin, $gurl, @_);
	diag "center @_[0, 1]: $o" if $st;
	return !$st;
}

my $imp = start_server('-l', '127.0.0.1:0', '-w', '2', '-I',
	"/import=nfs://127.0.0.1:2049$w/export?mountport=20048 interval=200");

sub cat_imp {
	my ($st, $o) = run_tool('nfs-cat', nfs_url($imp, "/import/$_[0]"));
	return $st ? undef : $o;
}
sub until_imp {
	my ($path, $want, $secs) = @_;
	return wait_for(sub {
		my $got = cat_imp($path);
		defined $want ? defined $got && $got eq $want : !defined $got;
	}, $secs // 10);
}

center('mkdir', '/config');
center('write', '/config/MaxRequestWorkers', "150\n");
ok(until_imp('config/MaxRequestWorkers', "150\n"), '1 a file written to ganesha is copied');
center('write', '/config/MaxRequestWorkers', "120\n");
ok(until_imp('config/MaxRequestWorkers', "120\n"), '2 a change follows');
center('write', '/config/Gone', "x\n");
until_imp('config/Gone', "x\n");
center('rm', '/config/Gone');
ok(until_imp('config/Gone', undef), '3 a removal follows');
center('mkdir', '/hosts');
center('mkdir', '/hosts/web1');
center('write', '/hosts/web1/ListenBacklog', "64\n");
ok(until_imp('hosts/web1/ListenBacklog', "64\n"), '4 a file in a subdirectory follows');

kill 'TERM', $g;
waitpid($g, 0);
delete $pids{$g};
sleep 1;
is(cat_imp('config/MaxRequestWorkers'), "120\n", '5 ganesha gone, the importer serves the last copy');

$g = ganesha_up();
wait_for(sub { center('write', '/config/MaxRequestWorkers', "99\n") }, 20);
ok(until_imp('config/MaxRequestWorkers', "99\n", 20), '6 ganesha back: a change follows');

my $log = stop_server($imp);
ok(log_clean($log), '7 no worker died, no sanitizer spoke') or diag $log;
