# 72: the figures in Prometheus's text format (issue 12), for the fleet
# monitor: /status/metrics over NFS and the same text from the handler
# (SetHandler umlconf-metrics at /metrics, extra.conf.in). Both pass
# `promtool check metrics` (Debian's prometheus package; missing, this
# fails: CI installs it); every family the monitor parses is there with its
# type; the values move as a user would see them: N slow requests raise the
# duration histogram's count by N in the bucket their time falls in, a
# request that waited for admission shows in the wait histogram's bucket, a
# knob write in umlconf_knob_value and umlconf_knob_changes_total, a refused
# write in umlconf_errors_total; HEAD has no body; POST is refused with 405.
#
# /status/metrics is rendered at most once a second per child (a client's
# GETATTR and READs see the same bytes): values are waited for, not read once.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use File::Temp ();
use IO::Socket::INET ();
use UmlConf::Test;

plan tests => 26;

my @families = (
    [umlconf_requests_in_flight => 'gauge'],
    [umlconf_requests_queued => 'gauge'],
    [umlconf_requests_rejected_total => 'counter'],
    [umlconf_request_duration_seconds => 'histogram'],
    [umlconf_admission_wait_seconds => 'histogram'],
    [umlconf_admission_waited_total => 'counter'],
    [umlconf_admission_released_total => 'counter'],
    [umlconf_admission_wakeups_total => 'counter'],
    [umlconf_listen_backlog => 'gauge'],
    [umlconf_listen_queue => 'gauge'],
    [umlconf_workers => 'gauge'],
    [umlconf_knob_value => 'gauge'],
    [umlconf_knob_min => 'gauge'],
    [umlconf_knob_max => 'gauge'],
    [umlconf_knob_changes_total => 'counter'],
    [umlconf_config_generation => 'gauge'],
    [umlconf_errors_total => 'counter'],
    [umlconf_children => 'gauge'],
    [umlconf_nfs_calls_total => 'counter'],
    [umlconf_nfs_errors_total => 'counter'],
    [umlconf_nfs_garbage_total => 'counter'],
    [umlconf_nfs_connections_total => 'counter'],
    [umlconf_nfs_refused_total => 'counter'],
    [umlconf_nfs_unlisted_total => 'counter'],
    [umlconf_sched_context_switches_total => 'counter'],
);

my $promtool = (grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH})[0];

# (ok, what promtool said) for @text.
sub promtool_check {
    my ($text) = @_;
    return (0, 'promtool is missing: apt-get install prometheus (tools/install-deps --test)')
        unless $promtool;
    my $in = File::Temp->new;
    print $in $text;
    close $in;
    my $out = `$promtool check metrics <'$in' 2>&1`;
    return ($? == 0, $out);
}

# { 'name{labels}' => value } of a metrics text.
sub samples {
    my ($text) = @_;
    return { map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } grep { !/^#/ } split /\n/, $text // '' };
}
sub metrics { samples(status_file('metrics')) }

# Wait until @cond holds of the metrics file; returns the last samples read.
sub metrics_until {
    my ($cond, $timeout) = @_;
    my $m;
    wait_until(sub { $m = metrics(); $cond->($m) }, $timeout // 5);
    return $m;
}

sub bucket {
    my ($m, $h, $le) = @_;
    return $m->{"${h}_bucket{le=\"$le\"}"} // -1;
}

# One raw request with any method: (status, headers, body).
sub raw_request {
    my ($method) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => Apache::Test::vars('port'),
        Proto => 'tcp', Timeout => 5) or return (0, '', '');
    print $s "$method /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";
    local $/;
    my $resp = <$s> // '';
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    my ($status) = ($head // '') =~ m{^HTTP/\S+ (\d+)};
    return ($status // 0, $head // '', $body // '');
}

my $h = 'umlconf_request_duration_seconds';
my $w = 'umlconf_admission_wait_seconds';

# 1. Three 300 ms requests, admitted at once: the count rises by 3, all in
# (0.25, 0.5]; each waited 0, in the first bucket. (First in the file: no
# other request of this test is still being counted.)
my $before = metrics();
my @r = concurrent_gets(3, '/slow?ms=300', 30)->collect;
ok t_cmp(join(' ', map { $_->{status} } @r), '200 200 200', 'three slow requests served');
my $after = metrics_until(sub { ($_[0]{"${h}_count"} // 0) >= $before->{"${h}_count"} + 3 });
ok t_cmp($after->{"${h}_count"} - $before->{"${h}_count"}, 3, 'the duration count rose by 3');
ok t_cmp(bucket($after, $h, '0.5') - bucket($before, $h, '0.5'), 3, 'le="0.5" rose by 3');
ok t_cmp(bucket($after, $h, '0.25') - bucket($before, $h, '0.25'), 0, 'le="0.25" did not move');
ok t_cmp(bucket($after, $h, '+Inf'), $after->{"${h}_count"}, '+Inf is the count');
my $sum = $after->{"${h}_sum"} - $before->{"${h}_sum"};
ok $sum >= 0.9 && $sum < 1.5, "the sum rose by their time: $sum s";
ok t_cmp(bucket($after, $w, '0.001') - bucket($before, $w, '0.001'), 3,
    'admitted at once: three waits of 0, in the first bucket');

# 2. One slot: the second of two 400 ms requests waits about 400 ms.
my $mrw = knob('MaxRequestWorkers');
ok t_cmp(set_knob('MaxRequestWorkers', 1), 0, 'MaxRequestWorkers=1');
$before = metrics();
@r = concurrent_gets(2, '/slow?ms=400', 30)->collect;
$after = metrics_until(sub { ($_[0]{"${w}_count"} // 0) >= $before->{"${w}_count"} + 2
        && ($_[0]{"${h}_count"} // 0) >= $before->{"${h}_count"} + 2 });
ok t_cmp(bucket($after, $w, '0.5') - bucket($before, $w, '0.5')
        - (bucket($after, $w, '0.25') - bucket($before, $w, '0.25')), 1,
    'one request waited in (0.25, 0.5]');
ok t_cmp($after->{umlconf_admission_waited_total} - $before->{umlconf_admission_waited_total}, 1,
    'umlconf_admission_waited_total counts it');
nfs_write('/config/MaxRequestWorkers', "$mrw\n");

# 3. A knob write, with a reason, and a clear.
my $qv = 'umlconf_knob_value{knob="QueueLimit",source="local"}';
my $qc = 'umlconf_knob_changes_total{knob="QueueLimit"}';
$before = metrics();
my ($rc) = nfs_write('/config/QueueLimit', "5 # 72: a knob write\n");
$after = metrics_until(sub { ($_[0]{$qv} // '') eq '5' });
ok t_cmp($after->{$qv}, 5, "the write shows: $qv 5");
ok t_cmp($after->{$qc} - $before->{$qc}, 1, "and $qc rose by 1");
ok t_cmp("$after->{'umlconf_knob_min{knob=\"QueueLimit\"}'} $after->{'umlconf_knob_max{knob=\"QueueLimit\"}'}",
    '0 8', "its bounds: 0 .. UmlConfQueue's 8");
nfs_write('/config/QueueLimit', "\n");
$after = metrics_until(sub { ($_[0]{'umlconf_knob_value{knob="QueueLimit",source="conf"}'} // '') eq '8' });
ok !exists $after->{$qv} && $after->{$qc} - $before->{$qc} == 2,
    'cleared: back to source="conf" 8, the second change counted';
ok !grep({ /knob="(LogLevel|Maintenance)"/ } grep { /^umlconf_knob_value/ } keys %$after)
        && exists $after->{'umlconf_knob_changes_total{knob="LogLevel"}'},
    'text knobs have no value sample, but their changes are counted';

# 4. A refused write counts in umlconf_errors_total.
$before = metrics();
($rc) = nfs_write('/config/QueueLimit', "9\n");
$after = metrics_until(sub { ($_[0]{umlconf_errors_total} // 0) > $before->{umlconf_errors_total} });
ok t_cmp($after->{umlconf_errors_total} - $before->{umlconf_errors_total}, 1,
    'a refused write counts in umlconf_errors_total');

# 5. The file: promtool passes it, every family is there with its type, and
# the listeners are those of status/listeners.
my $text = status_file('metrics') // '';
my ($pass, $said) = promtool_check($text);
ok $pass, "promtool check metrics passes /status/metrics: $said";
my @missing = grep { $text !~ /^# TYPE $_->[0] $_->[1]$/m || $text !~ /^# HELP $_->[0] \S/m } @families;
ok !@missing, 'every family with its HELP and TYPE: missing ' . join(' ', map { $_->[0] } @missing);
ok $text =~ /\numlconf_sched_context_switches_total \d+\n\z/, 'the file is whole (the last family ends it)';
my ($listener, $backlog, $queue) = (status_file('listeners') // '') =~ /^(\S+) backlog (\d+) queue (\d+)$/m;
my $m = samples($text);
ok defined $listener && ($m->{"umlconf_listen_backlog{listener=\"$listener\"}"} // -1) == $backlog
        && exists $m->{"umlconf_listen_queue{listener=\"$listener\"}"},
    "the listener $listener with its backlog $backlog and queue";
ok !exists $m->{umlconf_import_up}, 'no UmlConfImport: no umlconf_import_up';

# 6. The handler: the same text over HTTP.
my $get = http_get('/metrics');
ok t_cmp($get->{status} . ' ' . ($get->{headers}{'content-type'} // ''),
    '200 text/plain; version=0.0.4; charset=utf-8', 'GET /metrics: 200, the exposition format');
($pass, $said) = promtool_check($get->{body});
ok $pass, "promtool check metrics passes the handler's text: $said";
my %http_names = map { /^(\w+)/ ? ($1 => 1) : () } grep { !/^#/ } split /\n/, $get->{body};
my %nfs_names = map { /^(\w+)/ ? ($1 => 1) : () } grep { !/^#/ } split /\n/, $text;
ok t_cmp(join(' ', sort keys %http_names), join(' ', sort keys %nfs_names),
    'the same families as /status/metrics');
my ($status, $head, $body) = raw_request('HEAD');
ok $status == 200 && $body eq '' && $head =~ /^Content-Length: [1-9]\d*\r?$/mi,
    'HEAD: 200, the length, no body';
($status, $head) = raw_request('POST');
ok $status == 405 && $head =~ /^Allow: .*\bGET\b/mi, "POST: 405, Allow: GET ($status)";
