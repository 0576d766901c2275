#!/usr/bin/perl
# NFS clients' locks (NLM v4, NSM v1) on the NFS port of build/umlnfsd,
# through libnfs's raw NLM client (t/nfs/nlmc.c) and raw RPC for what
# libnfs does not send (SHARE, FREE_ALL, garbage). Two workers: a client's
# calls land on either, the locks are one table.
#  1-3   A locks; B's TEST names A as holder; B's non-blocking LOCK is DENIED
#  4-5   B's blocking LOCK is BLOCKED, CANCEL is GRANTED; after A's UNLOCK
#        B's next LOCK (the poll) is GRANTED
#  6-8   a split and a merge, seen through B's TEST
#  9-10  read-only export: exclusive is ROFS, shared is granted
# 11-13  a forged handle is STALE_FH; a listed peer the export does not
#        list is FAILED; an unlisted peer gets no answer
# 14-18  garbage: truncated args, a 2000-byte cookie, a 1025-byte
#        caller_name are GARBAGE_ARGS (1024 is served); callbacks and
#        SM_SIMU_CRASH are PROC_UNAVAIL; SM_MON fails; then still served
# 19-20  a flood from one address stops at 256 (DENIED_NOLOCKS); another
#        address still locks
# 21-24  SM_NOTIFY of an unknown name, FREE_ALL and SM_NOTIFY with the
#        right name from another address free nothing; FREE_ALL and
#        SM_NOTIFY from the right address free
# 25-26  SHARE: a writer is denied beside a reader that denies writers,
#        granted after UNSHARE
# 27-29  the lease (2 s): a silent holder is obeyed, then broken only by a
#        conflicting LOCK (TEST breaks nothing); its other lock stays
# 30     all unlocked: no lock, share or host left in the server's counters
# 31     no worker died, garbage was counted
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use NfsTest;

plan_nfs(31);

my $s = start_server('-l', '127.0.0.1:' . ($ENV{UML_TEST_PORT} // 0), '-w', '2', '-L', '2',
		     '-p', '/data/f=hello', '-p', '/data/g=x', '-p', '/data/h=x', '-p', '/ro/f=x',
		     '-e', '/data:rw:127.0.0.1,127.0.0.2,127.0.0.3', '-e', '/ro:ro:127.0.0.1,127.0.0.3');

sub A { (nlmc($s, '-c', 'alpha', '-s', 1, '-o', 'alpha-1', @_))[1] }
sub B { (nlmc($s, '-b', '127.0.0.2', '-c', 'beta', '-s', 2, '-o', 'beta-2', @_))[1] }

# Raw NLM/NSM calls from loopback address $from: (accept_stat, results).
sub raw {
	my ($from, $prog, $vers, $proc, $args) = @_;
	my $sock = rpc_connect($s, LocalAddr => $from);
	my @r = rpc_call($sock, $prog, $vers, $proc, $args);
	close $sock;
	return @r;
}

sub nlm_lock {
	my ($caller, $fh, $oh, $svid, $off, $len) = @_;
	return xdr_str($caller) . xdr_opaque($fh) . xdr_opaque($oh) . pack('N', $svid) .
	    pack('Q>Q>', $off, $len);
}

# The server's lock counters (SIGUSR1 makes the parent print them).
my $seen = 0;
sub lock_stats {
	kill 'USR1', $s->{pid};
	my $deadline = time + 5;
	while (time < $deadline) {
		open(my $fh, '<', $s->{log}) or die;
		my @l = grep { /counters: locks/ } <$fh>;
		if (@l > $seen) {
			$seen = @l;
			my %st;
			$st{$2} = $1 while $l[-1] =~ /(\d+) ([a-z-]+)/g;
			return \%st;
		}
		sleep 0.05;
	}
	return {};
}

my (undef, $hex) = nlmc($s, '/data', 'f', 'fh');
my (undef, $rohex) = nlmc($s, '/ro', 'f', 'fh');
my $ffh = pack('H*', $hex);

is(A('/data', 'f', 'lock', 'x', 'nb', 0, 100), 'NLM4_GRANTED', '1 A locks bytes 0-99 of f');
is(B('/data', 'f', 'test', 's', 50, 1), 'NLM4_DENIED excl=1 svid=1 oh=alpha-1 off=0 len=100',
   '2 B\'s TEST names the holder: A, exclusive, 0-99');
is(B('/data', 'f', 'lock', 'x', 'nb', 50, 1), 'NLM4_DENIED', '3 B\'s non-blocking LOCK is DENIED');
ok(B('/data', 'f', 'lock', 'x', 'block', 50, 1) eq 'NLM4_BLOCKED' &&
       B('/data', 'f', 'cancel', 'x', 50, 1) eq 'NLM4_GRANTED',
   '4 B\'s blocking LOCK is BLOCKED; its CANCEL is GRANTED');
ok(A('/data', 'f', 'unlock', 0, 0) eq 'NLM4_GRANTED' &&
       B('/data', 'f', 'lock', 'x', 'block', 50, 1) eq 'NLM4_GRANTED',
   '5 after A unlocks, B\'s poll is GRANTED');

A('/data', 'g', 'lock', 's', 'nb', 0, 100);
A('/data', 'g', 'unlock', 40, 20);
is(B('/data', 'g', 'test', 'x', 0, 100), 'NLM4_DENIED excl=0 svid=1 oh=alpha-1 off=0 len=40',
   '6 after UNLOCK of 40-59 the first piece is 0-39');
ok(B('/data', 'g', 'test', 'x', 60, 1) eq 'NLM4_DENIED excl=0 svid=1 oh=alpha-1 off=60 len=40' &&
       B('/data', 'g', 'test', 'x', 45, 10) eq 'NLM4_GRANTED',
   '7 the second is 60-99, the hole is free');
ok(A('/data', 'g', 'lock', 's', 'nb', 40, 20) eq 'NLM4_GRANTED' &&
       B('/data', 'g', 'test', 'x', 50, 1) eq 'NLM4_DENIED excl=0 svid=1 oh=alpha-1 off=0 len=100',
   '8 locking the hole merges them back into 0-99');

is(A('/ro', 'f', 'lock', 'x', 'nb', 0, 1), 'NLM4_ROFS', '9 an exclusive lock on a read-only export: ROFS');
ok(A('/ro', 'f', 'lock', 's', 'nb', 0, 1) eq 'NLM4_GRANTED' &&
       A('/ro', 'f', 'unlock', 0, 1) eq 'NLM4_GRANTED',
   '10 a shared one is granted and unlocked');

my $forged = $hex;
substr($forged, 30, 2) = substr($forged, 30, 2) eq '00' ? '01' : '00';
is(A('-F', $forged, '-', '-', 'test', 'x', 0, 1), 'NLM4_STALE_FH', '11 a forged handle: STALE_FH');
is(B('-F', $rohex, '-', '-', 'lock', 's', 'nb', 0, 1), 'NLM4_FAILED',
   '12 a handle of /ro from a peer /ro does not list: FAILED');
my ($rc, $out) = nlmc($s, '-b', '127.0.0.9', '-F', $hex, '-', '-', 'test', 'x', 0, 1);
ok($rc != 0 && $out !~ /NLM4_/, '13 an unlisted peer gets no answer') or diag($out);

{
	my $args = xdr_opaque('c1') . pack('NN', 0, 1) . nlm_lock('raw', $ffh, 'o', 7, 0, 1) .
	    pack('NN', 0, 0);
	my ($ast) = raw('127.0.0.1', 100021, 4, 2, substr($args, 0, length($args) - 12));
	is($ast, 4, '14 truncated LOCK arguments: GARBAGE_ARGS');
	($ast) = raw('127.0.0.1', 100021, 4, 1,
		     xdr_opaque('c' x 2000) . pack('N', 1) . nlm_lock('raw', $ffh, 'o', 7, 0, 1));
	is($ast, 4, '15 a 2000-byte cookie netobj: GARBAGE_ARGS');
	my ($a1) = raw('127.0.0.1', 100021, 4, 1,
		       xdr_opaque('c') . pack('N', 1) . nlm_lock('n' x 1025, $ffh, 'o', 7, 0, 1));
	my ($a2, $res) = raw('127.0.0.1', 100021, 4, 1,
			     xdr_opaque('c') . pack('N', 1) . nlm_lock('n' x 1024, $ffh, 'o', 7, 0, 1));
	ok($a1 == 4 && $a2 == 0 && unpack('N', substr($res, 8, 4)) == 0,
	   '16 a caller_name of 1025 bytes: GARBAGE_ARGS; of 1024: TEST answered GRANTED');
	my @unavail = map { (raw('127.0.0.1', 100021, 4, $_, ''))[0] } 5, 7, 15, 19, 24;
	my ($crash) = raw('127.0.0.1', 100024, 1, 5, '');
	my ($mast, $mres) = raw('127.0.0.1', 100024, 1, 2,
				xdr_str('host') . xdr_str('me') . pack('NNN', 1, 1, 1) . ("\0" x 16));
	ok(!grep({ $_ != 3 } @unavail, $crash) && $mast == 0 && unpack('N', $mres) == 1,
	   '17 GRANTED, the _MSG/_RES calls and SM_SIMU_CRASH: PROC_UNAVAIL; SM_MON: stat_fail');
	is(B('/data', 'f', 'test', 'x', 0, 1), 'NLM4_GRANTED', '18 and the server still answers');
}

is((nlmc($s, '-b', '127.0.0.3', '-c', 'flood', '/data', 'h', 'flood', 300))[1],
   'GRANTED 256 DENIED_NOLOCKS 44 ', '19 300 locks from one address: 256 granted, then DENIED_NOLOCKS');
is(B('/data', 'h', 'lock', 'x', 'nb', 1001, 1), 'NLM4_GRANTED', '20 another address still locks');

my $held0 = lock_stats()->{held};
nlmc($s, '/data', 'h', 'notify', 'nobody');
is(lock_stats()->{held}, $held0, '21 SM_NOTIFY of an unknown name changes nothing');
raw('127.0.0.2', 100021, 4, 23, xdr_str('flood') . pack('N', 5));
nlmc($s, '-b', '127.0.0.2', '/data', 'h', 'notify', 'flood');
ok(lock_stats()->{held} == $held0 && B('/data', 'h', 'test', 'x', 0, 1) =~ /^NLM4_DENIED /,
   '22 FREE_ALL and SM_NOTIFY "flood" from another address free nothing');
raw('127.0.0.3', 100021, 4, 23, xdr_str('flood') . pack('N', 5));
ok(lock_stats()->{held} == $held0 - 256 && B('/data', 'h', 'test', 'x', 0, 1) eq 'NLM4_GRANTED',
   '23 FREE_ALL "flood" from its address frees its 256 locks');
A('/data', 'h', 'lock', 'x', 'nb', 5000, 1);
nlmc($s, '/data', 'h', 'notify', 'alpha');
is(B('/data', 'h', 'test', 'x', 5000, 1), 'NLM4_GRANTED', '24 SM_NOTIFY "alpha" from its address frees');

{
	my $share = sub {
		my ($from, $caller, $proc, $mode, $access) = @_;
		my ($ast, $res) = raw($from, 100021, 4, $proc,
				      xdr_opaque('k') . xdr_str($caller) . xdr_opaque($ffh) .
				      xdr_opaque("pc-$caller") . pack('NNN', $mode, $access, 0));
		return $ast == 0 ? unpack('N', substr($res, 8, 4)) : -1;
	};
	ok($share->('127.0.0.1', 'alpha', 20, 2, 1) == 0 && $share->('127.0.0.2', 'beta', 20, 0, 2) == 1,
	   '25 A reads denying writers; B\'s SHARE to write is DENIED');
	ok($share->('127.0.0.1', 'alpha', 21, 2, 1) == 0 && $share->('127.0.0.2', 'beta', 20, 0, 2) == 0 &&
	       $share->('127.0.0.2', 'beta', 21, 0, 2) == 0,
	   '26 after A\'s UNSHARE, B\'s is GRANTED (and unshared)');
}

{
	my @S = ('-b', '127.0.0.3', '-c', 'silent', '-s', 3);
	nlmc($s, @S, '/data', 'g', 'lock', 'x', 'nb', 1000, 10);
	nlmc($s, @S, '/data', 'g', 'lock', 'x', 'nb', 2000, 10);
	is(B('/data', 'g', 'lock', 'x', 'nb', 1005, 1), 'NLM4_DENIED', '27 within the lease the holder is obeyed');
	my $broken = lock_stats()->{'lease-broken'};
	sleep 2.6;
	ok(B('/data', 'g', 'lock', 'x', 'nb', 1005, 1) eq 'NLM4_GRANTED' &&
	       lock_stats()->{'lease-broken'} == $broken + 1,
	   '28 after 2.6 s of silence a conflicting LOCK breaks it');
	my $test = B('/data', 'g', 'test', 'x', 2000, 1);
	my $still = lock_stats()->{'lease-broken'} == $broken + 1;
	nlmc($s, @S, '/data', 'g', 'test', 'x', 0, 1);
	ok($test eq 'NLM4_GRANTED' && $still &&
	       B('/data', 'g', 'test', 'x', 2000, 1) eq 'NLM4_DENIED excl=1 svid=3 oh=oh off=2000 len=10',
	   '29 TEST past the lease says GRANTED and breaks nothing: once the holder calls, its '
	   . 'other lock is there');
	nlmc($s, @S, '/data', 'g', 'unlock', 0, 0);
}

A('/data', 'g', 'unlock', 0, 0);
B('/data', 'g', 'unlock', 0, 0);
B('/data', 'f', 'unlock', 0, 0);
B('/data', 'h', 'unlock', 0, 0);
raw('127.0.0.1', 100021, 4, 4, xdr_opaque('u') . nlm_lock('n' x 1024, $ffh, 'o', 7, 0, 0));
my $st = lock_stats();
ok(defined $st->{held} && $st->{held} == 0 && $st->{shares} == 0 && $st->{hosts} == 0,
   '30 all unlocked: no lock, share or host left') or diag(explain($st));

my $alive = kill 0, $s->{pid};
my $log = stop_server($s);
my ($garbage) = $log =~ /(\d+) garbage/;
ok($alive && log_clean($log) && ($garbage // 0) >= 3, "31 no worker died; $garbage garbage records counted")
    or diag($log);
