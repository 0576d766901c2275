# 10: every knob and every status file can be read with nfs-cat, in the
# documented formats; knob defaults come from httpd.conf and the MPM.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use Apache::TestRequest qw(GET_BODY);
use UmlConf::Test;

my @status = qw(requests_in_flight queued rejected generation workers listeners
    children errors changes metrics nfs mm/buddyinfo mm/slabinfo mm/meminfo sched/cpus sched/summary check
    config import);
plan tests => 10 + @status + 9;

my $ls = nfs_ls('/config');
ok defined $ls;
ok (($ls // '') =~ /\bMaxRequestWorkers\b/ && $ls =~ /\bListenBacklog\b/ && $ls =~ /\bAccepting\b/
    && $ls =~ /\bQueueLimit\b/);

for my $k (qw(MaxRequestWorkers ListenBacklog Accepting QueueLimit)) {
    my $raw = nfs_cat("/config/$k");
    ok t_cmp($raw, qr/^\d+\n\z/, "$k is one number and a newline");
}

# MaxRequestWorkers defaults to the MPM's configured capacity (extra.conf.in).
my $mpm = Apache::Test::config()->{server}{mpm} // '';
my $capacity = GET_BODY('/server-status?auto') =~ /UmlConfMaxRequestWorkers: (\d+)/ ? $1 : -1;
ok t_cmp(knob('MaxRequestWorkers'), $capacity, 'file and server-status agree');
ok t_cmp(knob('MaxRequestWorkers'), $mpm eq 'prefork' ? 16 : 40, "default is the $mpm capacity");
ok t_cmp(knob('Accepting'), 1, 'Accepting defaults to 1');
ok t_cmp(knob('QueueLimit'), 8, "QueueLimit defaults to UmlConfQueue's size");

for my $f (@status) {
    ok defined status_file($f), "status/$f readable";
}
ok t_cmp(status_file('requests_in_flight'), qr/^\d+\n\z/);
ok t_cmp(status_file('queued'), qr/^\d+\n\z/);
ok t_cmp(status_file('generation'), qr/^\d+\n\z/);
ok t_cmp(status_file('workers'), qr/^busy \d+\nidle \d+\n\z/);
my $port = Apache::Test::vars('port');
ok t_cmp(status_file('listeners'), qr/^\S+:$port backlog \d+ queue \d+$/m);
ok t_cmp(status_file('children'), qr/^# cpu pid generation applied_ns\n(\d+ \d+ \d+ \d+\n)+\z/);
# Each knob: value, layer, when it applied, httpd.conf's value, the import's (none here).
ok t_cmp(status_file('config'),
    qr/\A# knob value source applied conf import\n(\S+ \S+ (conf|local) (-|\d{4}-\d\d-\d\dT\S+Z) \S+ -\n)+\z/);
ok t_cmp(status_file('import'), "none\n", 'no UmlConfImport: status/import says none');
# The machine's self-check, on a quiet server: clean, and each part said its piece.
ok t_cmp(status_file('check'), qr/\Aok\nmm: \d+ pages: .*\nvfs: \d+ inodes .*\nsched: /s,
    'status/check says ok, after the allocator, the tree and the CPUs');
