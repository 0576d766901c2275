#!/usr/bin/perl
# Issue 17: `mount -t nfs web1:/ /mnt/web1` with no options, from Linux. The
# kernel's NFS client in the QEMU guest (t/kclient, --no-options) mounts as a
# user would: mount.nfs probes NFSv4 on 2049, falls back to v3 through the
# server's rpcbind, locks go through NLM with the guest's own rpcbind and
# rpc.statd. Each server runs in namespaces of its own (t/kclient/nfs-ns:
# private loopback with 2049 and 111, its own rpcbind, tmpfs /run and
# /var/lib/nfs), QEMU beside it. The same checks run against each server:
# nfs-ganesha 4.3 (NFSv3 only, NLM on) as the reference, then build/umlnfsd
# with -r (registration with rpcbind).
# Per server:
#  1     the mount without options succeeds as NFSv3 over TCP, with locking
#  2     the v4 probe went to 2049 and was refused with PROG_MISMATCH, then
#        the client asked rpcbind (needs tcpdump, else skipped)
#  3     the guest reads the file the server serves
#  4     a write lock is taken; a second process sees it held (F_GETLK, the
#        client's own table)
#  5     through a second mount (nosharecache: another superblock, so the
#        client asks the server) NLM TEST names the holder and a second
#        F_SETLK is refused
#  6     released: the server shows the range free and grants it again
#  7     the NLM calls on the wire: LOCK, TEST, UNLOCK, all answered (tcpdump)
#  8     dmesg shows no NFS, lockd or statd error
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../kclient";
use Cwd ();
use File::Temp qw(tempdir);
use Test::More;
use KClient;

my $top = Cwd::abs_path("$FindBin::Bin/../..");
my $build = $ENV{UML_BUILD} // "$top/build";
$build = "$top/$build" unless $build =~ m{^/};
my $nfsns = "$top/t/kclient/nfs-ns";
my $per = 8;

my $why = KClient::missing();
my @need = grep { !-x $_ } qw(/usr/bin/ganesha.nfsd /usr/sbin/rpcbind /usr/sbin/rpc.statd /usr/bin/unshare);
plan(skip_all => $why) if $why;
plan(skip_all => "not installed: @need (tools/install-deps --test)") if @need;
plan(skip_all => 'needs root (namespaces of its own)') if $> != 0;
plan(tests => 2 * $per);
my $pcap_ok = -x '/usr/bin/tcpdump' || -x '/usr/sbin/tcpdump';

my $w = tempdir(CLEANUP => 1);

# What the guest does once the export is on /mnt. Files: /mnt/hello.
my $body = <<'SH';
step read cat /mnt/hello
# The holder: a write lock on the whole file until /tmp/release exists.
lockprobe -h 60 -u /tmp/release /mnt/hello set >/tmp/holder.out 2>&1 &
n=0
until grep -q locked /tmp/holder.out || [ $n -ge 300 ]; do sleep 0.1; n=$((n + 1)); done
step holder cat /tmp/holder.out
step local_get lockprobe /mnt/hello get
mkdir /mnt2
step mount2 timeout 60 mount.nfs -o nosharecache "$KCLIENT_SOURCE" /mnt2
step server_get lockprobe /mnt2/hello get
step server_set lockprobe /mnt2/hello set
touch /tmp/release
wait
step released cat /tmp/holder.out
step server_free lockprobe /mnt2/hello get
step server_take lockprobe /mnt2/hello set
timeout 15 umount.nfs /mnt2
step dmesg dmesg
SH

# check(NAME, SERVER): the checks against one server. SERVER says how to run
# it in the namespace: cmd (a shell command, t/kclient/nfs-ns --server),
# statd (the namespace needs rpc.statd), ready (RPC programs it registers),
# export (the path the guest mounts), hello (what /mnt/hello holds), skip (a
# reason not to run it).
sub check {
	my ($name, $s) = @_;
	SKIP: {
		skip("$name: $s->{skip}", $per) if $s->{skip};
		my $dir = "$w/$name";
		mkdir $dir;
		my $pcap = $pcap_ok ? "$dir/lo.pcap" : undef;
		my @wrap = ('timeout', '-k', '10', '400', $nfsns, '--dir', $dir, '--server', $s->{cmd},
			'--ready', $s->{ready});
		push @wrap, '--statd' if $s->{statd};
		push @wrap, '--pcap', $pcap if $pcap;
		my $r = KClient::run(no_options => 1, mount_verbose => 1, export => $s->{export},
			script => KClient::STEP_LIB . $body, timeout => 120, mount_timeout => 90,
			wrap => [@wrap, '--']);
		my %st = %{$r->{step}};
		my %m = %{$r->{mount}};
		my $calls = $pcap && -s $pcap ? `$top/t/kclient/rpcsummary $pcap` : '';
		note("$name: $_") for grep { /\S/ } split /\n/, $r->{mount_helper};
		note("$name: kclient-mount: " . join(' ', map { "$_=$m{$_}" } sort keys %m));
		note("$name: RPC calls seen on the loopback:\n$calls") if $calls;
		for my $k (qw(holder local_get server_get server_set released server_free)) {
			note("$name: $k: $_") for split /\n/, $st{$k}{out} // '';
		}

		ok($r->{rc} == 0 && ($m{type} // '') eq 'nfs' && ($m{vers} // '') eq '3'
			&& ($m{proto} // '') eq 'tcp' && ($m{lock} // '') eq 'lock',
			"$name 1 the mount without options is NFSv3 over TCP with locking ($r->{mount_options})")
		    or diag($r->{log});
		SKIP: {
			skip("$name 2: tcpdump not installed", 1) unless $pcap;
			like($calls, qr/>127\.0\.0\.1:2049 nfs v4 NULL -> PROG_MISMATCH 3-3\n(?:.*\n)*?.*:111 rpcbind /,
				"$name 2 the v4 probe went to 2049 (PROG_MISMATCH), then to rpcbind");
		}
		is($st{read}{out}, $s->{hello}, "$name 3 the guest reads the file");
		my ($pid) = ($st{holder}{out} // '') =~ /^lockprobe: locked type=write/m ? (1) : ();
		ok($pid && ($st{local_get}{out} // '') =~ /^lockprobe: held type=write pid=\d+/m,
			"$name 4 a write lock taken; a second process sees it held")
		    or diag("holder: " . ($st{holder}{out} // '') . "get: " . ($st{local_get}{out} // ''));
		ok(($st{mount2}{rc} // 1) == 0
			&& ($st{server_get}{out} // '') =~ /^lockprobe: held type=write pid=-?\d+/m
			&& ($st{server_set}{out} // '') =~ /^lockprobe: busy/m,
			"$name 5 the server names the holder (NLM TEST) and refuses a second lock")
		    or diag(join '', map { "$_: " . ($st{$_}{out} // "(none)\n") } qw(mount2 server_get server_set));
		ok(($st{released}{out} // '') =~ /^lockprobe: unlocked/m
			&& ($st{server_free}{out} // '') =~ /^lockprobe: free$/m
			&& ($st{server_take}{out} // '') =~ /^lockprobe: locked.*\n.*unlocked/m,
			"$name 6 released: free on the server and granted again")
		    or diag(join '', map { "$_: " . ($st{$_}{out} // "(none)\n") } qw(released server_free server_take));
		SKIP: {
			skip("$name 7: tcpdump not installed", 1) unless $pcap;
			my @want = ('LOCK -> SUCCESS GRANTED', 'TEST -> SUCCESS DENIED', 'UNLOCK -> SUCCESS GRANTED');
			my @miss = grep { $calls !~ /nlm v4 \Q$_\E/ } @want;
			ok(!@miss && $calls !~ /nlm .*\(no reply\)/, "$name 7 NLM v4 LOCK, TEST and UNLOCK answered")
			    or diag("missing: @miss");
		}
		my @bad = grep { /nfs|lockd|statd|rpc|nlm/i && /error|fail|refus|not responding|timed out|cannot|unable|denied/i }
			split /\n/, $st{dmesg}{out} // '';
		ok(defined $st{dmesg} && !@bad, "$name 8 dmesg shows no NFS, lockd or statd error")
		    or diag(join "\n", @bad);
	}
}

# The reference: nfs-ganesha, NFSv3 only, NLM on, FSAL_VFS on a directory here.
{
	my $g = "$w/ganesha-files";
	mkdir $g;
	mkdir "$g/export";
	mkdir "$g/state";
	mkdir "$g/state/recovery";
	open(my $f, '>', "$g/export/hello") or die;
	print $f "hello from ganesha\n";
	close $f;
	chmod 0666, "$g/export/hello";
	open(my $in, '<', "$top/t/kclient/ganesha.conf.in") or die;
	my $conf = do { local $/; <$in> };
	$conf =~ s/\@EXPORT_DIR\@/$g\/export/g;
	$conf =~ s/\@STATE_DIR\@/$g\/state/g;
	open(my $out, '>', "$g/ganesha.conf") or die;
	print $out $conf;
	close $out;
	check('ganesha', {
		cmd => "exec ganesha.nfsd -F -f $g/ganesha.conf -L \$NFSNS_DIR/ganesha.log -p /run/ganesha.pid -N NIV_EVENT",
		statd => 1, ready => '100003 100005 100021', export => "$g/export",
		hello => "hello from ganesha\n",
	});
}

# Ours: umlnfsd registering NFS, MOUNT and NLM with the namespace's rpcbind.
{
	my $u = "$build/umlnfsd";
	-x $u or BAIL_OUT("$u not built (make)");
	check('umlnfsd', {
		cmd => "exec $u -f -r -l 127.0.0.1:2049 -e /:rw:127.0.0.1 -p '/hello=hello from umlnfsd'",
		statd => 0, ready => '100003 100005 100021', export => '/',
		hello => "hello from umlnfsd\n",
	});
}
