#!/usr/bin/perl
# NFS over IPv6 on the machine's own stack: umlnfsd -i gives the machine
# 10.219.0.2/24 and fd00:219::2/64 on a multi-queue TAP device in a network
# namespace this test makes and removes (umlnfs6-PID, TAP rn6; the
# namespace's side 10.219.0.1/24 and fd00:219::1/64), and serves NFS and
# MOUNT on "::" there; the export lists one IPv6 client and one IPv4 one:
# /:rw:fd00:219::1/128,10.219.0.1. libnfs's tools, run in the namespace,
# reach it through the machine's stack alone. Needs root.
#
# libnfs 4.0 (Debian 12's libnfs-utils) does not take the bracketed form
# of RFC 3986 (nfs://[fd00:219::2]/: "Invalid address:[fd00:219::2]"), so
# the URLs name the server bare: nfs://fd00:219::2/PATH, which it hands to
# getaddrinfo whole. Test 3 checks that it still refuses brackets, so
# that the day it takes them the test is looked at again.
#  1     umlnfsd is up
#  2     ping -6 of fd00:219::2 answers once the machine's DAD is done
#        (polled, at most 10 s)
#  3     nfs-ls lists /config over IPv6 (and libnfs still refuses [addr])
#  4     nfs-cat reads a knob file back over IPv6
#  5     nfs-cp writes 256 KiB of random bytes over IPv6, and reads them
#        back intact
#  6     a client outside the listed prefix (fd00:219::99, the namespace's
#        second address, made its source by a route) is refused
#  7     the listed IPv4 client is served over IPv4 by the same listener
#  8     an IPv6 SYN to port 2049 from ::ffff:10.219.0.1, the v4-mapped
#        form of the listed IPv4 client, written raw on the TAP 3 times:
#        each counted as a bad IPv6 header (ipv6.c drops a v4-mapped
#        source before TCP sees it, so the allowlist never matches it as
#        10.219.0.1), no connection made, no SYN-ACK back (the counters
#        from umlnfsd's SIGUSR1 report)
#  9     umlnfsd stops cleanly; its counters show the calls came over the
#        machine's stack (IPv6 TCP in), and no buffer is left held
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib", "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use NfsTest;
use InetTest;

my $ns = "umlnfs6-$$";
my $dev = 'rn6';
my ($pid, $made, $log);
my $nfsd = build_dir() . '/umlnfsd';
my ($ip, $ping, $py) = tap_plan($nfsd, 9, qw(ip ping python3 nfs-ls nfs-cat nfs-cp));

my $limit = 180;
sub cleanup { reap_all(\$pid); netns_gone($ip, $ns, \$made) }
test_limit($limit, \&cleanup);
END { my $rc = $?; cleanup(); $? = $rc }

sub in_ns { my $cmd = join ' ', @_; return `$ip netns exec $ns $cmd 2>&1` }
sub url6 { "'nfs://fd00:219::2$_[0]?nfsport=2049&mountport=2049'" }
sub url4 { "'nfs://10.219.0.2$_[0]?nfsport=2049&mountport=2049'" }

system($ip, 'netns', 'add', $ns) == 0 or BAIL_OUT("ip netns add $ns failed");
$made = 1;
$log = tmp_path("umlnfsd-net6.$$.log");
my $text;
($pid, $text) = nfsd_on_tap($ip, $ns, $dev, '10.219.0.1/24', 'fd00:219::1/64', $nfsd, $log, '-i',
	"$dev:10.219.0.2/24+fd00:219::2/64", '-e', '/:rw:fd00:219::1/128,10.219.0.1', '-p',
	"/config/MaxRequestWorkers=150\n", '-p', '/data/README=scratch');
like($text, qr/ready on \S+ and 10\.219\.0\.2:2049 \(\Q$dev\E\)/, '1 umlnfsd is up')
    or BAIL_OUT("umlnfsd: $text");

# The machine's addresses are tentative for its DAD's second: ping until one answers.
my ($out, $t0) = ('', time);
while (time - $t0 < 10) {
	$out = in_ns("$ping -6 -n -c 1 -W 1 fd00:219::2");
	last if $out =~ /1 received/;
	sleep(0.2);
}
like($out, qr/1 received/, sprintf('2 ping -6 fd00:219::2 answers (after %.1f s)', time - $t0))
    or BAIL_OUT("no IPv6: $out");

$out = in_ns('nfs-ls', url6('/config'));
my $bracket = in_ns('nfs-ls', "'nfs://[fd00:219::2]/config?nfsport=2049&mountport=2049'");
ok($out =~ /MaxRequestWorkers/ && $bracket =~ /Invalid address/,
   '3 nfs-ls lists /config over IPv6 (nfs://fd00:219::2/; libnfs still refuses brackets)')
    or diag("$out$bracket");

$out = in_ns('nfs-cat', url6('/config/MaxRequestWorkers'));
is($out, "150\n", '4 nfs-cat reads the knob file back over IPv6');

my $data = tmp_path("net6-data.$$");
my $back = tmp_path("net6-back.$$");
open(my $fh, '>', $data) or die;
print $fh join('', map { chr(int(rand(256))) } 1 .. 65536) x 4;
close($fh);
my $put = in_ns('nfs-cp', $data, url6('/data/big'));
my $put_rc = $?;
unlink($back);
$out = in_ns('nfs-cp', url6('/data/big'), $back);
ok($put_rc == 0 && -s $back == 256 << 10 && system('cmp', '-s', $data, $back) == 0,
   '5 nfs-cp writes 256 KiB over IPv6 and reads it back intact') or diag("$put$out");

# A second address of the namespace, outside fd00:219::1/128, made the source to the machine.
system($ip, '-n', $ns, 'addr', 'add', 'fd00:219::99/64', 'dev', $dev, 'nodad');
system($ip, '-n', $ns, '-6', 'route', 'replace', 'fd00:219::2', 'dev', $dev, 'src', 'fd00:219::99');
$out = in_ns('nfs-cat', url6('/config/MaxRequestWorkers'));
my $src = in_ns($ip, '-6', 'route', 'get', 'fd00:219::2');
ok($out ne "150\n" && $src =~ /src fd00:219::99/,
   '6 a client outside fd00:219::1/128 (fd00:219::99) is refused') or diag("$out$src");
system($ip, '-n', $ns, '-6', 'route', 'del', 'fd00:219::2', 'dev', $dev);

$out = in_ns('nfs-cat', url4('/config/MaxRequestWorkers'));
is($out, "150\n", '7 the listed IPv4 client is served over IPv4 by the same listener');

# A SYN from ::ffff:10.219.0.1 to [fd00:219::2]:2049, on the wire by AF_PACKET; any SYN-ACK?
my $mac = (in_ns($ip, '-6', 'neigh', 'show', 'fd00:219::2') =~ /lladdr (\S+)/)[0] // '';
my $raw = <<'PY';
import socket, struct, sys, time
dev, dmac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', ''))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd))
s.bind((dev, 0))
smac = s.getsockname()[4]
src = socket.inet_pton(socket.AF_INET6, '::ffff:10.219.0.1')
dst = socket.inet_pton(socket.AF_INET6, 'fd00:219::2')
tcp = struct.pack('>HHIIBBHHH', 40000, 2049, 12345, 0, 5 << 4, 0x02, 65535, 0, 0)
pseudo = src + dst + struct.pack('>I3xB', len(tcp), 6) + tcp
total = sum(struct.unpack('>%dH' % (len(pseudo) // 2), pseudo))
while total >> 16:
    total = (total & 0xffff) + (total >> 16)
tcp = tcp[:16] + struct.pack('>H', ~total & 0xffff) + tcp[18:]
ip6 = struct.pack('>IHBB', 6 << 28, len(tcp), 6, 64) + src + dst
for _ in range(3):
    s.send(dmac + smac + b'\x86\xdd' + ip6 + tcp)
    time.sleep(0.1)
s.settimeout(0.2)
synack, end = 0, time.time() + 2
while time.time() < end:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    if len(f) >= 14 + 40 + 20 and f[6:12] == dmac and f[14 + 6] == 6:
        t = f[14 + 40:]
        sport, flags = struct.unpack('>H', t[0:2])[0], t[13]
        synack += sport == 2049 and flags & 0x12 == 0x12
print('sent 3 synack %d' % synack)
PY
my $script = tmp_path("synv4m.$$.py");
open(my $sf, '>', $script) or die;
print $sf $raw;
close($sf);
# umlnfsd prints the machine's counters on SIGUSR1: the last value of @_'s.
sub counters {
	kill('USR1', $pid);
	sleep(0.5);
	my $t = do { open(my $lf, '<', $log); local $/; <$lf> } // '';
	return map { my @v = $t =~ /^\Q$_\E (\d+)$/mg; $v[-1] // -1 } @_;
}
my @names = qw(ip6_in_hdr_errors tcp_passive_opens);
my @before = counters(@names);
$out = $mac ? in_ns($py, $script, $dev, $mac) : "no neighbour entry for the machine\n";
my @after = counters(@names);
unlink($script);
ok($out =~ /^sent 3 synack 0$/m && $after[0] - $before[0] == 3 && $after[1] == $before[1],
   '8 an IPv6 SYN from ::ffff:10.219.0.1 (the listed v4 client, v4-mapped): refused as a bad '
       . 'header (' . ($after[0] - $before[0]) . ' of 3), no connection ('
       . ($after[1] - $before[1]) . '), no SYN-ACK')
    or diag("$out @before -> @after");

my ($rc, %c);
($rc, $text, %c) = nfsd_stop(\$pid, $log);
my ($calls) = $text =~ /stopped: (\d+) calls/;
ok($rc == 0 && ($calls // 0) >= 5 && ($c{mem_used} // 1) == 0 && ($c{ip6_in_delivers} // 0) > 0
       && ($c{ip6_in_hdr_errors} // 0) == 3,
   "9 stopped cleanly after " . ($calls // '?') . ' calls; ' . ($c{ip6_in_delivers} // '?')
       . ' IPv6 datagrams delivered, ' . ($c{ip6_in_hdr_errors} // '?')
       . ' refused (the v4-mapped SYNs), ' . ($c{mem_used} // '?') . ' bytes held')
    or diag($text);
unlink($data, $back, $log);
