# 73: /status/changes, the ring of accepted changes (issue 12): a write with a
# reason shows up with the client's address, the old and new value, the layer
# now in force and the reason; a clear (an empty write) shows up too; the same
# value again is no change; a refused write and a write with an invalid
# reason do not show up and leave the value in force; each change is in the
# error log as umlconf(10046); the ring keeps the last 64, oldest first.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;

plan tests => 15;

my $stamp = qr/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/;

sub changes { return grep { /\S/ } split /\n/, status_file('changes') // '' }
sub last_change { return (changes())[-1] // '' }

# httpd.conf's MaxRequestWorkers (status/config's conf column), and a clean start.
my ($conf) = (status_file('config') // '') =~ /^MaxRequestWorkers \S+ \S+ \S+ (\d+) /m;
nfs_write('/config/MaxRequestWorkers', "\n");
my $v = $conf - 1;

# 1. A write with a reason.
my $off = error_log_size();
my ($rc) = nfs_write('/config/MaxRequestWorkers', "$v # 73: drain, backlog 312 > 64 for 3s\n");
ok t_cmp($rc, 0, 'a write with a reason accepted');
ok t_cmp(last_change(),
    qr{^$stamp 127\.0\.0\.1:\d+ MaxRequestWorkers "$conf" "$v" local "73: drain, backlog 312 > 64 for 3s"$},
    'in status/changes: time, client, knob, old and new value, source, reason');
ok t_cmp(wait_until(sub { error_log_since($off) =~
        /umlconf\(10046\): MaxRequestWorkers changed from "$conf" to "$v" by 127\.0\.0\.1:\d+, local in force: "73: drain, backlog 312 > 64 for 3s"/ }, 5),
    1, 'and in the error log as umlconf(10046)');

# 2. The same value again changes nothing: no line. (The ring may be full
# from earlier tests: compare all of it.)
my $ring = status_file('changes');
($rc) = nfs_write('/config/MaxRequestWorkers', "$v # 73: the same again\n");
ok t_cmp(status_file('changes'), $ring, 'the same local value again is no change');

# 3. A refused write is no change, and the value stays.
($rc) = nfs_write('/config/MaxRequestWorkers', "abc # 73: refused\n");
ok $rc != 0, 'an invalid value with a reason refused';
ok t_cmp(status_file('changes'), $ring, 'and not in status/changes');

# 4. An invalid reason refuses the write; the old value stays.
for my $bad (["caf\xc3\xa9", qr/not printable ASCII/], ['x' x 161, qr/reason too long/]) {
    my ($reason, $why) = @$bad;
    ($rc) = nfs_write('/config/MaxRequestWorkers', ($v - 1) . " # $reason\n");
    my ($err) = (split /\n/, status_file('errors') // '')[-1] // '';
    ok $rc != 0 && $err =~ $why && wait_until(sub { (knob('MaxRequestWorkers') // '') eq $v }, 5)
        && status_file('changes') eq $ring,
        "an invalid reason refused ($err), the value stays $v, no change recorded";
}

# 5. Quotes and backslashes in a reason are escaped as status/errors escapes values.
($rc) = nfs_write('/config/MaxRequestWorkers', ($v - 1) . " # say \"hi\" \\ bye\n");
ok t_cmp(last_change(), qr{ "$v" "@{[$v - 1]}" local "say \\"hi\\" \\\\ bye"$}, 'a reason quoted');

# 6. A clear (an empty write, or a comment alone) is a change: httpd.conf's value is back.
($rc) = nfs_write('/config/MaxRequestWorkers', "# 73: incident over\n");
ok t_cmp(last_change(),
    qr{^$stamp 127\.0\.0\.1:\d+ MaxRequestWorkers "@{[$v - 1]}" "$conf" conf "73: incident over"$},
    'a clear with a reason: back to conf');
($rc) = nfs_write('/config/Accepting', "0\n");
($rc) = nfs_write('/config/Accepting', "\n");
ok t_cmp(last_change(), qr{ Accepting "0" "1" conf ""$}, 'an empty write: a clear without a reason');
ok t_cmp(knob('Accepting'), 1, 'Accepting is 1 again');
$ring = status_file('changes');
($rc) = nfs_write('/config/Accepting', "\n");
ok t_cmp(status_file('changes'), $ring, 'a clear with nothing to clear is no change');

# 7. The ring keeps the last 64, oldest first.
for my $i (1 .. 70) {
    nfs_write('/config/MaxRequestWorkers', ($i % 2 ? $v : $v - 1) . " # 73: ring $i\n");
}
my @ring = changes();
ok t_cmp(scalar(@ring), 64, 'the ring keeps 64 changes');
my @nums = map { /"73: ring (\d+)"$/ ? $1 : 0 } @ring;
ok t_cmp("@nums[0, -1]", '7 70', 'oldest first: the 7th to the 70th of 70');

nfs_write('/config/MaxRequestWorkers', "\n");
