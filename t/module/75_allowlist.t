# 75: the export allowlist. "/" is exported to 127.0.0.1 only and /private to
# 127.0.0.2 only (extra.conf.in); a libnfs client speaking from 127.0.0.2 is
# refused at MOUNT of "/" and cannot read or write the knobs, but may use the
# export that lists it.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;

plan tests => 7;

ok defined nfs_ls('/'), '127.0.0.1 lists /';
my $before = knob('MaxRequestWorkers');

as_client('127.0.0.2', sub {
    my ($ls, $err) = nfs_ls('/');
    ok !defined $ls, '127.0.0.2 cannot mount /';
    ok t_cmp($err, qr/ACCES|denied/i, 'refused with an access error');
    ok !defined nfs_cat('/config/MaxRequestWorkers'), '127.0.0.2 cannot read a knob';
    my ($rc) = nfs_write('/config/MaxRequestWorkers', "3\n");
    ok $rc != 0, '127.0.0.2 cannot write a knob';
    ok defined nfs_ls('/private'), '127.0.0.2 lists /private, its own export';
});
ok t_cmp(knob('MaxRequestWorkers'), $before, 'knob unchanged');
