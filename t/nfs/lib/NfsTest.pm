# Helpers for the t/nfs tests: start build/umlnfsd on a free port, run the
# libnfs tools and t/nfs/nfsc against it, and speak raw ONC RPC for what no
# client tool exposes (handles, garbage, source addresses).
package NfsTest;
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our @EXPORT = qw(plan_nfs start_server stop_server log_clean nfs_url run_tool nfsc nlmc rpc_connect rpc_call
		 rpc_udp_call rpc_mnt rpc_lookup rpc_lookup_fh rpc_status xdr_opaque xdr_str
		 build_dir tmp_path);

my $BUILD = $ENV{UML_BUILD} // 'build';
my $TMP = tempdir(CLEANUP => 1);

sub build_dir { $BUILD }

# A path in the test's private temporary directory.
sub tmp_path { "$TMP/$_[0]" }

# Servers still running when the test ends (it died, or its output pipe
# closed) are stopped, so no umlnfsd outlives its test.
my %running;
END {
	my $status = $?;
	stop_server({pid => $_}) for keys %running;
	$? = $status;
}
$SIG{$_} = sub { exit 1 } for qw(PIPE INT TERM HUP);

# Plan @n tests, or skip them all when the libnfs client tools or headers
# (Debian: libnfs-utils, libnfs-dev) are missing.
sub plan_nfs {
	my ($n) = @_;
	my @path = split /:/, $ENV{PATH} // '/usr/bin';
	my $tools = !grep { my $t = $_; !grep { -x "$_/$t" } @path } qw(nfs-ls nfs-cat nfs-cp);
	Test::More::plan(skip_all => 'libnfs-utils (nfs-ls, nfs-cat, nfs-cp) not installed') unless $tools;
	Test::More::plan(skip_all => 'libnfs-dev not installed') unless -f '/usr/include/nfsc/libnfs.h';
	Test::More::plan(tests => $n);
}

# Start umlnfsd with @args; returns {pid, port, log}. Dies when it is not
# ready within 10 s.
sub start_server {
	my (@args) = @_;
	my $log = "$TMP/umlnfsd.$$." . int(rand(1e9)) . ".log";
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		open(STDERR, '>', $log) or die;
		open(STDOUT, '>', '/dev/null') or die;
		exec("$BUILD/umlnfsd", '-f', @args) or die "exec: $!";
	}
	my $deadline = time + 10;
	while (time < $deadline) {
		if (open(my $fh, '<', $log)) {
			local $/;
			my $text = <$fh> // '';
			if ($text =~ /umlnfsd: ready on (\S+):(\d+)/) {
				$running{$pid} = 1;
				return {pid => $pid, host => $1, port => $2, log => $log};
			}
		}
		die "umlnfsd exited early" if waitpid($pid, WNOHANG) == $pid;
		sleep 0.05;
	}
	kill 'KILL', $pid;
	die "umlnfsd not ready";
}

# Stop with SIGTERM; returns the log text (with the final counters).
sub stop_server {
	my ($s) = @_;
	delete $running{$s->{pid}};
	kill 'TERM', $s->{pid};
	my $deadline = time + 10;
	while (waitpid($s->{pid}, WNOHANG) == 0) {
		if (time > $deadline) {
			kill 'KILL', $s->{pid};
			waitpid($s->{pid}, 0);
			last;
		}
		sleep 0.05;
	}
	open(my $fh, '<', $s->{log} // '') or return '';
	local $/;
	return <$fh>;
}

# True when no worker died and no sanitizer spoke (make check-asan).
sub log_clean {
	my ($log) = @_;
	return $log !~ /worker \d+ exited|Sanitizer|runtime error/;
}

sub nfs_url {
	my ($s, $path) = @_;
	return "nfs://127.0.0.1$path?nfsport=$s->{port}&mountport=$s->{port}";
}

# Run a command with a time limit; returns (exit status, stdout+stderr).
sub run_tool {
	my (@cmd) = @_;
	my $out = "$TMP/out.$$";
	my $pid = fork() // die;
	if ($pid == 0) {
		open(STDOUT, '>', $out) or die;
		open(STDERR, '>&', \*STDOUT) or die;
		exec(@cmd) or exit 127;
	}
	my $deadline = time + 30;
	while (waitpid($pid, WNOHANG) == 0) {
		if (time > $deadline) {
			kill 'KILL', $pid;
			waitpid($pid, 0);
			return (-1, "timeout: @cmd");
		}
		sleep 0.01;
	}
	my $status = $? >> 8;
	open(my $fh, '<', $out) or return ($status, '');
	local $/;
	return ($status, <$fh> // '');
}

# The small libnfs client (t/nfs/nfsc.c), built on first use.
sub nfsc {
	my ($s, $export, @args) = @_;
	my $bin = "$BUILD/t/nfsc";
	if (!-x $bin || -M $bin > -M 't/nfs/nfsc.c') {
		mkdir "$BUILD/t";
		system('cc', '-O1', '-Wall', '-o', $bin, 't/nfs/nfsc.c', '-lnfs') == 0
		    or die "cannot build nfsc (libnfs-dev installed?)";
	}
	return run_tool($bin, nfs_url($s, $export), @args);
}

# The NLM client on libnfs's raw API (t/nfs/nlmc.c), built on first use;
# @args are its options and arguments after the port.
sub nlmc {
	my ($s, @args) = @_;
	my $bin = "$BUILD/t/nlmc";
	if (!-x $bin || -M $bin > -M 't/nfs/nlmc.c') {
		mkdir "$BUILD/t";
		system('cc', '-O1', '-Wall', '-o', $bin, 't/nfs/nlmc.c', '-lnfs') == 0
		    or die "cannot build nlmc (libnfs-dev installed?)";
	}
	my @opt;
	push @opt, splice(@args, 0, 2) while @args && $args[0] =~ /^-[bcsoF]$/;
	my ($rc, $out) = run_tool($bin, @opt, $s->{port}, @args);
	chomp $out;
	return ($rc, $out);
}

# --- raw ONC RPC ---

sub xdr_opaque {
	my ($data) = @_;
	my $pad = (4 - length($data) % 4) % 4;
	return pack('N', length $data) . $data . ("\0" x $pad);
}
*xdr_str = \&xdr_opaque;

my $xid = int(rand(1 << 30));

# An RPC call message with AUTH_SYS uid 0.
sub rpc_msg {
	my ($prog, $vers, $proc, $args) = @_;
	my $cred = pack('N', 0) . xdr_opaque('t') . pack('NNN', 0, 0, 0);
	return (++$xid, pack('NNNNNN', $xid, 0, 2, $prog, $vers, $proc) . pack('N', 1) .
		xdr_opaque($cred) . pack('NN', 0, 0) . $args);
}

sub rpc_connect {
	my ($s, %opt) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{port},
					 Proto => 'tcp', Timeout => 5, %opt);
	die "connect: $!" unless $sock;
	return $sock;
}

sub read_exact {
	my ($sock, $n) = @_;
	my $buf = '';
	while (length $buf < $n) {
		my $r = sysread($sock, $buf, $n - length $buf, length $buf);
		return undef unless $r;
	}
	return $buf;
}

# Parse a reply: returns (accept_stat, results) or (undef) when denied or
# not for us.
sub parse_reply {
	my ($want_xid, $rep) = @_;
	return () unless defined $rep && length $rep >= 24;
	my ($rxid, $mtype, $rstat, $vflav, $vlen) = unpack('NNNNN', $rep);
	return () unless $rxid == $want_xid && $mtype == 1 && $rstat == 0;
	my $off = 20 + $vlen + (4 - $vlen % 4) % 4;
	my $astat = unpack('N', substr($rep, $off, 4));
	return ($astat, substr($rep, $off + 4));
}

# One call over TCP (one-fragment record); returns (accept_stat, results).
sub rpc_call {
	my ($sock, $prog, $vers, $proc, $args) = @_;
	my ($id, $msg) = rpc_msg($prog, $vers, $proc, $args // '');
	syswrite($sock, pack('N', 0x80000000 | length $msg) . $msg) or return ();
	my $rep = '';
	while (1) {
		my $hdr = read_exact($sock, 4) // return ();
		my $mark = unpack('N', $hdr);
		$rep .= read_exact($sock, $mark & 0x7fffffff) // return ();
		last if $mark & 0x80000000;
	}
	return parse_reply($id, $rep);
}

sub rpc_udp_call {
	my ($s, $prog, $vers, $proc, $args) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{port},
					 Proto => 'udp') or die "udp: $!";
	my ($id, $msg) = rpc_msg($prog, $vers, $proc, $args // '');
	for my $try (1 .. 3) {
		$sock->send($msg);
		my $rin = '';
		vec($rin, fileno($sock), 1) = 1;
		next unless select(my $rout = $rin, undef, undef, 2);
		my $rep;
		$sock->recv($rep, 65536);
		return parse_reply($id, $rep);
	}
	return ();
}

# --- NFS v3 calls over a connection of rpc_connect ---

# MNT v3 of @path: the root handle, or undef.
sub rpc_mnt {
	my ($sock, $path) = @_;
	my (undef, $res) = rpc_call($sock, 100005, 3, 1, xdr_str($path));
	my ($st, $len) = unpack('NN', $res // '');
	return ($st // -1) == 0 ? substr($res, 8, $len) : undef;
}

# LOOKUP of @name in @dir: (nfsstat3 or -1, the handle or undef).
sub rpc_lookup {
	my ($sock, $dir, $name) = @_;
	my (undef, $res) = rpc_call($sock, 100003, 3, 3, xdr_opaque($dir) . xdr_str($name));
	my ($st, $len) = unpack('NN', $res // '');
	$st //= -1;
	return ($st, $st == 0 ? substr($res, 8, $len) : undef);
}

sub rpc_lookup_fh { (rpc_lookup(@_))[1] }

# The nfsstat3 of NFS v3 procedure @proc with @args (-1: no answer).
sub rpc_status {
	my ($sock, $proc, $args) = @_;
	my (undef, $res) = rpc_call($sock, 100003, 3, $proc, $args);
	return unpack('N', $res // '') // -1;
}

1;
