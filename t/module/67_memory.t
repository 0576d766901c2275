# 67: UmlConfMemory's default holds every child ServerLimit allows: 8M and
# 256K a child, so that a server configured for many children does not
# answer 503 from the ones that found no room. An explicit value too small
# for ServerLimit is said at start (umlconf(10034)), and the children that
# do fit serve.
#
# On a private httpd (HTTP 8584, NFS 12584) with the suite's MPM.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;

plan tests => 6;

my $mpm = suite_mpm();
# ServerLimit 40 (prefork) or 20 (threaded): the default is 8M + 40 x 256K
# = 18M, or 8M + 20 x 256K = 13M.
my ($limit, $mpm_conf) = $mpm eq 'prefork' ? (40, <<'PREFORK') : (20, <<'THREADED');
StartServers 4
MinSpareServers 4
MaxSpareServers 4
ServerLimit 40
MaxRequestWorkers 40
PREFORK
StartServers 2
ServerLimit 20
ThreadsPerChild 5
MaxRequestWorkers 100
MinSpareThreads 5
MaxSpareThreads 10
THREADED
my $want_kb = (8 * 1024 + $limit * 256);

for my $case ([default => ''], [explicit => '8M']) {
    my ($what, $memory) = @$case;
    my $h = private_httpd(name => "67_memory_$what", http_port => 8584, nfs_port => 12584,
        mpm_conf => $mpm_conf, memory => $memory);
    my $up = $h->start;
    ok $up, "$what: httpd up (ServerLimit $limit)";
    diag "its error_log:\n" . $h->log_since(0) unless $up;
    my $mem = $h->meminfo // {};
    my $log = $h->log_since(0);
    if ($what eq 'default') {
        # MemTotal is what the allocator manages: the arena less its header.
        my $total = $mem->{MemTotal} // 0;
        ok $total > $want_kb * 0.95 && $total <= $want_kb,
            "no UmlConfMemory: the machine has 8M + $limit x 256K ($want_kb kB): MemTotal $total kB";
        ok $log !~ /umlconf\(10034\)/, 'and nothing is said about it';
    } else {
        my $total = $mem->{MemTotal} // 0;
        ok $total > 0 && $total <= 8192, "UmlConfMemory 8M is taken as given: MemTotal $total kB";
        like $log, qr/umlconf\(10034\): UmlConfMemory 8192K is less than the ${want_kb}K that ServerLimit's $limit children/,
            'a value too small for ServerLimit is said at start';
    }
    $h->end;
}
