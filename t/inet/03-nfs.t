#!/usr/bin/perl
# NFS over the machine's own TCP/IP stack: umlnfsd -i gives the machine an
# interface on a multi-queue TAP device in a network namespace this test
# makes and removes (10.214.0.2/24, the namespace's side 10.214.0.1/24), and
# libnfs's tools, run in the namespace, reach the export through it alone:
# no host socket of umlnfsd is in that namespace's reach but its loopback
# one. Two workers, each reading its own queue of the device. Needs root.
#  1     umlnfsd is up, serving on the machine's address
#  2     ping answers (the machine's ICMP)
#  3     nfs-ls lists /config over the machine's TCP
#  4     nfs-cat reads a knob file back
#  5     nfs-cp writes 1 MiB of random bytes, and 6 reads them back intact
#  7     20 clients in a row, each a connection of its own, all served
#  8     a client the export does not list is refused (10.214.0.3)
#  9     ping -6 of the IPv6 address -i gave beside (fd00:214::2/64, the
#        namespace's side fd00:214::1) answers
# 10     under a SYN flood of port 2049 from random sources (hping3
#        --flood --rand-source, 5 s), an NFS connection established before
#        it answers a NULL call every 100 ms throughout, and new clients
#        are served meanwhile (skipped without hping3)
# 11     umlnfsd stops cleanly; its counters show the calls came over the
#        machine's stack, no packet buffer is left held, and (with hping3)
#        the flood was answered with SYN cookies
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib", "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use NfsTest;
use InetTest;

my $ns = "umlnfs$$";
my $dev = 'rn0';
my ($pid, $made, $log);
my $nfsd = build_dir() . '/umlnfsd';
my ($ip, $ping) = tap_plan($nfsd, 11, qw(ip ping nfs-ls nfs-cat nfs-cp));

my $limit = 180;
sub cleanup { reap_all(\$pid); netns_gone($ip, $ns, \$made) }
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

sub in_ns { my $cmd = join ' ', @_; return `$ip netns exec $ns $cmd 2>&1` }
my $url = 'nfs://10.214.0.2%s?nfsport=2049&mountport=2049';
sub url { sprintf($url, $_[0]) }

system($ip, 'netns', 'add', $ns) == 0 or BAIL_OUT("ip netns add $ns failed");
$made = 1;
$log = tmp_path("umlnfsd-net.$$.log");
my $text;
($pid, $text) = nfsd_on_tap($ip, $ns, $dev, '10.214.0.1/24', 'fd00:214::1/64', $nfsd, $log, '-i',
	"$dev:10.214.0.2/24+fd00:214::2/64", '-e', '/:rw:10.214.0.1', '-p',
	"/config/MaxRequestWorkers=150\n", '-p', '/data/README=scratch');
like($text, qr/ready on \S+ and 10\.214\.0\.2:2049 \(\Q$dev\E\)/, '1 umlnfsd serves on the machine\'s address')
    or BAIL_OUT("umlnfsd: $text");

my $out = in_ns("$ping -n -c 3 -i 0.2 -W 2 10.214.0.2");
like($out, qr/3 packets transmitted, 3 received/, '2 ping: 3 of 3 answered') or diag($out);

$out = in_ns('nfs-ls', "'" . url('/config') . "'");
like($out, qr/MaxRequestWorkers/, '3 nfs-ls lists /config over the machine\'s TCP') or diag($out);

$out = in_ns('nfs-cat', "'" . url('/config/MaxRequestWorkers') . "'");
is($out, "150\n", '4 nfs-cat reads the knob file back');

my $data = tmp_path("net-data.$$");
my $back = tmp_path("net-back.$$");
open(my $fh, '>', $data) or die;
print $fh join('', map { chr(int(rand(256))) } 1 .. 65536) x 16;
close($fh);
$out = in_ns('nfs-cp', $data, "'" . url('/data/big') . "'");
is($?, 0, '5 nfs-cp writes 1 MiB over the machine\'s stack') or diag($out);
unlink($back);
$out = in_ns('nfs-cp', "'" . url('/data/big') . "'", $back);
ok(-s $back == 1 << 20 && system('cmp', '-s', $data, $back) == 0, '6 and reads it back intact')
    or diag($out);

my $served = 0;
for (1 .. 20) {
	$out = in_ns('nfs-cat', "'" . url('/config/MaxRequestWorkers') . "'");
	$served++ if $out eq "150\n";
}
is($served, 20, '7 20 clients in a row, all served');

# Another address of the namespace, which the export does not list.
system($ip, '-n', $ns, 'addr', 'add', '10.214.0.3/24', 'dev', $dev);
system($ip, '-n', $ns, 'route', 'replace', '10.214.0.2', 'dev', $dev, 'src', '10.214.0.3');
$out = in_ns('nfs-cat', "'" . url('/config/MaxRequestWorkers') . "'");
isnt($out, "150\n", '8 an unlisted client (10.214.0.3) is refused') or diag($out);
system($ip, '-n', $ns, 'route', 'del', '10.214.0.2', 'dev', $dev);

$out = in_ns("$ping -6 -n -c 3 -i 0.2 -W 2 fd00:214::2");
like($out, qr/3 packets transmitted, 3 received/, '9 ping -6 fd00:214::2: 3 of 3 answered')
    or diag($out);

SKIP: {
	my $hping = which('hping3');
	skip('no hping3: no SYN flood', 1) unless $hping;
	# One connection, NULL calls on it every 100 ms for 9 s (the flood runs from 2 s to 7 s).
	my $py = <<'EOF';
import socket, struct, sys, time
s = socket.create_connection(('10.214.0.2', 2049), timeout=5)
def call(xid):
    body = struct.pack('>10I', xid, 0, 2, 100003, 3, 0, 0, 0, 0, 0)
    s.sendall(struct.pack('>I', 0x80000000 | len(body)) + body)
    def take(n):
        b = b''
        while len(b) < n:
            got = s.recv(n - len(b))
            if not got:
                raise EOFError('the connection ended')
            b += got
        return b
    n = struct.unpack('>I', take(4))[0] & 0x7fffffff
    x, mtype, stat = struct.unpack('>3I', take(n)[:12])
    return x == xid and mtype == 1 and stat == 0
good = call(1)
print('open', flush=True)
n, end = 1, time.time() + 9
try:
    while time.time() < end:
        time.sleep(0.1)
        n += 1
        good += call(n)
except Exception as e:
    print('error', e, flush=True)
print('calls', n, 'answered', good, flush=True)
EOF
	my $held = open(my $hfh, '-|', 'timeout', '30', $ip, 'netns', 'exec', $ns, '/usr/bin/python3',
			'-c', $py) or BAIL_OUT("python3: $!");
	my $opened = <$hfh> // '';
	sleep(1);
	my $flood = fork() // BAIL_OUT("fork: $!");
	if (!$flood) {
		open(STDOUT, '>', '/dev/null');
		open(STDERR, '>', '/dev/null');
		exec('timeout', '5', $ip, 'netns', 'exec', $ns, $hping, '-S', '-p', '2049', '--flood',
		     '--rand-source', '10.214.0.2');
		exit 127;
	}
	sleep(1);
	my $fresh = 0;
	for (1 .. 3) {
		$out = in_ns('timeout', '20', 'nfs-cat', "'" . url('/config/MaxRequestWorkers') . "'");
		$fresh++ if $out eq "150\n";
	}
	waitpid($flood, 0);
	my $report = do { local $/; <$hfh> } // '';
	close($hfh);
	my ($calls, $answered) = $report =~ /calls (\d+) answered (\d+)/;
	ok($opened eq "open\n" && $calls && $calls >= 50 && $answered == $calls && $fresh == 3,
	   '10 under a SYN flood of 2049 the established connection answered ' .
	       ($answered // 0) . ' of ' . ($calls // 0) . " NULL calls, $fresh of 3 new clients served")
	    or diag("$opened$report");
}

my ($rc, %c);
($rc, $text, %c) = nfsd_stop(\$pid, $log);
my ($calls) = $text =~ /stopped: (\d+) calls/;
ok($rc == 0 && ($calls // 0) >= 25 && ($c{mem_used} // 1) == 0 && $text !~ /worker \d+ exited/ &&
       (!which('hping3') || ($c{tcp_cookies_sent} // 0) > 0),
    "11 stopped cleanly after $calls calls, " . ($c{mem_used} // '?') . ' bytes of buffers held; ' .
	($c{tcp_cookies_sent} // 0) . ' SYN cookies answered the flood')
    or diag($text);
unlink($data, $back, $log);
