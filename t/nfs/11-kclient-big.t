#!/usr/bin/perl
# The Linux kernel's NFS client (QEMU guest, t/kclient) on umlnfsd with files
# the ramfs once refused: it capped a file at 2 MiB. Skipped when the guest is
# not prepared (tools/kclient-prepare).
#  1     a 30 MiB file written with cp reads back, caches dropped, with the same sha256
#  2     dd at 3 GiB and at 4 TiB into a sparse file: the size, the data read back, a
#        hole reads as zeros, and the file holds a few blocks, not terabytes
#  3     no worker crashed
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../kclient";
use Test::More;
use NfsTest;
use KClient;

my $why = KClient::missing();
plan(skip_all => $why) if $why;
plan(tests => 3);

# Clients may take half the machine and must leave 5/16 of it free: room for 30 MiB.
my $s = start_server('-l', '127.0.0.1:0', '-m', '128M', '-e', '/:rw:127.0.0.1');
my $body = <<'SH';
dd if=/dev/urandom of=/tmp/big bs=1048576 count=30 2>/dev/null
step big sh -c 'cp /tmp/big /mnt/big && echo 3 > /proc/sys/vm/drop_caches && sha256sum < /tmp/big && sha256sum < /mnt/big'
rm -f /tmp/big /mnt/big
printf 'far away' > /tmp/block
step sparse sh -c 'dd if=/tmp/block of=/mnt/sparse bs=4096 seek=786432 conv=notrunc 2>/dev/null &&
	dd if=/tmp/block of=/mnt/sparse bs=4096 seek=1073741824 conv=notrunc 2>/dev/null &&
	echo 3 > /proc/sys/vm/drop_caches &&
	stat -c "size %s blocks %b" /mnt/sparse &&
	dd if=/mnt/sparse bs=4096 skip=786432 count=1 2>/dev/null && echo &&
	dd if=/mnt/sparse bs=4096 skip=1073741824 count=1 2>/dev/null && echo &&
	echo "hole $(dd if=/mnt/sparse bs=4096 skip=262144 count=1 2>/dev/null | tr -d "\000" | wc -c)"'
SH
my $r = KClient::run(port => $s->{port}, script => KClient::STEP_LIB . $body, timeout => 240);
my %st = %{$r->{step}};
my @sums = ($st{big}{out} // '') =~ /([0-9a-f]{64})/g;
ok(($st{big}{rc} // 1) == 0 && @sums == 2 && $sums[0] eq $sums[1],
   '1 30 MiB written with cp reads back with the same sha256')
    or diag($st{big}{out} // $r->{log});
my $out = $st{sparse}{out} // '';
my ($size, $blocks) = $out =~ /^size (\d+) blocks (\d+)$/m;
ok(($st{sparse}{rc} // 1) == 0 && defined $size && $size == 4096 * 1073741824 + 8 &&
   $blocks < 1024 && $out =~ /^far away\nfar away\nhole 0$/m,
   '2 dd at 3 GiB and 4 TiB: size, data, a hole of zeros, a few blocks held')
    or diag($out || $r->{log});
my $log = stop_server($s);
ok(log_clean($log), '3 no worker crashed') or diag($log);
