# 20: bad writes are refused by the server (the tool fails), the value in
# force and in the file stays, and the reason lands in /status/errors and in
# the error log under a stable number. Also pins: an empty write (the first
# half of `echo >`) keeps the value; a write to /status is refused (by ACCESS,
# before any WRITE is sent: see t/unit/test_vfs.c for one that reaches the server).
# A comment (a reason) is split off before the value is parsed; a bad reason
# refuses the whole write.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use Apache::TestRequest qw(GET_BODY);
use UmlConf::Test;

my $max = knob('MaxRequestWorkers');
my @bad = (
    [ 'abc',          "abc\n",            qr/not a decimal number/ ],
    [ 'negative',     "-1\n",             qr/out of range/ ],
    [ 'zero',         "0\n",              qr/out of range 1\.\./ ],
    [ 'above MPM',    ($max + 1) . "\n",  qr/out of range/ ],
    [ 'huge',         "99999999999999999999999\n", qr/out of range/ ],
    [ 'too long',     ('1' x 40) . "\n",  qr/too long/ ],
    [ 'trailing junk', "5x\n",            qr/not a decimal number/ ],
    [ 'two lines',    "5\n6\n",           qr/not a decimal number/ ],
    # A comment is split off before the parser sees the value; its reason has rules of its own.
    [ 'junk before a comment', "5x # why\n", qr/not a decimal number/ ],
    [ 'reason too long', "5 # " . ('r' x 161) . "\n", qr/reason too long \(161 bytes, at most 160\)/ ],
    [ 'reason not printable', "5 # caf\xc3\xa9\n", qr/not printable ASCII \(0xc3\)/ ],
);
plan tests => 5 * @bad + 15;

my $gen = status_file('generation');
for my $case (@bad) {
    my ($what, $content, $reason) = @$case;
    my $off = error_log_size();
    my ($rc, $err) = nfs_write('/config/MaxRequestWorkers', $content);
    ok $rc != 0, "$what: the write fails";
    # The file may be empty for a moment after O_TRUNC; it gets the value back.
    ok t_cmp(wait_until(sub { knob('MaxRequestWorkers') eq $max ? 1 : 0 }, 5), 1,
        "$what: value unchanged in the file");
    my $errors = status_file('errors') // '';
    my ($last) = (split /\n/, $errors)[-1] // '';
    ok t_cmp($last, qr{^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ /config/MaxRequestWorkers "},
        "$what: in status/errors");
    ok t_cmp($last, $reason, "$what: reason given");
    ok t_cmp(wait_until(sub { error_log_since($off) =~ /umlconf\(10003\).*MaxRequestWorkers/ }, 5),
        1, "$what: in the error log with its number");
}
ok t_cmp(status_file('generation'), $gen, 'no refused write moved the generation');

# An editor's save (temporary + rename over the knob) is a validated write.
my ($rc) = nfs_write('/config/MaxRequestWorkers', "abc\n", 'rename');
ok $rc != 0, 'rename of an invalid value over the knob refused';
ok t_cmp(knob('MaxRequestWorkers'), $max, 'value unchanged');
($rc) = nfs_write('/config/MaxRequestWorkers', ($max - 1) . "\n", 'rename');
ok t_cmp($rc, 0, 'rename of a valid value accepted');
ok t_cmp(knob('MaxRequestWorkers'), $max - 1, 'and in force');
nfs_write('/config/MaxRequestWorkers', "$max\n");

# A write may carry its reason as a comment: the value part is what counts.
($rc) = nfs_write('/config/MaxRequestWorkers', ($max - 2) . " # 20_invalid: a value with its reason\n");
ok t_cmp($rc, 0, 'a value with a comment accepted');
ok t_cmp(knob('MaxRequestWorkers'), $max - 2, 'the value before the comment in force');
# Only a comment is an empty write: the local value goes, httpd.conf's is back.
($rc) = nfs_write('/config/MaxRequestWorkers', "# 20_invalid: back to httpd.conf\n");
ok t_cmp($rc, 0, 'a comment alone accepted');
ok t_cmp(status_file('config'), qr/^MaxRequestWorkers $max conf /m, "and httpd.conf's value is back");

# A knob refuses what others accept.
($rc) = nfs_write('/config/Accepting', "2\n");
ok $rc != 0, 'Accepting=2 refused';
ok t_cmp(wait_until(sub { knob('Accepting') eq '1' ? 1 : 0 }, 5), 1, 'Accepting still 1');

# An empty write (what O_TRUNC leaves before the data) is accepted and
# changes nothing in force.
my $backlog = knob('ListenBacklog');
($rc) = nfs_write('/config/ListenBacklog', '');
ok t_cmp($rc, 0, 'empty write accepted');
ok t_cmp(GET_BODY('/server-status?auto'), qr/^UmlConfListenBacklog: $backlog$/m,
    'ListenBacklog in force unchanged');
nfs_write('/config/ListenBacklog', "$backlog\n");

# Status files are read-only.
my $before = status_file('generation');
($rc) = nfs_write('/status/generation', "42\n");
ok $rc != 0, 'write to status/generation refused';
ok t_cmp(status_file('generation'), $before, 'status/generation unchanged');
