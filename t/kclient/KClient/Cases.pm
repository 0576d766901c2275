package KClient::Cases;
# The Linux kernel NFS client's cases, as an admin runs them from a monitor
# host: boot the guest (KClient), mount the export with vers=3 over TCP,
# edit knobs the way an admin would (echo, sed -i, cp, rm) and check what a
# user sees; then check through libnfs that the server serves what the
# guest wrote; a second short boot restores the knobs. One set, two
# transports: t/module/90_kclient.t over the host's sockets (QEMU's user
# networking), t/module/99_interface.t over the machine's own stack (the
# guest's NIC a TAP bridged with the httpd's interface).
#
#   KClient::Cases::run(guest => { port => P, mount_port => M, export => '/',
#                                  [tap => T, guest_addr => 'A/P', server => S] },
#                       nfs_cat => sub { my ($path) = @_; ...; content or undef },
#                       where => '127.0.0.1:12049/', [values => [3, 4, 5, 6]]);
#
# Makes KClient::Cases::TESTS checks. @values: MaxRequestWorkers values the
# server takes; two that differ from the one in force are written.
use strict;
use warnings;
use Test::More;
use KClient;

use constant TESTS => 34;

sub run {
    my %a = @_;
    my %guest = %{ $a{guest} };
    my ($nfs_cat, $where) = @a{qw(nfs_cat where)};
    my $mrw = 'MaxRequestWorkers';
    my $r;

    my $orig = $nfs_cat->("config/$mrw");
    ok(defined $orig && $orig =~ /^\d+\n\z/, "host: nfs-cat config/$mrw serves a number")
        or diag("served: " . ($orig // 'nothing (nfs-cat failed)'));
    # Without the host's view the guest's first read tells what to restore.
    my $host_orig = defined $orig && $orig =~ /^\d+\n\z/;
    $orig = "150\n" unless $host_orig;
    chomp(my $o = $orig);
    # Values that differ from the current one, so every change is visible.
    my ($v1, $v2) = grep { $_ != $o } @{ $a{values} // [3, 4, 5, 6] };

    # Every "step NAME CMD..." in the guest reports its status and output; the
    # Perl side asserts.
    my $script = KClient::STEP_LIB . <<"EOF";
K=/mnt/config/$mrw
step read0 cat \$K
step echo sh -c 'echo $v1 > /mnt/config/$mrw'
step read_echo cat \$K
step sed_i sed -i 's/^$v1\$/$v2/' \$K
step read_sed cat \$K
step ls_config ls -a /mnt/config
printf '0\\n' >/tmp/acc0
printf '1\\n' >/tmp/acc1
step cp_acc0 cp /tmp/acc0 /mnt/config/Accepting
step read_acc0 cat /mnt/config/Accepting
step cp_acc1 cp /tmp/acc1 /mnt/config/Accepting
step read_acc1 cat /mnt/config/Accepting
# An invalid value: the server refuses the WRITE (NFS3ERR_INVAL) or the
# RENAME; a file truncated by O_TRUNC first gets the value in force back
# shortly after, so the reads wait up to 5 s for it (a note says when they
# had to). On the default (async) mount the kernel reports a refused WRITE
# only at close(2), which a shell's redirection ignores, so `echo abc >`
# exits 0 there; a sync mount reports it at write(2); cp checks close(2).
step bad_echo sh -c 'echo abc > /mnt/config/$mrw'
step read_bad_echo settle \$K $v2
mkdir -p /sync
step mount_sync mount -t nfs -o "\${KCLIENT_MOUNT_OPTIONS:+\$KCLIENT_MOUNT_OPTIONS,}sync" "\$KCLIENT_SOURCE" /sync
step bad_echo_sync sh -c 'echo abc > /sync/config/$mrw'
step read_bad_echo_sync settle \$K $v2
printf 'abc\\n' >/tmp/bad
step bad_cp cp /tmp/bad \$K
step read_bad_cp settle \$K $v2
umount /sync
step bad_sed sed -i 's/.*/abc/' \$K
step read_bad_sed settle \$K $v2
# A refused rename leaves sed's temp file behind, as on any filesystem.
rm -f /mnt/config/$mrw?*
step rm rm \$K
step read_rm cat \$K
if [ -d /mnt/notes ]; then made=; else made=1; step mkdir_notes mkdir /mnt/notes; fi
step create sh -c 'echo hello > /mnt/notes/x'
step read_x cat /mnt/notes/x
step rm_x rm /mnt/notes/x
step ls_notes ls -a /mnt/notes
[ -n "\$made" ] && step rmdir_notes rmdir /mnt/notes
step ls_status ls /mnt/status
# Leave Accepting=1 whatever happened above; the host restores $mrw.
cp /tmp/acc1 /mnt/config/Accepting
exit 0
EOF

    $r = KClient::run(%guest, script => $script, timeout => 180);
    ok($r->{rc} == 0, "guest: booted, mounted $where with the Linux NFS client, ran the script")
        or diag("guest exit $r->{rc}:\n$r->{log}");

    my $st = sub { $r->{step}{$_[0]} || { rc => -1, out => "(step $_[0] did not run)\n" } };
    my $step_ok = sub {
        my ($name, $want_out, $what) = @_;
        my $s = $st->($name);
        my $pass = $s->{rc} == 0 && (!defined $want_out || $s->{out} eq $want_out);
        note("step $name: $s->{notes}") if $s->{notes};
        ok($pass, "guest: $what") or diag("step $name rc=$s->{rc} output:\n$s->{out}");
    };
    my $step_fails = sub {
        my ($name, $what) = @_;
        my $s = $st->($name);
        ok($s->{rc} > 0, "guest: $what fails with an error status")
            or diag("step $name rc=$s->{rc} output:\n$s->{out}");
    };

    $step_ok->('read0', $orig, "cat config/$mrw shows the served value $o");
    $step_ok->('echo', '', "echo $v1 > config/$mrw");
    $step_ok->('read_echo', "$v1\n", "cat shows $v1");
    $step_ok->('sed_i', '', "sed -i 's/^$v1\$/$v2/' config/$mrw (temp file + rename)");
    $step_ok->('read_sed', "$v2\n", "cat shows $v2 after sed -i");
    {
        my $s = $st->('ls_config');
        my @names = grep { $_ ne '.' && $_ ne '..' } split /\n/, $s->{out};
        ok($s->{rc} == 0 && (grep { $_ eq $mrw } @names) && !(grep { /^sed|^\Q$mrw\E./ } @names),
            "guest: ls config lists $mrw and no temp file left by sed -i")
            or diag("ls -a /mnt/config rc=$s->{rc}:\n$s->{out}");
    }
    $step_ok->('cp_acc0', '', 'cp file config/Accepting (0)');
    $step_ok->('read_acc0', "0\n", 'cat config/Accepting shows 0');
    $step_ok->('cp_acc1', '', 'cp file config/Accepting (1)');
    $step_ok->('read_acc1', "1\n", 'cat config/Accepting shows 1');
    $step_ok->('read_bad_echo', "$v2\n", "after echo abc > config/$mrw (async mount) the old value $v2 stays");
    note("echo abc on the async mount exited " . $st->('bad_echo')->{rc}
        . " (a shell ignores the error close(2) reports)");
    $step_ok->('mount_sync', '', 'second mount of the export with -o sync');
    $step_fails->('bad_echo_sync', "echo abc > config/$mrw on a sync mount");
    $step_ok->('read_bad_echo_sync', "$v2\n", "the old value $v2 stays");
    $step_fails->('bad_cp', "cp of a file holding abc to config/$mrw");
    $step_ok->('read_bad_cp', "$v2\n", "the old value $v2 stays");
    $step_fails->('bad_sed', "sed -i 's/.*/abc/' config/$mrw (the rename is refused)");
    $step_ok->('read_bad_sed', "$v2\n", "the old value $v2 stays");
    $step_fails->('rm', "rm config/$mrw");
    $step_ok->('read_rm', "$v2\n", "config/$mrw is still there with $v2");
    $step_ok->('create', '', 'echo hello > notes/x creates a scratch file');
    $step_ok->('read_x', "hello\n", 'cat notes/x shows hello');
    $step_ok->('rm_x', '', 'rm notes/x');
    {
        my $s = $st->('ls_notes');
        ok($s->{rc} == 0 && $s->{out} !~ /^x$/m, 'guest: notes/x is gone')
            or diag("ls -a /mnt/notes rc=$s->{rc}:\n$s->{out}");
    }
    {
        my $s = $st->('ls_status');
        ok($s->{rc} == 0 && $s->{out} =~ /\S/, 'guest: ls status lists files')
            or diag("ls /mnt/status rc=$s->{rc}:\n$s->{out}");
    }

    # The host's view, through libnfs.
    is($nfs_cat->("config/$mrw"), "$v2\n", "host: nfs-cat config/$mrw serves $v2, the guest's last write");
    is($nfs_cat->('config/Accepting'), "1\n", 'host: nfs-cat config/Accepting serves 1');

    # Restore with a second, short boot: libnfs 4.0's nfs-cp creates its target
    # GUARDED, so it cannot overwrite an existing file (NFS3ERR_EXIST on any
    # server). The fresh client also shows what a new mount sees.
    if (!$host_orig && $st->('read0')->{out} =~ /^\d+\n\z/) {
        $orig = $st->('read0')->{out};
        chomp($o = $orig);
    }
    my $r2 = KClient::run(%guest, timeout => 60, script => KClient::STEP_LIB . <<"EOF");
step fresh_read cat /mnt/config/$mrw
step restore sh -c 'echo $o > /mnt/config/$mrw'
step restore_acc sh -c 'echo 1 > /mnt/config/Accepting'
EOF
    ok($r2->{rc} == 0, 'guest: second boot (restore) ran') or diag("guest exit $r2->{rc}:\n$r2->{log}");
    $r = $r2;
    $step_ok->('fresh_read', "$v2\n", "a fresh mount shows $v2");
    $step_ok->('restore', '', "echo $o > config/$mrw restores it");
    is($nfs_cat->("config/$mrw"), $orig, "host: nfs-cat config/$mrw serves $o again");
    is($nfs_cat->('config/Accepting'), "1\n", 'host: nfs-cat config/Accepting serves 1');
}

1;
