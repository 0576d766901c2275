# 99: UmlConfInterface (issue 13): the machine of an httpd gets an interface
# of its own on a multi-queue TAP device, UmlConfNFS is the machine's
# address, and a client in a network namespace this test makes -- whose only
# way to httpd is a bridge to that TAP -- pings it, reads and writes the
# tree over NFS through the machine's own TCP/IP stack, and finds its own
# connection in /status/net/tcp.
#
#  1     the private httpd is up with the interface (umlconf(10054)), NFS on
#        10.219.0.2:2049 answers from the namespace
#  2     ping from the namespace answers (the machine's ICMP)
#  3     nfs-ls lists /config over the machine's address
#  4     nfs-cat reads /config/MaxRequestWorkers
#  5     a knob write over that address (Accepting 0) is applied by every
#        child, and 6 takes effect: a request is held; 7 Accepting 1 lets it
#        through again
#  8     /status/net/tcp has Linux's header, the listener 0200DB0A:0801 (st 0A)
#        and the row of the reading connection from 10.219.0.1 (st 01, or 06
#        for an earlier one in TIME_WAIT)
#  9     /status/net/snmp: each pair has as many names as values; Tcp:
#        InSegs and PassiveOpens grew between two reads; /status/net/netstat
#        is one TcpExt pair of as many names as values
# 10     /status/net/stack: the TAP's interface received packets
# 11     a graceful restart keeps the interface (no new umlconf(10054), no
#        10053) and 12 ping and NFS over it still answer
# 13     no crash or kernel complaint in the error_log
# 14     every child SIGKILLed while a client in the namespace holds a TCP
#        connection to 2049 open on the machine's stack: the reaper closes
#        the dead child's socket (the client sees the connection end, the
#        stack's reaped_sockets grows), and new children serve NFS over the
#        interface again
# 15-18  httpd -t refuses, naming the bad word: an IPv6 address where the
#        IPv4 one goes, a prefix past 30, a gateway off the subnet, a fifth
#        interface
# 19     httpd -t refuses a link-local address given as the IPv6 one
# 20     the interface's IPv6 address (fd00:219::2/64 beside the IPv4 one)
#        and its link-local address fe80::...%veth answer ping -6 from the
#        namespace (fd00:219::1/64), through the machine's neighbour
#        discovery; /status/net/tcp6 has Linux's tcp6 header
# 21-54  the Linux kernel's NFS client (the QEMU guest of t/kclient, its NIC
#        a TAP on the same bridge, 10.219.0.3, no NAT) runs t/kclient's
#        cases (KClient::Cases, as 90_kclient.t over the host's sockets):
#        it mounts 10.219.0.2:/ with no options at all (mount.nfs asks the
#        machine's own rpcbind on 10.219.0.2:111, with locking: the
#        guest's rpcbind and statd run) through the machine's stack, edits knobs
#        with echo, sed -i, cp and rm, invalid values are refused and the
#        old ones stay, scratch files come and go, nfs-cat from the
#        namespace serves what it wrote, a second boot restores
# 55     every child applies what the guest wrote last (skipped with 21-54
#        without t/kclient's assets)
#
# On a private httpd (HTTP 8579) with the suite's MPM. Needs root (a
# namespace, a TAP device, a bridge) and /dev/net/tun; /dev/net/tun is
# opened by httpd's children after they gave up root, so the test runs in a
# mount namespace of its own where a node of the device, open to all as
# distributions make it, is bound over /dev/net/tun (the host's stays as it
# is). Namespace umlcif<pid>; links uc<pid> (TAP), ucb<pid> (bridge),
# ucv<pid>/ucp<pid> (veth), uq<pid> (the guest's TAP); all removed at the end.
use strict;
use warnings FATAL => 'all';
use feature 'state';
use File::Path ();
use File::Temp ();
use FindBin;
use lib "$FindBin::Bin/../kclient";
use KClient;
use KClient::Cases;

sub which {
    my ($name) = @_;
    for (split /:/, "$ENV{PATH}:/usr/sbin:/sbin") {
        return "$_/$name" if -x "$_/$name";
    }
    return '';
}

# Before Apache::Test prints anything: run again in a mount namespace of our own.
my $skip;
BEGIN {
    if (!$ENV{UMLCIF_IN_NS}) {
        if ($> != 0) {
            $skip = 'needs root (a network namespace, a TAP device and a bridge)';
        } elsif (!-c '/dev/net/tun') {
            $skip = 'no /dev/net/tun';
        } elsif (!-x '/usr/bin/unshare') {
            $skip = 'no unshare (util-linux)';
        } else {
            $ENV{UMLCIF_IN_NS} = 1;
            exec('unshare', '-m', '--propagation', 'private', '--', $^X,
                (map { "-I$_" } grep { !ref } @INC), $0, @ARGV) or die "unshare: $!";
        }
    }
}

use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use Time::HiRes qw(time sleep);

plan(skip_all => $skip) if $skip;
my $ip = which('ip');
plan(skip_all => 'needs ip (iproute2) and ping (iputils-ping)') unless $ip && which('ping');
plan(skip_all => 'libnfs-utils (nfs-ls, nfs-cat) not installed')
    unless which('nfs-ls') && which('nfs-cat');
plan tests => 20 + KClient::Cases::TESTS + 1;

my $limit = 300;
$SIG{ALRM} = sub { diag("timed out after $limit s"); cleanup(); exit 1 };
alarm($limit);

my ($ns, $tap, $br, $veth, $peer, $gtap) = ("umlcif$$", "uc$$", "ucb$$", "ucv$$", "ucp$$", "uq$$");
my ($addr, $client, $guest) = ('10.219.0.2', '10.219.0.1', '10.219.0.3');
my ($addr6, $client6) = ('fd00:219::2', 'fd00:219::1');
my ($h, $made);

sub sh { system(@_) == 0 }

sub cleanup {
    $h->end if $h;
    $h = undef;
    return unless $made;
    system($ip, 'link', 'del', $br);
    system($ip, 'link', 'del', $veth);
    system($ip, 'tuntap', 'del', 'dev', $tap, 'mode', 'tap', 'multi_queue');
    system($ip, 'tuntap', 'del', 'dev', $gtap, 'mode', 'tap');
    system($ip, 'netns', 'del', $ns);
    $made = 0;
}
END { cleanup() }

# /dev/net/tun as distributions leave it (0666), in this mount namespace only.
my $dev = File::Temp->newdir;
sh('mknod', '-m', '0666', "$dev/tun", 'c', '10', '200')
    && sh('mount', '--bind', "$dev/tun", '/dev/net/tun')
    or BAIL_OUT('could not bind a node of /dev/net/tun');

# The namespace's side: a veth in it, bridged in the host's namespace with
# the TAP the children read.
my $user = eval { Apache::Test::vars('user') } || 'nobody';
$made = 1;
sh($ip, 'netns', 'add', $ns)
    && sh($ip, 'tuntap', 'add', 'dev', $tap, 'mode', 'tap', 'multi_queue', 'user', $user)
    && sh($ip, 'link', 'add', $br, 'type', 'bridge')
    && sh($ip, 'link', 'add', $veth, 'type', 'veth', 'peer', 'name', $peer, 'netns', $ns)
    && sh($ip, 'link', 'set', $tap, 'master', $br, 'up')
    && sh($ip, 'link', 'set', $veth, 'master', $br, 'up')
    && sh($ip, 'link', 'set', $br, 'up')
    && sh($ip, '-n', $ns, 'addr', 'add', "$client/24", 'dev', $peer)
    && sh($ip, '-n', $ns, 'addr', 'add', "$client6/64", 'dev', $peer, 'nodad')
    && sh($ip, '-n', $ns, 'link', 'set', $peer, 'up')
    && sh($ip, '-n', $ns, 'link', 'set', 'lo', 'up')
    or BAIL_OUT("could not make $tap, $br and $ns");

my $mpm = suite_mpm();
my $mpm_conf = $mpm eq 'prefork' ? "StartServers 2\nMinSpareServers 2\nServerLimit 4\nMaxRequestWorkers 4\n"
    : "StartServers 2\nServerLimit 2\nThreadsPerChild 4\nMinSpareThreads 4\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";
$h = private_httpd(name => '99_interface', http_port => 8579, nfs_port => 2049, nfs_addr => $addr,
    export_more => " $client $guest", tool_prefix => [$ip, 'netns', 'exec', $ns], mpm_conf => $mpm_conf,
    extra => "UmlConfInterface $tap $addr/24 $addr6/64\n");
my $up = $h->start;
ok $up, "1 private httpd ($mpm) up with $tap $addr/24; NFS answers on the machine's address"
    or diag($h->{start_err}, `tail -20 $h->{log}`);
BAIL_OUT('no httpd') unless $up;

sub in_ns { my $cmd = join ' ', @_; return `timeout -k 2 10 $ip netns exec $ns $cmd 2>&1` }
sub ping_ok { wait_until(sub { in_ns('ping', '-c', '1', '-W', '1', $addr) =~ / 0% packet loss/ }, 10) }

ok ping_ok(), "2 ping $addr from $ns answers";

my $ls = $h->ls('/config') // '';
like $ls, qr/\bMaxRequestWorkers\b.*\bAccepting\b|\bAccepting\b.*\bMaxRequestWorkers\b/s,
    '3 nfs-ls lists /config over the machine\'s address';

my $mrw = $h->cat('/config/MaxRequestWorkers') // '';
like $mrw, qr/^\d+\n\z/, '4 nfs-cat reads /config/MaxRequestWorkers: ' . ($mrw =~ s/\n//r);

my ($applied, $gen, $seen) = $h->knob_applies('Accepting', 0);
ok $applied, "5 Accepting 0 written over $addr is applied by every child (generation "
    . ($gen // '?') . ')' or diag($seen);
my $held = $h->get('/index.html', 2);
ok $held->{status} != 200, "6 a request is held while Accepting is 0 (status $held->{status})";
($applied, $gen, $seen) = $h->knob_applies('Accepting', 1);
my $served = $h->get('/index.html', 10);
ok $applied && $served->{status} == 200, "7 Accepting 1 over $addr: served again ($served->{status})"
    or diag($seen);

# 10.219.0.2:2049 and 10.219.0.1 as Linux prints them on a little-endian host.
my $laddr = '0200DB0A:0801';
my $tcp = $h->cat('/status/net/tcp') // '';
my @rows = grep { /^\s*\d+:/ } split /\n/, $tcp;
my ($listen) = grep { /^\s*\d+: \Q$laddr\E 00000000:0000 0A / } @rows;
my @mine = grep { /^\s*\d+: \Q$laddr\E 0100DB0A:[0-9A-F]{4} (01|06) / } @rows;
ok $tcp =~ /^  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt/
    && $listen && @mine && grep({ / 01 / } @mine),
    '8 /status/net/tcp: the listener (st 0A) and the reading connection from ' . $client . ' (st 01)'
    or diag($tcp);
note("/status/net/tcp:\n$tcp");

# The values of a group of /status/net/snmp (or @_'s file of pairs), and whether each pair matches.
sub snmp {
    my $t = $h->cat(shift // '/status/net/snmp') // return;
    my @l = split /\n/, $t;
    my (%v, $pairs_ok);
    $pairs_ok = @l && @l % 2 == 0;
    while (my ($n, $v) = splice @l, 0, 2) {
        my @n = split ' ', $n;
        my @v = split ' ', $v;
        $pairs_ok = 0 unless @n == @v && $n[0] eq $v[0];
        my $g = shift @n;
        shift @v;
        @{ $v{$g} }{@n} = @v;
    }
    return { ok => $pairs_ok, %v };
}
my $s1 = snmp();
my $s2 = snmp();
my $netstat = snmp('/status/net/netstat');
note("/status/net/snmp:\n" . ($h->cat('/status/net/snmp') // ''));
note("/status/net/netstat:\n" . ($h->cat('/status/net/netstat') // ''));
ok $s1 && $s2 && $s1->{ok} && $s2->{ok} && $s2->{'Tcp:'}{InSegs} > $s1->{'Tcp:'}{InSegs}
    && $s2->{'Tcp:'}{PassiveOpens} > $s1->{'Tcp:'}{PassiveOpens}
    && $s1->{'Ip:'}{DefaultTTL} == 64
    && $netstat && $netstat->{ok} && keys(%$netstat) == 2 && defined $netstat->{'TcpExt:'}{SyncookiesSent},
    sprintf('9 /status/net/snmp: names and values pair up; Tcp InSegs %s -> %s, PassiveOpens %s -> %s',
        map { $_ // '?' } $s1 && $s1->{'Tcp:'}{InSegs}, $s2 && $s2->{'Tcp:'}{InSegs},
        $s1 && $s1->{'Tcp:'}{PassiveOpens}, $s2 && $s2->{'Tcp:'}{PassiveOpens});

my $stack = $h->cat('/status/net/stack') // '';
my ($rx) = $stack =~ /^\Q$tap\E\.rx_packets (\d+)$/m;
ok $rx && $rx > 0, "10 /status/net/stack: $tap received " . ($rx // 0) . ' packets';

my $off = -s $h->{log};
kill 'USR1', $h->pid;
my $resumed = wait_until(sub {
    open my $l, '<', $h->{log} or return 0;
    seek $l, $off, 0;
    local $/;
    return (<$l> // '') =~ /resuming normal operations/;
}, 20);
my $after = do { open my $l, '<', $h->{log}; seek $l, $off, 0; local $/; <$l> // '' };
ok $resumed && $after !~ /umlconf\(1005[34]\)/,
    '11 a graceful restart keeps the interface (no umlconf(10053) or (10054) again)';
my $cat2 = wait_until(sub { $h->cat('/config/MaxRequestWorkers') }, 15);
ok ping_ok() && defined $cat2 && $cat2 eq $mrw, "12 after it ping and nfs-cat over $addr still answer";

my $log = do { open my $l, '<', $h->{log}; local $/; <$l> // '' };
ok $log =~ /umlconf\(10054\)/ && $log !~ /Segmentation fault|exit signal|umlconf\(10056\)|lock .*taken over/,
    '13 the error_log says the interface was made, and no child crashed or lost its queue'
    or diag(join "\n", grep { /umlconf\(|signal|fault/ } split /\n/, $log);

# A child killed holding a connection on the machine's stack: the reaper takes its socket back.
sub stack_counter {
    my ($name) = @_;
    my ($v) = ($h->cat('/status/net/stack') // '') =~ /^\Q$name\E (\d+)$/m;
    return $v;
}
my $reaped0 = stack_counter('reaped_sockets');
my $hold = "$ip netns exec $ns $^X -MIO::Socket::INET -e '"
    . "my \$s = IO::Socket::INET->new(PeerAddr => \"$addr:2049\", Timeout => 5) or die qq(no: \$!\\n); "
    . "\$| = 1; print qq(open\\n); my \$n = sysread(\$s, my \$b, 1); print qq(closed\\n)'";
my $hpid = open(my $held_conn, '-|', "timeout -k 2 60 $hold 2>&1") or die "hold: $!";
my $opened = wait_until(sub { my $l = <$held_conn>; defined $l && $l eq "open\n" }, 10);
my @kids = $h->children;
# Its connection is accepted by some child's acceptor thread: wait until the table shows it.
wait_until(sub { (($h->cat('/status/net/tcp') // '') =~ / 0100DB0A:[0-9A-F]{4} 01 /) }, 10);
kill 'KILL', @kids;
my $ended = $opened && wait_until(sub { my $l = <$held_conn>; defined $l && $l eq "closed\n" }, 30);
kill 'KILL', $hpid;
close $held_conn;
my $reaped1 = wait_until(sub { my $v = stack_counter('reaped_sockets'); $v && $v > ($reaped0 // 0) && $v }, 20);
my $again = wait_until(sub { $h->cat('/config/MaxRequestWorkers') }, 20);
ok $opened && $ended && $reaped1 && defined $again && $again eq $mrw,
    '14 ' . scalar(@kids) . ' children SIGKILLed with a connection held open on the machine\'s stack: '
    . 'it ends (' . ($ended ? 'yes' : 'no') . "), reaped_sockets " . ($reaped0 // '?') . ' -> '
    . ($reaped1 || '?') . ', and NFS over the interface answers again';

# Configuration mistakes, as `apachectl configtest` shows them.
my $httpd = eval { Apache::Test::vars('httpd') } || '/usr/sbin/apache2';
my $five = join '', map { "UmlConfInterface uc$$-$_ 10.219.$_.2/24\n" } 1 .. 5;
# `httpd -t` with @extra refuses, its output matching @want: test @n.
sub refuses {
    my ($n, $extra, $want, $what) = @_;
    my $bad = private_httpd(name => '99_interface_bad', http_port => 8578, nfs_port => 12578, extra => $extra);
    File::Path::make_path("$bad->{root}/logs", "$bad->{root}/htdocs");
    open my $c, '>', $bad->{conf} or die "$bad->{conf}: $!";
    print $c $bad->conf_text;
    close $c;
    my ($rc, $out, $err) = UmlConf::Test::Httpd::run_timed(20, undef, $httpd, '-t', '-f', $bad->{conf});
    like "exit $rc: $out$err", qr/^exit [1-9].*$want/s, "$n httpd -t refuses $what, naming it"
        or diag("exit $rc: $out$err");
}
refuses(15, "UmlConfInterface $tap fd00::2/64\n", qr/'fd00::2\/64' is IPv6; the IPv4 address\/prefix comes first/,
    'an IPv6 address where the IPv4 one goes');
refuses(16, "UmlConfInterface $tap 10.219.0.2/33\n", qr/10\.219\.0\.2\/33: an IPv4 address and a prefix of 1 to 30/,
    'prefix 33');
refuses(17, "UmlConfInterface $tap 10.219.0.2/24 10.220.0.1\n",
    qr/gateway 10\.220\.0\.1: not another host of 10\.219\.0\.2\/24/, 'a gateway off the subnet');
refuses(18, $five, qr/at most 4 interfaces; uc\Q$$\E-5 is one too many/, 'a fifth interface');

refuses(19, "UmlConfInterface $tap 10.219.0.2/24 fe80::2/64\n", qr/fe80::2\/64: not a global unicast address/,
    'a link-local IPv6 address');

# The machine's link-local address is its MAC's modified EUI-64 (RFC 4291 2.5.1).
my $ping6 = wait_until(sub { in_ns('ping', '-6', '-c', '1', '-W', '1', $addr6) =~ / 0% packet loss/ }, 10);
my $neigh = in_ns($ip, '-6', 'neigh', 'show', $addr6);
my ($lladdr) = $neigh =~ /lladdr ([0-9a-f:]{17})/;
my $ll = $lladdr ? do {
    my @b = map { hex } split /:/, $lladdr;
    $b[0] ^= 2;
    sprintf('fe80::%x:%x:%x:%x', $b[0] << 8 | $b[1], $b[2] << 8 | 0xff, 0xfe00 | $b[3], $b[4] << 8 | $b[5]);
} : '';
my $pingll = $ll && in_ns('ping', '-6', '-c', '1', '-W', '2', "$ll%$peer") =~ / 0% packet loss/;
my $tcp6 = $h->cat('/status/net/tcp6') // '';
ok $ping6 && $pingll && $tcp6 =~ /^\s+sl\s+local_address\s+remote_address\s+st /,
    "20 ping -6 $addr6 and $ll%$peer from $ns answer (the machine's MAC " . ($lladdr // '?')
    . ' learned by neighbour discovery); /status/net/tcp6 has its header' or diag($neigh, $tcp6);

# The Linux kernel's NFS client over the machine's stack: a QEMU guest whose
# NIC is a TAP on the bridge, as a monitor host on the management network,
# runs t/kclient's cases (90_kclient.t runs them over the host's sockets).
SKIP: {
    my $missing = KClient::missing();
    skip($missing, KClient::Cases::TESTS + 1) if $missing;
    sh($ip, 'tuntap', 'add', 'dev', $gtap, 'mode', 'tap')
        && sh($ip, 'link', 'set', $gtap, 'master', $br, 'up')
        or BAIL_OUT("could not make $gtap on $br");
    KClient::Cases::run(
        guest => { no_options => 1, export => '/', tap => $gtap, guest_addr => "$guest/24",
                   server => $addr },
        nfs_cat => sub { $h->cat("/$_[0]") },
        where => "$addr:/ with no options (the machine's rpcbind) through the machine's stack",
        values => [2, 3]);
    my $gen = $h->cat('/status/generation') // '';
    chomp $gen;
    my ($reached, $seen) = $gen =~ /^\d+$/ ? $h->children_reach($gen) : (0, 'no generation');
    ok $reached, "55 every child applies what the guest wrote last (generation $gen)" or diag($seen);
}
