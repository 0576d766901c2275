# 87: /config/Maintenance (mod_umlconf_httpd) answers 503 with Retry-After
# for the virtual hosts named, live in every child, and leaves the others
# alone; "*" takes every host, "none" none; a host that does not exist is
# refused and the value in force stays.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;

plan tests => 15;

my $vport = Apache::Test::vars('umlconf_maint_port') or die 'no umlconf_maint vhost';

# Statuses of a few requests (fresh connections spread over the children).
sub statuses {
    my ($port) = @_;
    my %seen;
    $seen{ http_get('/index.html', 10, $port)->{status} }++ for 1 .. 4;
    return join ',', sort keys %seen;
}

ok t_cmp(knob('Maintenance'), 'none', 'no host in maintenance at start');
ok t_cmp(statuses($vport), '200', 'the vhost serves');

ok t_cmp(set_knob('Maintenance', 'maint.test'), 0, 'Maintenance=maint.test accepted');
ok t_cmp(statuses($vport), '503', 'the vhost answers 503');
my $r = http_get('/index.html', 10, $vport);
ok t_cmp($r->{headers}{'retry-after'}, 60, 'with Retry-After');
ok t_cmp(statuses(undef), '200', 'the main server still serves');

for my $bad ('nosuch.test', 'none maint.test', "maint.test\nx") {
    my ($rc) = nfs_write('/config/Maintenance', "$bad\n");
    ok $rc != 0, "Maintenance='$bad' refused";
}
ok t_cmp(wait_until(sub { knob('Maintenance') eq 'maint.test' ? 1 : 0 }, 5), 1,
    'value unchanged');
ok t_cmp(statuses($vport), '503', 'and still in force');

ok t_cmp(set_knob('Maintenance', '*'), 0, 'Maintenance=* accepted');
ok t_cmp(statuses(undef), '503', 'every host answers 503');
ok t_cmp(set_knob('Maintenance', 'none'), 0, 'Maintenance=none accepted');
ok t_cmp(statuses($vport) . ' ' . statuses(undef), '200 200', 'every host serves again');
