# 88: issue 17, the NFS programs in the host's rpcbind, so that a client
# that knows only the host finds them (`mount -t nfs host:/ /mnt`, libnfs
# with no ports, showmount, rpcinfo).
#
# In network and mount namespaces of its own (a private loopback, /run on
# tmpfs) with its own rpcbind, so that the host's rpcbind, if one runs, is
# never touched; a private httpd (HTTP 8588, NFS 12588) with the suite's
# MPM registers there.
#  1-5   start: rpcinfo -p lists nfs 3, mountd 1 and 3, nlockmgr 4 and
#        status 1 on our port;
#        rpcinfo -t answers for each; NFS v4 is refused at once with
#        PROG_MISMATCH 3..3; showmount -e lists the export; nfs-ls with no
#        ports finds us through rpcbind
#  6-7   a graceful restart keeps them; after rpcbind restarts empty, the
#        next graceful restart puts them back
#  8-9   apachectl stop withdraws them (10050); start puts them back
#  10-12 another live server holds them: left to it (10049), and still its
#        after our stop; register=force takes them, all but NSM's (status),
#        which the host's own rpc.statd needs more than we do
#  13    a server killed with SIGKILL left its entries: taken over (auto)
#  14    no rpcbind: a notice says so (10048), httpd serves on
#  15    register=bogus is refused at configuration time
use strict;
use warnings FATAL => 'all';

my $in_ns;
BEGIN { require UmlConf::Test; $in_ns = UmlConf::Test::own_namespaces() }

use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use Time::HiRes qw(time sleep);

my @need = grep { !-x $_ } qw(/usr/sbin/rpcbind /usr/sbin/rpcinfo /usr/sbin/showmount);
plan skip_all => "not installed: @need (tools/install-deps --test)" if @need;
plan skip_all => 'needs root and unshare for its namespaces' unless $in_ns;
plan tests => 15;

my $top = UmlConf::Test::top_dir();
my $umlnfsd = "$top/build/umlnfsd";
my $nfs_port = 12588;
my (%pids, $rpcbind);
END { my $st = $?; kill 'KILL', keys %pids; waitpid($_, 0) for keys %pids; $? = $st }

sub spawn {
	my ($log, @cmd) = @_;
	my $pid = fork() // die;
	if ($pid == 0) {
		open(STDOUT, '>>', $log) or die;
		open(STDERR, '>&', \*STDOUT) or die;
		exec(@cmd) or POSIX::_exit(127);
	}
	$pids{$pid} = 1;
	return $pid;
}

sub reap {
	my ($pid, $sig) = @_;
	kill $sig, $pid;
	waitpid($pid, 0);
	delete $pids{$pid};
}

sub rpcbind_start {
	$rpcbind = private_rpcbind();
	$pids{$rpcbind} = 1;
}

# rpcinfo -p as { "prog vers proto" => port }.
sub table {
	my ($rc, $out) = UmlConf::Test::Httpd::run_timed(5, undef, 'rpcinfo', '-p', '127.0.0.1');
	my %t;
	for (split /\n/, $out) {
		$t{"$1 $2 $3"} = $4 if /^\s*(\d+)\s+(\d+)\s+(\w+)\s+(\d+)/;
	}
	return \%t;
}

# The entries we register, and the port each is at (undef: absent).
my @ours = ('100003 3 tcp', '100005 1 tcp', '100005 3 tcp', '100021 4 tcp', '100024 1 tcp');
sub ours_at {
	my ($t, @which) = @_;
	@which = @ours unless @which;
	my %at = map { $t->{$_} // 'none' => 1 } @which;
	return keys %at == 1 ? (keys %at)[0] : join(',', map { "$_=" . ($t->{$_} // 'none') } @which);
}

sub graceful {
	my ($h) = @_;
	my $off = $h->log_size;
	kill 'USR1', $h->pid;
	return wait_until(sub { $h->log_since($off) =~ /AH00489|resuming normal operations/ }, 15);
}

rpcbind_start();
my $h = private_httpd(name => '88_rpcbind', http_port => 8588, nfs_port => $nfs_port);
ok $h->start, 'private httpd up on 8588, NFS 12588, with rpcbind running'
    or diag $h->log_since(0) . ($h->{start_err} // '');

my $t = table();
is ours_at($t), $nfs_port,
    'rpcinfo -p lists nfs 3, mountd 1 and 3, nlockmgr 4 and status 1 over tcp at our port'
    or diag explain $t;
my @ready = map {
	my ($rc, $out) = UmlConf::Test::Httpd::run_timed(5, undef, 'rpcinfo', '-t', '127.0.0.1', @$_);
	$out =~ /ready and waiting/ ? () : ("@$_: $out");
} ['nfs', 3], ['mountd', 1], ['mountd', 3], ['nlockmgr', 4], ['status', 1];
ok !@ready, 'rpcinfo -t answers for nfs 3, mountd 1 and 3, nlockmgr 4, status 1' or diag @ready;

my ($rc, $out, $err) = UmlConf::Test::Httpd::run_timed(5, undef, 'rpcinfo', '-t', '127.0.0.1', 'nfs', '4');
like $out . $err, qr/low version = 3, high version = 3/,
    'NFS v4 is refused at once: PROG_MISMATCH, versions 3 to 3';

($rc, $out) = UmlConf::Test::Httpd::run_timed(5, undef, 'showmount', '-e', '127.0.0.1');
my ($lrc, $ls) = UmlConf::Test::Httpd::run_timed(10, undef, 'nfs-ls', 'nfs://127.0.0.1/config');
ok $out =~ m{^/\s+127\.0\.0\.0/8$}m && $lrc == 0 && $ls =~ /MaxRequestWorkers/,
    'showmount -e lists the export, and nfs-ls with no ports lists /config through rpcbind'
    or diag "showmount: $out\nnfs-ls ($lrc): $ls";

ok graceful($h) && ours_at(table()) eq $nfs_port, 'a graceful restart keeps the entries';

reap($rpcbind, 'TERM');
rpcbind_start();
my $empty = ours_at(table());
ok $empty eq 'none' && graceful($h) && ours_at(table()) eq $nfs_port,
    "rpcbind restarted empty ($empty); the next graceful restart registers again";

my $off = $h->log_size;
my $stop = $h->stop('TERM', 12);
$t = table();
ok defined $stop->{exited} && ours_at($t) eq 'none' && $h->log_since($off) =~ /umlconf\(10050\).*withdrawn/,
    'apachectl stop withdraws the entries, and says so (10050)'
    or diag explain($t), $h->log_since($off);

ok $h->start(keep => 1) && ours_at(table()) eq $nfs_port, 'start registers them again';
$h->stop('TERM', 12);

# Another live server first: ours are left to it, and it keeps them after we stop.
my $other = spawn("$h->{root}/umlnfsd.log", $umlnfsd, '-f', '-l', '127.0.0.1:12589', '-r', '-w', '1');
wait_until(sub { ours_at(table()) eq '12589' }, 10) or diag 'umlnfsd did not register';
$off = $h->log_size;
$h->start(keep => 1);
ok ours_at(table()) eq '12589' && $h->log_since($off) =~ /umlconf\(10049\).*left to the live server/,
    'a live server holds the entries: they are left to it, with a warning (10049)'
    or diag $h->log_since($off);
$h->stop('TERM', 12);
ok ours_at(table()) eq '12589', 'our stop leaves the other server\'s entries alone';

$h->{extra} = "UmlConfNFS 127.0.0.1:$nfs_port register=force\n";
$off = $h->log_size;
$h->start(keep => 1);
$t = table();
ok ours_at($t, grep { !/^100024 / } @ours) eq $nfs_port && $t->{'100024 1 tcp'} == 12589
    && $h->log_since($off) =~ /umlconf\(10047\).*taken over as told.*left to the host's own server: status/,
    'register=force takes them from the live server, all but NSM (status), which a live holder keeps'
    or diag explain($t), $h->log_since($off);
$h->stop('TERM', 12);
reap($other, 'TERM');

# A server killed with SIGKILL never withdraws: its entries point at nothing.
$other = spawn("$h->{root}/umlnfsd.log", $umlnfsd, '-f', '-l', '127.0.0.1:12589', '-r', '-w', '1');
wait_until(sub { ours_at(table()) eq '12589' }, 10) or diag 'umlnfsd did not register';
reap($other, 'KILL');
$h->{extra} = '';
$off = $h->log_size;
$h->start(keep => 1);
ok ours_at(table()) eq $nfs_port
    && $h->log_since($off) =~ /umlconf\(10047\).*taken over from a server that no longer answers/,
    'entries of a server killed with SIGKILL are taken over'
    or diag $h->log_since($off);

reap($rpcbind, 'TERM');
$off = $h->log_size;
ok graceful($h) && $h->log_since($off) =~ /umlconf\(10048\).*no rpcbind runs here/
    && defined $h->cat('/config/MaxRequestWorkers'),
    'without rpcbind a notice says so (10048) and NFS is served on its port'
    or diag $h->log_since($off);
$h->stop('TERM', 12);

my $conf = "$h->{root}/bogus.conf";
open my $c, '>', $conf or die;
print $c $h->conf_text, "UmlConfNFS 127.0.0.1:$nfs_port register=bogus\n";
close $c;
my $httpd = eval { Apache::Test::vars('httpd') } || '/usr/sbin/apache2';
($rc, $out, $err) = UmlConf::Test::Httpd::run_timed(30, undef, $httpd, '-t', '-f', $conf);
ok $rc != 0 && "$out$err" =~ /register=auto\|force\|off/,
    'register=bogus is refused with what it may be' or diag "$out$err";
$h->end;
