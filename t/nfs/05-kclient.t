#!/usr/bin/perl
# The Linux kernel's NFS client (QEMU guest, t/kclient) on umlnfsd: what a
# monitor host does with a mounted export. Skipped when the guest is not
# prepared (tools/kclient-prepare).
#  1     the mount works and ls shows the tree
#  2     echo > file replaces a value; cat shows it
#  3     mkdir, write, rename, remove, rmdir
#  4     a 1.5 MiB file written with dd reads back with the same checksum
#  5     chmod and touch -d (SETATTR) show in ls
#  6     the ro export: creating a file is EROFS; overwriting one is EACCES, because
#        ACCESS does not grant MODIFY there (as knfsd does), so the client refuses the open
#  7     no worker crashed
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../kclient";
use Test::More;
use NfsTest;
use KClient;

my $why = KClient::missing();
plan(skip_all => $why) if $why;
plan(tests => 7);

my $s = start_server('-l', '127.0.0.1:0', '-m', '32M', '-p', '/config/MaxRequestWorkers=150',
		     '-p', '/ro/motd=hi', '-e', '/:rw:127.0.0.1', '-e', '/ro:ro:127.0.0.1');
my $body = <<'SH';
step ls ls /mnt /mnt/config
echo 200 > /mnt/config/MaxRequestWorkers
step echo cat /mnt/config/MaxRequestWorkers
step dirops sh -c 'mkdir /mnt/d && echo hi > /mnt/d/f && mv /mnt/d/f /mnt/d/g && cat /mnt/d/g && rm /mnt/d/g && rmdir /mnt/d && ls /mnt'
dd if=/dev/urandom of=/tmp/big bs=65536 count=24 2>/dev/null
cp /tmp/big /mnt/big
echo 3 > /proc/sys/vm/drop_caches
step big sh -c 'md5sum < /tmp/big; md5sum < /mnt/big'
step setattr sh -c 'chmod 600 /mnt/config/MaxRequestWorkers && touch -d "2020-01-02 03:04:05" /mnt/config/MaxRequestWorkers && ls -l --full-time /mnt/config/MaxRequestWorkers'
mkdir /ro && mount -t nfs -o "$KCLIENT_MOUNT_OPTIONS" 10.0.2.2:/ro /ro
step ro sh -c 'cat /ro/motd; echo x > /ro/new; echo x > /ro/motd; cat /ro/motd'
SH
my $r = KClient::run(port => $s->{port}, script => KClient::STEP_LIB . $body, timeout => 90);
my %st = %{$r->{step}};
ok($r->{rc} == 0 && ($st{ls}{out} // '') =~ /config.*MaxRequestWorkers/s, '1 mount and ls')
    or diag($r->{log});
is($st{echo}{out}, "200\n", '2 echo 200 > file, then cat shows 200');
ok(($st{dirops}{rc} // 1) == 0 && $st{dirops}{out} =~ /^hi\n/ && $st{dirops}{out} !~ /\bd\b/,
   '3 mkdir, write, rename, remove, rmdir') or diag($st{dirops}{out});
my @sums = ($st{big}{out} // '') =~ /([0-9a-f]{32})/g;
ok(@sums == 2 && $sums[0] eq $sums[1], '4 1.5 MiB written with cp reads back identical')
    or diag($st{big}{out});
like($st{setattr}{out} // '', qr/^-rw-------.*2020-01-02 03:04:05/, '5 chmod and touch -d');
like($st{ro}{out} // '', qr/^hi.*new: Read-only file system\n.*motd: Permission denied\nhi/s,
   '6 the ro export refuses a new file (EROFS) and a write (EACCES)');
my $log = stop_server($s);
ok(log_clean($log), '7 no worker crashed') or diag($log);
