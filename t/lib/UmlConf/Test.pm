package UmlConf::Test;

# Helpers for mod_umlconf's Apache::Test suite: the real libnfs tools as the
# NFS client, raw concurrent HTTP requests, and waiting for the server.
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use File::Temp ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes qw(time sleep);
use Apache::Test ();
use Apache::TestRequest ();

our @EXPORT = qw(nfs_url nfs_cat nfs_write nfs_ls knob status_file wait_until as_client
    http_get concurrent_gets error_log_since error_log_size graceful_restart
    httpd_pid max_overlap set_knob knob_names);

sub nfs_port { $ENV{UMLCONF_NFS_PORT} || 12049 }

# libnfs 4.0 takes fixed ports in the URL, so no portmapper is needed.
sub nfs_url {
    my ($path) = @_;
    my $p = nfs_port();
    return "nfs://127.0.0.1$path?nfsport=$p&mountport=$p";
}

sub run_tool {
    my @cmd = @_;
    my $err = File::Temp->new;
    my $pid = open(my $out, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', $err or POSIX::_exit(127);
        exec @cmd or POSIX::_exit(127);
    }
    local $/;
    my $text = <$out> // '';
    close $out;
    my $rc = $? >> 8;
    seek $err, 0, 0;
    my $msg = do { local $/; <$err> } // '';
    return ($rc, $text, $msg);
}

# Content of a file in the exported tree; undef (and the error) when it failed.
sub nfs_cat {
    my ($path) = @_;
    my ($rc, $text, $err) = run_tool('nfs-cat', nfs_url($path));
    return wantarray ? ($rc == 0 ? $text : undef, $err) : ($rc == 0 ? $text : undef);
}

sub nfs_ls {
    my ($path) = @_;
    my ($rc, $text, $err) = run_tool('nfs-ls', nfs_url($path));
    return wantarray ? ($rc == 0 ? $text : undef, $err) : ($rc == 0 ? $text : undef);
}

# Write @content as the whole file, as an admin would: open(O_TRUNC), WRITE,
# COMMIT (nfs-put, a libnfs client: nfs-cp cannot replace a file). With
# $how eq 'rename', write a temporary and RENAME it over the file (editors,
# sed -i); with 'delay=S', open now and write S seconds later through the
# same file handle. Returns (exit status, stderr).
sub nfs_write {
    my ($path, $content, $how) = @_;
    my $tmp = File::Temp->new;
    print $tmp $content;
    close $tmp;
    my $put = $ENV{UMLCONF_NFS_PUT} or die "UMLCONF_NFS_PUT is not set (t/TEST sets it)";
    my @opt = !defined $how ? () : $how eq 'rename' ? ('-r') : $how =~ /^delay=(\d+)$/ ? ('-d', $1) : ();
    my @cmd = ($put, @opt, nfs_url($path));
    my $pid = open(my $out, '-|') // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', "$tmp" or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        exec @cmd or POSIX::_exit(127);
    }
    local $/;
    my $err = <$out> // '';
    close $out;
    return ($? >> 8, $err);
}

# Run @code with the NFS tools talking from loopback address @addr (an
# LD_PRELOAD shim binds their sockets to it; t/lib/src-addr.c).
sub as_client {
    my ($addr, $code) = @_;
    local $ENV{UMLCONF_SRC_ADDR} = $addr;
    local $ENV{LD_PRELOAD} = $ENV{UMLCONF_SRC_SHIM} // die 'UMLCONF_SRC_SHIM is not set';
    return $code->();
}

# A knob's value, without the newline.
sub knob {
    my ($name) = @_;
    my $v = nfs_cat("/config/$name");
    chomp $v if defined $v;
    return $v;
}

sub status_file {
    my ($name) = @_;
    return nfs_cat("/status/$name");
}

# Write a knob and wait until every child has applied it (status/children
# shows the generation of the write). Returns the write's exit status.
sub set_knob {
    my ($name, $value) = @_;
    my ($rc) = nfs_write("/config/$name", "$value\n");
    return $rc if $rc;
    my $ok = wait_until(sub {
        my $gen = status_file('generation') // return 0;
        my $kids = status_file('children') // return 0;
        chomp $gen;
        my @g = map { (split ' ')[2] } grep { !/^#/ } split /\n/, $kids;
        return @g && !grep { $_ != $gen } @g;
    }, 10);
    return $ok ? 0 : 1;
}

# The names of the files under /config, sorted.
sub knob_names {
    my $ls = nfs_ls('/config') // return;
    return sort grep { $_ ne '.' && $_ ne '..' } map { (split ' ')[-1] } split /\n/, $ls;
}

# Poll @cond (a sub) until true or @timeout seconds pass; returns its last value.
sub wait_until {
    my ($cond, $timeout) = @_;
    my $end = time + ($timeout // 10);
    my $v;
    while (1) {
        $v = $cond->();
        return $v if $v || time > $end;
        sleep 0.1;
    }
}

# Apache::Test::vars costs about half a second of CPU on its first call in a
# process (it thaws the whole test configuration): look it up once, before any
# fork, so that ten clients forked at once do not spend seconds on it each.
my $http_port;
sub http_port { $http_port //= Apache::Test::vars('port') }

# One HTTP/1.0 request on a fresh connection (to @port, default the main
# server's). Returns a hash: status, headers (lower-case names), body,
# t_sent, t_done.
sub http_get {
    my ($path, $timeout, $port) = @_;
    $port //= http_port();
    my %r = (status => 0, headers => {}, body => '', t_sent => time);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp', Timeout => 5) or return { %r, error => "connect: $!" };
    print $s "GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    local $/;
    my $resp = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm($timeout // 60);
        my $x = <$s>;
        alarm 0;
        $x;
    } // '';
    $r{t_done} = time;
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    $head //= '';
    ($r{status}) = $head =~ m{^HTTP/\S+ (\d+)};
    $r{status} //= 0;
    for (split /\r\n/, $head) {
        $r{headers}{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    $r{body} = $body // '';
    return \%r;
}

# Start @n requests for @path at once, each from its own process. Returns a
# handle; collect() waits and returns their results.
sub concurrent_gets {
    my ($n, $path, $timeout) = @_;
    my @kids;
    http_port();
    for my $i (1 .. $n) {
        my $f = File::Temp->new;
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $r = http_get($path, $timeout);
            open my $o, '>', "$f" or POSIX::_exit(1);
            my ($start, $end) = $r->{body} =~ /start (\S+) end (\S+)/;
            printf $o "%d %s %s %.6f %.6f %s\n", $r->{status}, $start // '-', $end // '-',
                $r->{t_sent}, $r->{t_done}, $r->{headers}{'retry-after'} // '-';
            close $o;
            POSIX::_exit(0);
        }
        push @kids, [$pid, $f];
    }
    return bless { kids => \@kids }, 'UmlConf::Test::Batch';
}

# The most requests that ran at the same time, from [start, end] pairs.
sub max_overlap {
    my @iv = @_;
    my @ev = sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] }
        map { ([$_->[0], 1], [$_->[1], -1]) } @iv;
    my ($cur, $max) = (0, 0);
    for (@ev) {
        $cur += $_->[1];
        $max = $cur if $cur > $max;
    }
    return $max;
}

sub error_log_path { Apache::Test::vars('t_logs') . '/error_log' }

sub error_log_size { -s error_log_path() // 0 }

# What the error log gained after byte @offset.
sub error_log_since {
    my ($offset) = @_;
    open my $fh, '<', error_log_path() or return '';
    seek $fh, $offset, 0;
    local $/;
    return <$fh> // '';
}

sub httpd_pid {
    my $f = Apache::Test::vars('t_logs') . '/httpd.pid';
    open my $fh, '<', $f or return;
    my $pid = <$fh>;
    chomp $pid if defined $pid;
    return $pid;
}

# apachectl graceful: SIGUSR1 to the parent, then wait until it says it resumed.
sub graceful_restart {
    my $off = error_log_size();
    kill 'USR1', httpd_pid() or return 0;
    return wait_until(sub { error_log_since($off) =~ /resuming normal operations/ }, 20);
}

package UmlConf::Test::Batch;

sub collect {
    my ($self) = @_;
    my @res;
    for (@{ $self->{kids} }) {
        my ($pid, $f) = @$_;
        waitpid $pid, 0;
        open my $in, '<', "$f" or next;
        my $line = <$in> // '';
        my ($status, $start, $end, $sent, $done, $retry) = split ' ', $line;
        push @res, { status => $status // 0, start => $start, end => $end,
            sent => $sent, done => $done, retry_after => $retry };
    }
    return @res;
}

1;
