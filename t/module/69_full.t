# 69: a full state image (issue 10, UmlConfState): growth is refused with
# NFS3ERR_NOSPC and nothing acknowledged is harmed; what shrinks the tree or
# keeps its size still works, so a full image can be cleaned up. And a disk
# too small for the image refuses httpd's start without leaving half an image.
#
#  1     httpd starts with a new 1M image
#  2     a client (t/lib/crash-client.c -f) makes 16 KiB files with FILE_SYNC
#        writes until one is refused: NFS3ERR_NOSPC, after at least 192 KiB
#  3     every file whose writes were acknowledged reads back whole
#  4     every file of /status still reads
#  5     MaxRequestWorkers 16 -> 12 (a value of the same size) is written and
#        every child applies it
#  6     removing a file works
#  7     stopped (SIGTERM): umlfsck finds the image clean
#  8-9   started again: every acknowledged file is whole, the removed one is
#        gone, MaxRequestWorkers is 12
# 10-12  the image's directory is a tmpfs of 2M and UmlConfState asks for 4M:
#        httpd does not start (before it detaches: apachectl start fails),
#        says umlconf(10035) "No space left on device",
#        and leaves no file in the directory (needs root to mount: skipped
#        otherwise)
#
# On private httpds (HTTP 8570 and 8571, NFS 12570 and 12571) with the
# suite's MPM.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;
use lib UmlConf::Test::top_dir() . '/t/nfs/lib';
use NfsTest qw(nfsc);
use Cwd ();
use File::Path ();

plan tests => 12;

my $top = UmlConf::Test::top_dir();
my $size = 16384;
my $mpm = suite_mpm();
my $mpm_conf = $mpm eq 'prefork' ? "StartServers 2\nServerLimit 16\nMaxRequestWorkers 16\n"
    : "StartServers 2\nServerLimit 4\nThreadsPerChild 4\nMinSpareThreads 4\nMaxSpareThreads 16\nMaxRequestWorkers 16\n";


# What the client writes to f<n>: 64-byte lines "NNNNNN KKKKKK " and a letter.
sub content {
    my ($n) = @_;
    return join '', map { sprintf("%06d %06d ", $n, $_) . (chr(97 + ($n + $_) % 26) x 49) . "\n" }
        0 .. $size / 64 - 1;
}

my $h = private_httpd(name => '69_full', http_port => 8570, nfs_port => 12570,
    mpm_conf => $mpm_conf, memory => '',
    extra => "UmlConfKeyFile state/umlconf.key\nUmlConfState state/full.img 1M\n");
my $root = $h->{root};
my $img = "$root/state/full.img";
sub start {
    chmod 0600, "$root/state/umlconf.key";
    return $h->start(keep => 1);
}

# Every acknowledged file whole; (number whole, what was wrong).
sub check_files {
    my ($files, $removed) = @_;
    my ($whole, @bad) = (0);
    for my $n (@$files) {
        next if defined $removed && $n == $removed;
        my ($got, $err) = $h->cat("/full/f$n");
        if (defined $got && $got eq content($n)) {
            $whole++;
        } else {
            push @bad, "/full/f$n: " . (defined $got ? length($got) . ' bytes, not as written'
                : "unreadable: $err");
        }
    }
    return ($whole, @bad);
}

File::Path::remove_tree($root);
File::Path::make_path("$root/state");
my $up = start();
my $fs = $up ? $h->cat('/status/fs') // '' : '';
ok $up && $fs =~ /^size 1048576$/m, "1 httpd ($mpm) starts with a new 1M image"
    or diag $h->{start_err}, $fs, $h->log_since(0);

SKIP: {
    skip 'httpd is not up', 8 unless $up;
    my $url = 'nfs://127.0.0.1/?nfsport=12570&mountport=12570';
    my ($rc, $out, $err) = UmlConf::Test::Httpd::run_timed(60, undef, crash_client(), '-f', $size,
        '-d', '/full', $url);
    my @acked = map { m{^ACK /full/f(\d+) $size$} ? $1 : () } split /\n/, $out;
    my ($last) = $out =~ /^((?:NOSPC|FAIL) .*)$/m;
    ok $rc == 0 && ($last // '') =~ /^NOSPC .*NFS3ERR_NOSPC/ && @acked * $size >= 192 * 1024,
        sprintf '2 %d files of 16 KiB (%d KiB) acknowledged, then: %s', scalar @acked,
            @acked * $size / 1024, $last // "(exit $rc)"
        or diag $out, $err;

    my ($whole, @bad) = check_files(\@acked);
    ok !@bad && $whole == @acked, "3 all $whole acknowledged files read back whole"
        or diag join "\n", @bad;

    my $ls = $h->ls('/status') // '';
    my @names = map { (split ' ')[-1] } grep { /^-/ } split /\n/, $ls;
    my @unread = grep { !defined $h->cat("/status/$_") } @names;
    ok @names >= 3 && !@unread,
        sprintf '4 the %d files of /status still read (%s)', scalar @names, join ' ', @names
        or diag "unreadable: @unread; ls:\n$ls";

    my ($applied, $gen, $seen) = $h->knob_applies('MaxRequestWorkers', 12, 10);
    ok $applied && ($h->cat('/config/MaxRequestWorkers') // '') eq "12\n",
        '5 on the full image MaxRequestWorkers 16 -> 12 is written and every child applies it'
        or diag $seen;

    my $cwd = Cwd::getcwd();
    chdir $top;
    my ($rm, $rmout) = nfsc({ port => 12570 }, '/', 'rm', '/full/f0');
    chdir $cwd;
    my (undef, $catf0) = $h->cat('/full/f0', 1);
    ok $rm == 0 && ($catf0 // '') =~ /NOENT/, '6 removing /full/f0 works on the full image'
        or diag $rmout;

    my $s = $h->stop('TERM', 20);
    my ($frc, $fout, $ferr) = UmlConf::Test::Httpd::run_timed(60, undef, "$top/build/umlfsck", $img);
    ok defined $s->{exited} && $frc == 0, '7 stopped; umlfsck finds the full image clean'
        or diag $fout, $ferr;

    $up = start();
    ($whole, @bad) = $up ? check_files(\@acked, 0) : (0, 'httpd did not start');
    my (undef, $f0err) = $up ? $h->cat('/full/f0', 1) : ();
    ok $up && !@bad && $whole == @acked - 1 && ($f0err // '') =~ /NOENT/,
        "8 started again: the $whole acknowledged files left are whole, /full/f0 is gone"
        or diag join("\n", @bad), $h->{start_err}, $h->log_since(0);
    is $up ? $h->cat('/config/MaxRequestWorkers') : undef, "12\n",
        '9 and MaxRequestWorkers is still 12';
}
$h->end;

# A disk with no room for the image.
my $t = private_httpd(name => '69_full_tmpfs', http_port => 8571, nfs_port => 12571,
    mpm_conf => $mpm_conf, memory => '', extra => "UmlConfState state/web1.img 4M\n");
my $dir = "$t->{root}/state";
sub mounted { open my $m, '<', '/proc/mounts' or return 0; return grep { (split ' ')[1] eq $dir } <$m> }
system('umount', $dir) if mounted();    # what an interrupted run left
File::Path::remove_tree($t->{root});
File::Path::make_path($dir);
my $mount_err = `mount -t tmpfs -o size=2m tmpfs '$dir' 2>&1`;
my $have_tmpfs = $? == 0 && mounted();
END { system('umount', $dir) if $dir && mounted() }

SKIP: {
    skip "cannot mount a tmpfs of 2M on $dir (needs root): " . ($mount_err || 'not mounted'), 3
        unless $have_tmpfs;
    # As $t->start does, but without waiting 10 s for a pid file that never
    # comes: httpd refuses before it detaches (the probe of the pre-config
    # pass), and `httpd -k start` fails.
    File::Path::make_path("$t->{root}/logs", "$t->{root}/htdocs");
    open my $c, '>', $t->{conf} or die "$t->{conf}: $!";
    print $c $t->conf_text;
    close $c;
    my $httpd = eval { Apache::Test::vars('httpd') } || '/usr/sbin/apache2';
    my ($rc, $out, $err) = UmlConf::Test::Httpd::run_timed(30, undef, $httpd, '-f', $t->{conf},
        '-k', 'start');
    wait_until(sub { $t->log_since(0) =~ /umlconf\(10035\)|resuming normal operations/ }, 10)
        if $rc == 0;
    my $started = wait_until(sub { $t->get('/', 1)->{status} }, 1);
    my $said = $out . $err . $t->log_since(0);
    ok !$started && $said !~ /resuming normal operations/,
        '10 UmlConfState of 4M on a tmpfs of 2M: httpd does not start'
        or diag $said;
    ok $rc != 0 && $said =~ /umlconf\(10035\).*No space left on device/,
        "11 apachectl start fails (exit status $rc) and the log says umlconf(10035) ... No space "
        . "left on device"
        or diag $said;
    opendir my $d, $dir or die "$dir: $!";
    my @left = grep { !/^\.\.?$/ } readdir $d;
    ok !@left, '12 and no half-made image is left behind: ' . (@left ? "@left" : 'the directory is empty');
    $t->end;
}
# Retried: the last process of the refused httpd may still be on its way out.
wait_until(sub { system('umount', $dir) == 0 || !mounted() }, 10) or diag "umount $dir failed"
    if $have_tmpfs;
