# 70: knob values, the generation, the error ring and the NFS service survive
# `apachectl graceful` (SIGUSR1): the new module generation adopts the machine.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use Apache::TestRequest qw(GET_BODY);
use UmlConf::Test;
use POSIX ();

plan tests => 10;

my $orig = knob('MaxRequestWorkers');
my ($rc) = nfs_write('/config/MaxRequestWorkers', "7\n");
ok t_cmp($rc, 0, 'MaxRequestWorkers=7');
nfs_write('/config/Accepting', "yes\n");    # leaves a line in status/errors
my $gen = status_file('generation');
my $errors = status_file('errors');
my $parent = httpd_pid();

ok graceful_restart(), 'graceful restart done';
ok t_cmp(httpd_pid(), $parent, 'same parent');
ok t_cmp(knob('MaxRequestWorkers'), 7, 'value survived');
ok t_cmp(status_file('generation'), $gen, 'generation survived');
ok t_cmp(status_file('errors'), $errors, 'error ring survived');
ok t_cmp(GET_BODY('/server-status?auto'), qr/^UmlConfMaxRequestWorkers: 7$/m,
    'the reloaded module enforces it');

# A file handle taken before a restart still works after it: open now, write
# through the handle after a second graceful restart is done.
my $held = fork // die "fork: $!";
if (!$held) {
    my ($rc, $err) = nfs_write('/config/MaxRequestWorkers', "9\n", 'delay=4');
    print STDERR $err if $rc;
    POSIX::_exit($rc);
}
sleep 1;
graceful_restart();
waitpid $held, 0;
ok t_cmp($? >> 8, 0, 'write through a handle from before the restart succeeded');
ok t_cmp(knob('MaxRequestWorkers'), 9, 'and took effect');

nfs_write('/config/MaxRequestWorkers', "$orig\n");
ok t_cmp(knob('MaxRequestWorkers'), $orig, 'restored after the restart');
