package KClient;
# Perl side of t/kclient: run a busybox sh script in a QEMU guest that has
# mounted an NFSv3 export of this host with the Linux kernel's NFS client,
# and parse its per-step results.
#
#   use lib "$FindBin::Bin/../kclient"; use KClient;
#   my $why = KClient::missing();          # undef when the guest can run
#   my $r = KClient::run(port => 12049, script => KClient::STEP_LIB . $body);
#   $r->{rc}, $r->{log}, $r->{step}{name}{rc}, $r->{step}{name}{out}
#
# In the script, `step NAME CMD ARGS...` runs CMD and prints
# "STEP NAME rc=N" followed by its stdout+stderr, each line prefixed "| ".
# `settle FILE WANT [TENTHS]` cats FILE until it shows WANT (one line), up to
# TENTHS tenths of a second (default 50), and prints the last content; a
# line "#note: ..." in a step's output goes to {notes}, not to {out}.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempfile);

my $dir = File::Spec->rel2abs(dirname(__FILE__));

sub dir   { $dir }
sub cache { $ENV{KCLIENT_CACHE} || "$dir/cache" }

# Why the guest cannot run here, or undef.
sub missing {
    my $c = cache();
    return "kclient assets not prepared in $c (run tools/kclient-prepare as root)"
        unless -s "$c/vmlinuz" && -s "$c/initramfs.cpio.gz";
    return 'qemu-system-x86_64 not installed (run tools/kclient-prepare as root)'
        if system('sh', '-c', 'command -v qemu-system-x86_64 >/dev/null && command -v cpio >/dev/null');
    return undef;
}

use constant STEP_LIB => <<'EOF';
step() {
    name=$1; shift
    out=$("$@" 2>&1); rc=$?
    echo "STEP $name rc=$rc"
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/| /'
    return 0
}
settle() {
    n=0
    while :; do
        got=$(cat "$1" 2>&1); grc=$?
        [ $grc = 0 ] && [ "$got" = "$2" ] && break
        [ $n -ge "${3:-50}" ] && break
        [ $n = 0 ] && first=$got
        n=$((n + 1))
        sleep 0.1
    done
    [ $n -gt 0 ] && echo "#note: $1 showed '$first' at first, '$got' after $n retries"
    printf '%s\n' "$got"
    return $grc
}
EOF

# run(port => P, script => TEXT, [mount_port => M], [export => '/'],
#     [timeout => S], [mount_opts => 'a,b'], [mount_timeout => S])
# run(no_options => 1, script => TEXT, [mount_verbose => 1], [export => '/'],
#     [timeout => S], [mount_timeout => S])
# Either may add wrap => [CMD...], a command the guest runs under (such as
# t/kclient/nfs-ns ... --), keep => DIR (the guest's --keep), and
# tap => IFNAME, guest_addr => 'A/P', server => ADDR: the guest's NIC on an
# existing TAP device instead of QEMU's user networking (the guest's --tap).
# Returns { rc => exit status (the guest's, or the wrapper's), log => all
# output, out => script output, step => { NAME => { rc, out } } } and, with
# no_options, mount => { ms, type, vers, proto, port, mountproto, mountport,
# lock } (what the guest's kclient-mount line says), mount_options (as in
# /proc/mounts) and mount_helper (mount.nfs's lines).
sub run {
    my %a = @_;
    my ($fh, $file) = tempfile('kclient-script-XXXXXX', TMPDIR => 1, UNLINK => 1);
    print $fh $a{script};
    close $fh;
    my @cmd = (@{$a{wrap} // []}, "$dir/guest", '--script', $file,
               '--export', $a{export} // '/', '--timeout', $a{timeout} // 120);
    if ($a{no_options}) {
        push @cmd, '--no-options';
        push @cmd, '--mount-verbose' if $a{mount_verbose};
    } else {
        push @cmd, '--port', $a{port};
        push @cmd, '--mount-port', $a{mount_port} if $a{mount_port};
        push @cmd, '--mount-opts', $a{mount_opts} if $a{mount_opts};
    }
    push @cmd, '--mount-timeout', $a{mount_timeout} if $a{mount_timeout};
    push @cmd, '--keep', $a{keep} if $a{keep};
    push @cmd, '--tap', $a{tap}, '--guest-addr', $a{guest_addr}, '--server', $a{server}
        if $a{tap};
    my $log = '';
    if (open(my $p, '-|') // die "fork: $!") {
        local $/;
        $log = <$p>;
        close $p;
    } else {
        open(STDERR, '>&', \*STDOUT);
        exec(@cmd) or die "exec $cmd[0]: $!";
    }
    my %r = (rc => $? >> 8, log => $log, out => '', step => {}, mount => {},
             mount_options => '', mount_helper => '');
    my ($in, $cur);
    for (split /\n/, $log) {
        if (!$in && /^kclient-mount: (.*)$/) {
            $r{mount} = { map { split /=/, $_, 2 } split ' ', $1 };
            next;
        }
        if (!$in && /^kclient-mount-options: (.*)$/) { $r{mount_options} = $1; next }
        if (!$in && /^kclient-mount-helper: (.*)$/) { $r{mount_helper} .= "$1\n"; next }
        if (/^==== kclient script output begin ====$/) { $in = 1; next }
        if (/^==== kclient script output end/) { $in = 0; next }
        next unless $in;
        $r{out} .= "$_\n";
        if (/^STEP (\S+) rc=(\d+)$/) {
            $cur = $r{step}{$1} = { rc => $2, out => '', notes => '' };
        } elsif ($cur && /^\| #note: (.*)$/) {
            $cur->{notes} .= "$1\n";
        } elsif ($cur && /^\| ?(.*)$/) {
            $cur->{out} .= "$1\n";
        }
    }
    return \%r;
}

1;
