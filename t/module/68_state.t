# 68: UmlConfState keeps the knobs, clients' files and their handles across
# `apachectl stop; apachectl start` (issue 10), and refuses an image it
# can't trust without touching it.
#
#  1     httpd starts with a new image; /status/fs shows it
#  2-4   a knob written over NFS (with a reason as a comment, which the image
#        keeps as sent: the start splits it off again), a file and a
#        directory a client made
#  5     a client holds the file's handle (raw LOOKUP)
#  6     stop (SIGTERM) and start: httpd comes back on the same image
#  7-9   the knob's value, the file's content and the directory are back;
#        /status/fs says what was replayed
# 10     the handle held from before the stop still reads the file
# 11-12  httpd.conf's MaxRequestWorkers changed while stopped: the new value
#        applies, and the log says so (umlconf(10038)); a knob whose httpd.conf
#        value did not change keeps its runtime value
# 13-16  an image with corrupt superblocks, a foreign file, an image cut short,
#        and a missing directory: httpd does not start, says why
#        (umlconf(10035)), and leaves the file byte for byte as it was
#
# On a private httpd (HTTP 8585, NFS 12585) with the suite's MPM.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use Digest::MD5 ();
use UmlConf::Test;
use lib UmlConf::Test::top_dir() . '/t/nfs/lib';
use NfsTest qw(rpc_connect rpc_mnt rpc_lookup_fh rpc_call xdr_opaque nfsc);
use Cwd ();

plan tests => 16;

my $mpm = suite_mpm();
sub mpm_conf {
    my ($mrw) = @_;
    return $mpm eq 'prefork' ? "StartServers 2\nServerLimit 16\nMaxRequestWorkers $mrw\n"
        : "StartServers 2\nServerLimit 4\nThreadsPerChild 4\nMinSpareThreads 4\nMaxSpareThreads 16\nMaxRequestWorkers $mrw\n";
}
my $state_conf = "UmlConfKeyFile state/umlconf.key\nUmlConfState state/web1.img 4M\n";

my $h = private_httpd(name => '68_state', http_port => 8585, nfs_port => 12585,
    mpm_conf => mpm_conf(16), memory => '', extra => $state_conf);
my $root = $h->{root};
my $img = "$root/state/web1.img";

sub md5_of {
    open my $fh, '<:raw', $_[0] or return '';
    return Digest::MD5->new->addfile($fh)->hexdigest;
}

# READ of @fh from offset 0: (nfsstat3, data).
sub read_fh {
    my ($fh) = @_;
    my $sock = rpc_connect({ port => 12585 });
    my (undef, $res) = rpc_call($sock, 100003, 3, 6, xdr_opaque($fh) . pack('NNN', 0, 0, 100));
    my ($st, $has) = unpack('NN', $res // '');
    return (($st // -1), '') if ($st // -1) != 0;
    my $off = 8 + ($has ? 84 : 0);
    my (undef, undef, $len) = unpack('NNN', substr($res, $off, 12));
    return (0, substr($res, $off + 12, $len));
}

# The image goes in state/, beside the handle key httpd makes there (kept
# 0600: a key readable by others is refused, and handles would not outlive a
# restart).
File::Path::remove_tree($root);
File::Path::make_path("$root/state");
sub key { chmod 0600, "$root/state/umlconf.key" }
key();
my $up = $h->start(keep => 1);
my $fs = $up ? $h->cat('/status/fs') // '' : '';
ok $up && $fs =~ m{^path \Q$img\E$}m && $fs =~ /^size 4194304$/m,
    '1 httpd starts with a new 4M image, and /status/fs shows it'
    or diag $h->{start_err}, $fs, $h->log_since(0);

my ($rc, $err) = $h->put('/config/MaxRequestWorkers', "9 # 68_state: kept across restarts\n");
is $rc, 0, '2 MaxRequestWorkers 9 is written over NFS, with a reason' or diag $err;
# nfsc: t/nfs/nfsc.c, built by NfsTest from the top of the tree.
sub client {
    my $cwd = Cwd::getcwd();
    chdir UmlConf::Test::top_dir();
    my @r = nfsc({ port => 12585 }, '/', @_);
    chdir $cwd;
    return @r;
}
my ($w, $wout) = client('write', '/notes.txt', "kept across restarts\n");
is $w, 0, '3 a client writes /notes.txt' or diag $wout;
my ($mk, $mkout) = client('mkdir', '/saved');
is $mk, 0, '4 and makes the directory /saved' or diag $mkout;

my $sock = rpc_connect({ port => 12585 });
my $rootfh = rpc_mnt($sock, '/');
my $fh = $rootfh && rpc_lookup_fh($sock, $rootfh, 'notes.txt');
ok defined $fh, '5 a client holds the handle of /notes.txt';
close $sock;

my $s = $h->stop('TERM', 20);
key();
$up = defined $s->{exited} && $h->start(keep => 1);
ok $up, '6 stopped with SIGTERM and started again on the same image'
    or diag $h->{start_err}, $h->log_since(0);

is $h->cat('/config/MaxRequestWorkers'), "9\n", '7 MaxRequestWorkers is still 9';
# (nfs-cat can't open a file at the top of an export: a fresh LOOKUP and READ.)
my $sock2 = rpc_connect({ port => 12585 });
my $root2 = rpc_mnt($sock2, '/');
my $fresh = $root2 && rpc_lookup_fh($sock2, $root2, 'notes.txt');
my ($st8, $data8) = defined $fresh ? read_fh($fresh) : (-1, '');
close $sock2;
is $data8, "kept across restarts\n", "8 /notes.txt has its content (status $st8)";
$fs = $h->cat('/status/fs') // '';
my ($replayed) = $fs =~ /^replayed (\d+)$/m;
ok defined $h->ls('/saved') && ($replayed // 0) > 0,
    "9 /saved is there; /status/fs says ${\($replayed // 'nothing')} records were replayed"
    or diag $fs;

my ($st, $data) = defined $fh ? read_fh($fh) : (-1, '');
ok $st == 0 && $data eq "kept across restarts\n",
    "10 the handle held from before the stop still reads the file (status $st, no ESTALE)";

# httpd.conf changes MaxRequestWorkers while httpd is stopped.
$s = $h->stop('TERM', 20);
$h->{mpm_conf} = mpm_conf(12);
my $log0 = -s $h->{log} // 0;
key();
$up = defined $s->{exited} && $h->start(keep => 1);
is $up && $h->cat('/config/MaxRequestWorkers'), "12\n",
    "11 httpd.conf's new MaxRequestWorkers 12 applies over the saved 9";
like $h->log_since($log0), qr/umlconf\(10038\).*MaxRequestWorkers: httpd.conf changed it from 16 to 12/,
    '12 and the log says why';

$s = $h->stop('TERM', 20);

# Images it must not trust: refused, and left as they were.
sub refused {
    my ($n, $what, $prepare, $want) = @_;
    $prepare->();
    my $before = md5_of($img);
    my $size = -s $img;
    my $ok = !$h->start(keep => 1);
    my $said = $h->{start_err} . $h->log_since(0);
    ok $ok && $said =~ /umlconf\(10035\).*$want/ && md5_of($img) eq $before && (-s $img // -1) == ($size // -1),
        "$n $what: httpd does not start, says \"$want\", and the image is untouched"
        or diag $said;
    $h->end;
}

my $good = do { open my $fh, '<:raw', $img or die; local $/; <$fh> };
sub restore { open my $fh, '>:raw', $img or die; print $fh $good; close $fh }

refused(13, 'superblocks that fail their CRC', sub {
    restore();
    open my $fh, '+<:raw', $img or die;
    for my $slot (0, 4096) { seek $fh, $slot + 16, 0; print $fh pack('Q<', 424242) }
    close $fh;
}, 'corrupt: neither superblock is valid');
refused(14, 'a foreign file', sub {
    open my $fh, '>:raw', $img or die;
    print $fh 'x' x 100000;
    close $fh;
}, 'not a state image');
refused(15, 'an image cut short', sub {
    restore();
    truncate $img, 1 << 20;
}, 'truncated');
refused(16, 'a missing directory', sub {
    File::Path::remove_tree("$root/state");
    $h->{extra} = $state_conf;
}, 'does not exist');
