#!/usr/bin/perl
# Who may hold the server's connections, tried as an attacker would. Before,
# any host could connect (exports were checked per call, after a thread and
# a stack were spent), and a full CPU closed its least recently active
# connection for every newcomer: 300 idle connections from 127.0.0.3, listed
# nowhere, closed the monitor's idle connection, and could do so forever. On
# a machine whose files had filled it, every new connection closed an old one.
#  1     300 connections from 127.0.0.3 (no export lists it): each is closed
#        at once, a NULL call on it unanswered
#  2     the monitor's (127.0.0.1) idle connection, opened before, still answers
#  3     300 connections from 127.0.0.2 (listed for /config only): it keeps at
#        most 32 per worker, the rest are closed at once
#  4     the monitor's idle connection still answers, and a new one of the
#        monitor is served
#  5     -T tcp+udp: a NULL datagram from 127.0.0.3 is not answered, one from
#        127.0.0.1 is
#  6     the stop log counts the unlisted connections and datagrams, and the
#        listed host's surplus as refused; no worker died
#  7     a 2 MiB machine filled with files: the lone idle connections of two
#        listed hosts survive 20 new connections of a third...
#  8     ...which were refused, not served by closing others; no worker died
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use Test::More;
use NfsTest;

plan_nfs(8);

# A write to a connection the server closed must not end the test.
$SIG{PIPE} = 'IGNORE';

my $xid = 7000;

# A NULL call of NFS v3 with AUTH_SYS root; returns (xid, message).
sub null_msg {
	my $cred = pack('N', 0) . xdr_opaque('t') . pack('NNN', 0, 0, 0);
	$xid++;
	return ($xid, pack('NNNNNN', $xid, 0, 2, 100003, 3, 0) . pack('N', 1) . xdr_opaque($cred) .
		pack('NN', 0, 0));
}

sub null_ok {
	my ($sock) = @_;
	my ($astat) = rpc_call($sock, 100003, 3, 0, '');
	return defined $astat && $astat == 0;
}

# Send a NULL call and wait up to @wait s: true when the server closed the
# connection without a byte of reply.
sub closed_unanswered {
	my ($sock, $wait) = @_;
	my ($id, $msg) = null_msg();
	syswrite($sock, pack('N', 0x80000000 | length $msg) . $msg);
	my $rin = '';
	vec($rin, fileno($sock), 1) = 1;
	return 0 unless select(my $r = $rin, undef, undef, $wait);
	my $n = sysread($sock, my $buf, 4);
	return !$n; # 0: EOF; undef: reset (the call arrived after the close)
}

# Still open: nothing to read after a moment (EOF or a reset would be).
sub still_open {
	my ($sock) = @_;
	my $rin = '';
	vec($rin, fileno($sock), 1) = 1;
	return !select(my $r = $rin, undef, undef, 0);
}

sub flood {
	my ($s, $addr, $n) = @_;
	return map { rpc_connect($s, LocalAddr => $addr) } 1 .. $n;
}

my $s = start_server('-l', '127.0.0.1:0', '-T', 'tcp+udp', '-w', '2', '-p', '/config/a=1',
		     '-e', '/:rw:127.0.0.1', '-e', '/config:ro:127.0.0.2');

my $monitor = rpc_connect($s);
my $monitor_ok = null_ok($monitor);

my @unlisted = flood($s, '127.0.0.3', 300);
sleep 0.3;
my $closed = grep { closed_unanswered($_, 2) } @unlisted;
is($closed, 300, '1 300 connections of an unlisted host are closed at once, unanswered');
close $_ for @unlisted;
ok($monitor_ok && null_ok($monitor), "2 the monitor's idle connection survived them");

my @listed = flood($s, '127.0.0.2', 300);
sleep 0.3;
my $open = grep { still_open($_) } @listed;
ok($open >= 1 && $open <= 64, "3 a listed host's flood keeps $open of 300 (at most 32 per worker)");
ok(null_ok($monitor) && null_ok(rpc_connect($s)),
   "4 the monitor's idle connection survived it, and a new one of the monitor is served");
close $_ for @listed;

{
	my $answered = sub {
		my ($addr) = @_;
		my $u = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{port},
					      LocalAddr => $addr, Proto => 'udp') or die "udp: $!";
		my ($id, $msg) = null_msg();
		for (1 .. 2) {
			$u->send($msg);
			my $rin = '';
			vec($rin, fileno($u), 1) = 1;
			next unless select(my $r = $rin, undef, undef, 1);
			$u->recv(my $rep, 65536);
			return unpack('N', $rep // '') == $id;
		}
		return 0;
	};
	my $other = $answered->('127.0.0.3');
	my $mine = $answered->('127.0.0.1');
	ok(!$other && $mine, '5 UDP: a datagram of the unlisted host is not answered, a listed one is');
}

my $alive = kill 0, $s->{pid};
my $log = stop_server($s);
my ($refused, $unlisted) = $log =~ /(\d+) refused, (\d+) unlisted/;
ok($alive && log_clean($log) && ($unlisted // 0) >= 302 && ($refused // 0) >= 300 - 64,
   "6 counted: $unlisted unlisted, $refused refused; no worker died") or diag($log);

# A small machine: one worker, 2 MiB, files written until it refuses more.
$s = start_server('-l', '127.0.0.1:0', '-w', '1', '-m', '2M', '-p', '/config/a=1',
		  '-e', '/:rw:127.0.0.1,127.0.0.2,127.0.0.4');
my @lone = (rpc_connect($s), rpc_connect($s, LocalAddr => '127.0.0.4'));
my $lone_ok = grep { null_ok($_) } @lone;
for my $i (1 .. 64) {
	my ($rc) = nfsc($s, '/', 'write', "fill$i", 'f' x 32768);
	last if $rc;
}
my @newcomers = flood($s, '127.0.0.2', 20);
my $served = grep { null_ok($_) } @newcomers;
my $survived = grep { null_ok($_) } @lone;
ok($lone_ok == 2 && $survived == 2,
   "7 on a full machine two hosts' lone connections survive another's 20 ($served served)");
close $_ for @newcomers, @lone;
$alive = kill 0, $s->{pid};
$log = stop_server($s);
($refused) = $log =~ /(\d+) refused/;
ok($alive && log_clean($log) && ($refused // 0) >= 20 - $served,
   "8 the newcomers were refused ($refused), not given others' places; no worker died")
    or diag($log);
