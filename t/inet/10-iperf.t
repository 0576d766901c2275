#!/usr/bin/perl
# iperf 2 (Debian's iperf) as an interoperability peer of the machine's TCP:
# a program nobody here wrote, speaking Linux's own TCP, counting bytes
# itself. In a network namespace this test makes and removes (i10-PID),
# t/inet-drive is a machine on the TAP i10tPID at 10.220.0.2/24 and
# fd00:220::2/64 with its discard service on 7009; the namespace's side is
# 10.220.0.1 and fd00:220::1, where `iperf -s -V -y C` listens on 5001 (::,
# both families). Needs root, /dev/net/tun, ip, python3 and iperf.
#  1     the machine comes up on the TAP; iperf's server listens
#  2     the calibration: Linux's own client (python3) sends 8 MiB of zeros
#        to iperf's server, which reports it in CSV: how many of the bytes
#        it counts (2.1.8 reads the header's flags word, 0, and leaves its 4
#        bytes out)
#  then over IPv4 (3-4) and over IPv6 (5-6):
#  3, 5  Linux -> machine: `iperf -c ADDR -p 7009 -n 32M` exits 0, and the
#        bytes the machine's discard service read are the bytes iperf says
#        it sent
#  4, 6  machine -> Linux: the machine connects to iperf's server and sends
#        8 MiB of zeros (inet-drive's "send"); it says it sent them all, and
#        iperf's report of that connection counts what it counted of
#        Linux's 8 MiB in 2
#  7     four streams at once for 1 s (`iperf -c 10.220.0.2 -P 4 -t 1`):
#        every stream's count adds up to what the discard service read
#  8     the machine stops when told; what it holds after are its two
#        connections out in TIME-WAIT (it closed first; 60 s), a socket's
#        charge each (at most 1 KiB, t/inet/05-idle.t), no more
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib", "$FindBin::Bin/lib";
use Test::More;
use IPC::Open2;
use Time::HiRes qw(sleep time);
use NfsTest;
use InetTest;

my ($ns, $dev) = ("i10-$$", "i10t$$");
my %addr = (4 => '10.220.0.2', 6 => 'fd00:220::2');
my %mine = (4 => '10.220.0.1', 6 => 'fd00:220::1');
my ($discard, $iport, $sendn) = (7009, 5001, 8 << 20);
my $csv = "/tmp/i10-$$.csv";
my $drive = build_dir() . '/t/inet-drive';
my ($ip, $py, $iperf, $ss) = tap_plan($drive, 8, qw(ip python3 iperf ss));

my $limit = 90;    # seconds for the whole test; every step has its own bound below
my ($pid, $from, $to, $spid, $made);
sub cleanup {
	reap_all(\$pid, \$spid);
	netns_gone($ip, $ns, \$made);
	unlink($csv);
}
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

sub run { system(@_) == 0 or BAIL_OUT("failed: @_") }

run($ip, 'netns', 'add', $ns);
$made = 1;
$pid = open2($from, $to, $ip, 'netns', 'exec', $ns, $drive, '-D', $discard, '-6', "$addr{6}/64",
	     $dev, "$addr{4}/24", '7');
chomp(my $ready = bounded(30, sub { scalar(<$from>) }) // 'no answer');
my $up = $ready =~ /^ready [0-9a-f:]{17}$/;
if ($up) {
	run($ip, '-n', $ns, 'addr', 'add', "$mine{4}/24", 'dev', $dev);
	run($ip, '-n', $ns, 'addr', 'add', "$mine{6}/64", 'dev', $dev, 'nodad');
	run($ip, '-n', $ns, 'link', 'set', $dev, 'up');
	run($ip, '-n', $ns, 'link', 'set', 'lo', 'up');
}

# iperf's server, its reports (one CSV line a connection) into $csv.
$spid = fork() // BAIL_OUT("fork: $!");
if (!$spid) {
	open(STDOUT, '>', $csv) or exit 127;
	open(STDERR, '>', '/dev/null');
	exec($ip, 'netns', 'exec', $ns, $iperf, '-s', '-V', '-p', $iport, '-y', 'C');
	exit 127;
}
my $listening = bounded(10, sub {
	sleep(0.1) until `$ip netns exec $ns $ss -Htln sport = :$iport` =~ /LISTEN/;
	1;
});
ok($up && $listening, "1 the machine is up on $dev ($ready); iperf -s listens on $iport")
    or BAIL_OUT('no machine or no iperf server');

# The machine's counters now.
sub stat_now { return drive_stat($to, $from) // {} }

# iperf's server reports so far: the byte count of each, in order.
sub reports {
	open(my $fh, '<', $csv) or return ();
	return map { (split /,/)[7] } grep { /^\d+,/ } <$fh>;
}

# The next report of iperf's server within $secs, or undef.
sub next_report {
	my ($seen, $secs) = @_;
	return bounded($secs, sub {
		my @r;
		sleep(0.1) while (@r = reports()) <= $seen;
		$r[$seen];
	});
}

my $zeros = <<'PY';
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(bytes(int(sys.argv[3])))
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
print("sent")
PY
my $out = bounded(15, sub { `$ip netns exec $ns $py -c '$zeros' $mine{4} $iport $sendn 2>&1` })
    // 'timed out';
my $linux = next_report(0, 5);
ok($out eq "sent\n" && defined $linux && $linux > 0 && $linux <= $sendn,
   "2 Linux's $sendn zero bytes to iperf -s: it reports " . ($linux // 'nothing')
   . ' (the 4 bytes of its header flags left out)') or diag($out);

my $nreports = 1;
for my $fam (4, 6) {
	my ($n, $peer) = ($fam == 4 ? 3 : 5, $addr{$fam});
	my $before = stat_now();
	my $t0 = time;
	$out = bounded(20, sub {
		`$ip netns exec $ns timeout -k 2 15 $iperf -c $peer -p $discard -n 32M -y C 2>&1`
	}) // 'timed out';
	my $rc = $? >> 8;
	my $secs = time - $t0;
	my ($said) = map { (split /,/)[7] } grep { /^\d+,/ } split /\n/, $out;
	my $got = 0;
	bounded(5, sub {
		for (;;) {
			my $s = stat_now();
			$got = ($s->{drive_discarded} // 0) - ($before->{drive_discarded} // 0);
			last if defined $said && $got >= $said && ($s->{drive_conns} // 1) == 0;
			sleep(0.1);
		}
	});
	ok($rc == 0 && defined $said && $said == 32 << 20 && $got == $said,
	   sprintf("$n IPv$fam iperf -c $peer -n 32M: exit %d, iperf sent %s, the machine's "
		   . 'discard read %d, in %.1f s', $rc, $said // '?', $got, $secs))
	    or diag($out);

	$before = stat_now();
	print $to "send $mine{$fam} $iport $sendn\n";
	my $report = next_report($nreports, 15);
	$nreports++ if defined $report;
	my $after = $before;
	bounded(5, sub {
		sleep(0.1) until ($after = stat_now())->{drive_sends} > ($before->{drive_sends} // 0)
		    || $after->{drive_send_errors} > ($before->{drive_send_errors} // 0);
	});
	my $sent = ($after->{drive_sent} // 0) - ($before->{drive_sent} // 0);
	ok($sent == $sendn && defined $report && $report == $linux,
	   sprintf('%d IPv%d the machine sends %d zero bytes to iperf -s at %s: it sent %d, '
		   . 'iperf reports %s (Linux\'s %d: %s)', $n + 1, $fam, $sendn, $mine{$fam}, $sent,
		   $report // 'nothing', $linux, ($after->{drive_send_errors} // 0)
		   - ($before->{drive_send_errors} // 0) . ' errors'));
}

my $before = stat_now();
$out = bounded(20, sub {
	`$ip netns exec $ns timeout -k 2 15 $iperf -c $addr{4} -p $discard -P 4 -t 1 -y C 2>&1`
}) // 'timed out';
my $rc4 = $? >> 8;
my @streams = map { (split /,/)[7] } grep { /^\d+,/ && (split /,/)[5] > 0 } split /\n/, $out;
my $sum = 0;
$sum += $_ for @streams;
my $got = 0;
bounded(5, sub {
	for (;;) {
		my $s = stat_now();
		$got = ($s->{drive_discarded} // 0) - ($before->{drive_discarded} // 0);
		last if $got >= $sum && ($s->{drive_conns} // 1) == 0;
		sleep(0.1);
	}
});
ok($rc4 == 0 && @streams == 4 && $sum > 0 && $got == $sum,
   "7 iperf -P 4 -t 1: exit $rc4, " . scalar(@streams) . " streams sent $sum bytes in all, "
   . "the machine's discard read $got") or diag($out);

close($to);
my $status = bounded(20, sub { local $/; scalar(<$from>) }) // '';
kill('KILL', $pid) unless $status;
waitpid($pid, 0);
my $rc = $?;
$pid = undef;
my %f = map { split / / } grep { / / } split /\n/, $status;
ok($rc == 0 && defined $f{mem_used} && $f{mem_used} <= 2 * 1024,
   "8 the machine stopped when told (status $rc), " . ($f{mem_used} // '?')
   . ' bytes held after (two connections in TIME-WAIT)')
    or diag($status);
