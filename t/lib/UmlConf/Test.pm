package UmlConf::Test;

# Helpers for mod_umlconf's Apache::Test suite: the real libnfs tools as the
# NFS client, raw concurrent HTTP requests, and waiting for the server.
use strict;
use warnings FATAL => 'all';
use feature 'state';

use Exporter 'import';
use File::Temp ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes qw(time sleep);
use Apache::Test ();
use Apache::TestRequest ();

our @EXPORT = qw(nfs_url nfs_cat nfs_write nfs_ls knob status_file wait_until as_client
    http_get concurrent_gets error_log_since error_log_size graceful_restart
    httpd_pid max_overlap set_knob knob_names own_namespaces private_rpcbind);

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

# --- A private httpd (81-83) ------------------------------------------------
#
# Tests that SIGKILL children or stop httpd start an instance of their own:
# the suite's httpd binary, MPM and mod_umlconf, with its own ServerRoot
# (build/t/private/NAME), HTTP and NFS ports and machine, so that the suite's
# server never notices. Its methods read its tree over NFS, list its
# processes from /proc and end it; it ends itself when it goes out of scope.

package UmlConf::Test;

use Cwd ();
use File::Basename ();
use File::Path ();

push @UmlConf::Test::EXPORT, qw(suite_mpm private_httpd proc_stat proc_alive storm_client
    crash_client);

sub top_dir { Cwd::abs_path(File::Basename::dirname(__FILE__) . '/../../..') }

# The MPM of the suite's server (t/run-apache-tests picks it): the private
# servers run the same, so the run per MPM covers both.
sub suite_mpm {
    return $ENV{UMLCONF_PRIVATE_MPM} if $ENV{UMLCONF_PRIVATE_MPM};
    my $mpm = eval { Apache::Test::config()->{server}{mpm} } // '';
    return $mpm =~ /^(?:prefork|event|worker)$/ ? $mpm : 'prefork';
}

# /proc/PID/stat: state, ppid, CPU ticks used by all its threads (user +
# system) and start time (so that a reused pid shows); undef when gone.
sub proc_stat {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return;
    my $line = <$fh> // return;
    $line =~ s/^.*\) //s;    # the command's name may hold spaces and ')'
    my @f = split ' ', $line;
    return { state => $f[0], ppid => $f[1], ticks => $f[11] + $f[12], start => $f[19] };
}

# Alive: it exists and is not a zombie its parent has not collected yet.
sub proc_alive {
    my ($pid) = @_;
    my $st = proc_stat($pid) or return 0;
    return $st->{state} !~ /^[ZX]$/;
}

sub all_pids {
    opendir my $d, '/proc' or return;
    return grep { /^\d+$/ } readdir $d;
}

# A libnfs client of t/lib (NAME.c) as build/t/NAME: the make rule's build,
# or made here when a test runs on its own and none is newer than its source.
sub lib_client {
    my ($name) = @_;
    my $top = top_dir();
    my ($src, $out) = ("$top/t/lib/$name.c", "$top/build/t/$name");
    return $out if -x $out && -M $out <= -M $src;
    File::Path::make_path("$top/build/t");
    system('cc', '-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-o', "$out.tmp", $src,
        '-lnfs') == 0
        or die "cannot build $out from $src\n";
    rename "$out.tmp", $out or die "rename $out: $!";
    return $out;
}

# The kill storm's client (83_killstorm), and the crash and disk-full tests'
# (69_crash, 69_full); the environment may name other builds.
sub storm_client { $ENV{UMLCONF_STORM_CLIENT} || lib_client('storm-client') }
sub crash_client { $ENV{UMLCONF_CRASH_CLIENT} || lib_client('crash-client') }

# name, http_port, nfs_port; mpm (default: the suite's), mpm_conf (the MPM's
# directives), memory (UmlConfMemory, default 8M; '': none, the module's
# default), slow (1: /slow?ms=N, the
# admission tests' handler, through mod_perl), extra (more directives).
sub private_httpd { UmlConf::Test::Httpd->new(@_) }

# Run the calling test again in network and mount namespaces of its own
# (unshare -n -m: a loopback and a /run nobody else sees), so that it may
# own ports such as 111 and 2049 and never touch the host's rpcbind. Call it
# in a BEGIN block, before Apache::Test prints anything: TAP then comes from
# the test's second run. Returns true in the namespaces; false when it
# cannot have them (not root, no unshare), for the test to skip.
sub own_namespaces {
    return 1 if $ENV{UMLCONF_IN_NS};
    return 0 unless $> == 0 && -x '/usr/bin/unshare';
    $ENV{UMLCONF_IN_NS} = 1;
    exec('unshare', '-n', '-m', '--', $^X, (map { "-I$_" } grep { !ref } @INC), $0, @ARGV)
        or die "unshare: $!";
}

# In those namespaces: the loopback up, a tmpfs on /run, and an rpcbind of
# the test's own on 111 (-f: in the foreground, so its pid is the one to
# end). Returns the pid; bails out when any of it fails.
sub private_rpcbind {
    state $set_up;
    if (!$set_up++) {
        system('ip', 'link', 'set', 'lo', 'up') == 0 or Test::More::BAIL_OUT('ip link set lo up');
        system('mount', '-t', 'tmpfs', '-o', 'size=16m,mode=755', 'tmpfs', '/run') == 0
            or Test::More::BAIL_OUT('tmpfs on /run');
    }
    unlink '/run/rpcbind.sock';
    my $pid = fork() // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>&', \*STDOUT;
        exec '/usr/sbin/rpcbind', '-f' or POSIX::_exit(127);
    }
    wait_until(sub { -S '/run/rpcbind.sock' }, 5) or Test::More::BAIL_OUT('rpcbind did not start');
    return $pid;
}

package UmlConf::Test::Httpd;

use strict;
use warnings FATAL => 'all';
use File::Temp ();
use Time::HiRes qw(time sleep);
use POSIX ();

sub new {
    my ($class, %o) = @_;
    # nfs_addr, export_more and tool_prefix: NFS on another address (99: the
    # machine's own), more clients of "/", and a command the NFS tools run
    # under (ip netns exec NS) to reach it.
    my $self = bless { mpm => UmlConf::Test::suite_mpm(), memory => '8M', mpm_conf => '',
        extra => '', slow => 0, nfs_addr => '127.0.0.1', export_more => '', tool_prefix => [],
        %o, owner => $$ }, $class;
    my $top = UmlConf::Test::top_dir();
    $self->{top} = $top;
    $self->{root} = "$top/build/t/private/$self->{name}";
    $self->{conf} = "$self->{root}/httpd.conf";
    $self->{log} = "$self->{root}/logs/error_log";
    $self->{pidfile} = "$self->{root}/logs/httpd.pid";
    return $self;
}

sub conf_text {
    my ($self) = @_;
    my ($root, $top) = @$self{qw(root top)};
    my $libexec = '/usr/lib/apache2/modules';
    if (my $apxs = eval { Apache::Test::vars('apxs') }) {
        my $q = `$apxs -q LIBEXECDIR 2>/dev/null` // '';
        chomp $q;
        $libexec = $q if $q && -d $q;
    }
    my $module = $ENV{UMLCONF_MODULE} or die 'UMLCONF_MODULE is not set (t/TEST sets it)';
    my $user = eval { Apache::Test::vars('user') } || 'nobody';
    my $group = eval { Apache::Test::vars('group') } || 'nogroup';
    my $memory = $self->{memory} eq '' ? '' : "UmlConfMemory $self->{memory}\n";
    my $slow = !$self->{slow} ? '' : <<SLOW;
LoadModule perl_module $libexec/mod_perl.so
PerlSwitches -I$top/t/lib
<IfModule mpm_event_module>
	PerlInterpStart 2
	PerlInterpMax 8
</IfModule>
<Location /slow>
	SetHandler modperl
	PerlResponseHandler UmlConf::Slow
</Location>
SLOW
    return <<CONF;
# A private httpd of the test $self->{name} (t/lib/UmlConf/Test.pm, private_httpd).
ServerRoot "$root"
DefaultRuntimeDir "$root/logs"
PidFile "$self->{pidfile}"
ErrorLog "$self->{log}"
LogLevel notice
Listen 127.0.0.1:$self->{http_port}
ServerName 127.0.0.1
User $user
Group $group
LoadModule mpm_$self->{mpm}_module $libexec/mod_mpm_$self->{mpm}.so
LoadModule authz_core_module $libexec/mod_authz_core.so
LoadModule mime_module $libexec/mod_mime.so
LoadModule dir_module $libexec/mod_dir.so
TypesConfig /etc/mime.types
DocumentRoot "$root/htdocs"
DirectoryIndex index.html
$self->{mpm_conf}
LoadModule umlconf_module $module
UmlConfNFS $self->{nfs_addr}:$self->{nfs_port}
UmlConfExport / rw 127.0.0.0/8$self->{export_more}
UmlConfKeyFile none
$memory$slow$self->{extra}
CONF
}

# Start it (after ending what a previous run of the same test left) and wait
# until it answers HTTP and NFS. Returns true when it does. With keep => 1
# the server root stays as the last run left it (a state image, the logs),
# for a stop and start. What httpd said on the console is in start_err.
sub start {
    my ($self, %o) = @_;
    my $root = $self->{root};
    $self->{pid} = undef;
    $self->end;
    # The last run's log stays beside the tree, for a diagnosis after the fact.
    rename $self->{log}, "$root.error_log.prev" if !$o{keep} && -e $self->{log};
    File::Path::remove_tree($root) unless $o{keep};
    File::Path::make_path("$root/logs", "$root/htdocs");
    # The children run as the suite's user: they must reach the documents.
    for (my $d = $root; $d ne '/'; $d = File::Basename::dirname($d)) {
        my $mode = (stat $d)[2] // last;
        chmod(($mode & 07777) | 0005, $d);
    }
    open my $c, '>', $self->{conf} or die "$self->{conf}: $!";
    print $c $self->conf_text;
    close $c;
    open my $i, '>', "$root/htdocs/index.html" or die "$root/htdocs/index.html: $!";
    print $i "private httpd $self->{name}\n";
    close $i;
    chmod 0644, "$root/htdocs/index.html";
    my $httpd = eval { Apache::Test::vars('httpd') } || '/usr/sbin/apache2';
    # -k start detaches: the server has a process group of its own, which
    # httpd signals as a whole on the way out.
    my ($rc, $out, $err) = run_timed(60, undef, $httpd, '-f', $self->{conf}, '-k', 'start');
    $self->{start_err} = $out . $err;
    $rc == 0 or return 0;
    UmlConf::Test::wait_until(sub { -s $self->{pidfile} }, 10) or return 0;
    open my $p, '<', $self->{pidfile} or return 0;
    my $pid = <$p> // '';
    chomp $pid;
    my $st = UmlConf::Test::proc_stat($pid) or return 0;
    @$self{qw(pid pid_start)} = ($pid, $st->{start});
    return UmlConf::Test::wait_until(sub {
        $self->get('/index.html', 5)->{status} == 200 && defined $self->cat('/status/generation', 1);
    }, 20);
}

sub pid { $_[0]{pid} }

sub parent_alive {
    my ($self) = @_;
    my $st = $self->{pid} && UmlConf::Test::proc_stat($self->{pid});
    return $st && $st->{start} == $self->{pid_start} && $st->{state} !~ /^[ZX]$/;
}

# The live children of the parent (in scalar context, how many).
sub children {
    my ($self) = @_;
    my $pid = $self->{pid} // return;
    my @kids = sort { $a <=> $b } grep {
        my $st = UmlConf::Test::proc_stat($_);
        $st && $st->{ppid} == $pid && $st->{state} !~ /^[ZX]$/;
    } UmlConf::Test::all_pids();
    return @kids;
}

# Every live process of this server, wherever it hangs now: its command
# line names this configuration.
sub procs {
    my ($self) = @_;
    my @p;
    for my $pid (UmlConf::Test::all_pids()) {
        open my $fh, '<', "/proc/$pid/cmdline" or next;
        my $cmd = do { local $/; <$fh> } // '';
        push @p, $pid if index($cmd, "\0$self->{conf}\0") >= 0 && UmlConf::Test::proc_alive($pid);
    }
    return @p;
}

# SIGKILL one child, if it is still one of ours. Returns true when sent.
sub kill_child {
    my ($self, $pid) = @_;
    my $st = UmlConf::Test::proc_stat($pid) or return 0;
    return 0 unless $st->{ppid} == ($self->{pid} // -1);
    return kill 'KILL', $pid;
}

sub get {
    my ($self, $path, $timeout) = @_;
    return UmlConf::Test::http_get($path, $timeout // 10, $self->{http_port});
}

# concurrent_gets against this server.
sub gets {
    my ($self, $n, $path, $timeout) = @_;
    my $port = $self->{http_port};
    no warnings 'redefine';
    local *UmlConf::Test::http_port = sub { $port };
    return UmlConf::Test::concurrent_gets($n, $path, $timeout);
}

# Run @cmd for at most @secs seconds (coreutils timeout), its standard input
# from the file @stdin if defined: a wedged server must fail a test, not hang
# it (libnfs waits for ever by default). Returns (exit status, stdout,
# stderr); 124 when it timed out.
sub run_timed {
    my ($secs, $stdin, @cmd) = @_;
    my $err = File::Temp->new;
    my $pid = open(my $out, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', $err or POSIX::_exit(127);
        if (defined $stdin) {
            open STDIN, '<', $stdin or POSIX::_exit(127);
        }
        exec 'timeout', '-k', '2', $secs, @cmd or POSIX::_exit(127);
    }
    local $/;
    my $text = <$out> // '';
    close $out;
    my $rc = $? >> 8;
    seek $err, 0, 0;
    my $msg = <$err> // '';
    return ($rc, $text, $msg);
}

# (76 blesses a bare hash of its monitor's port: the defaults hold for it too.)
sub url {
    my ($self, $path) = @_;
    my ($a, $p) = ($self->{nfs_addr} // '127.0.0.1', $self->{nfs_port});
    return "nfs://$a$path?nfsport=$p&mountport=$p";
}

# The command an NFS tool runs under to reach the server: none, or ip netns exec NS.
sub tool_prefix { @{ $_[0]{tool_prefix} // [] } }

# A file of its tree, or undef; in list context (content, error text).
# Retried: the child serving the read may be killed under it.
sub cat {
    my ($self, $path, $tries) = @_;
    $tries //= 3;
    my ($rc, $text, $err);
    for my $try (1 .. $tries) {
        ($rc, $text, $err) = run_timed(5, undef, $self->tool_prefix, 'nfs-cat', $self->url($path));
        last if $rc == 0 || $err =~ /NOENT/;
        sleep 0.2 if $try < $tries;
    }
    $err = "timed out after 5 s\n" if $rc == 124;
    return wantarray ? ($rc == 0 ? $text : undef, $err) : ($rc == 0 ? $text : undef);
}

sub ls {
    my ($self, $path) = @_;
    my ($rc, $text, $err) = run_timed(5, undef, $self->tool_prefix, 'nfs-ls', $self->url($path));
    return wantarray ? ($rc == 0 ? $text : undef, $err) : ($rc == 0 ? $text : undef);
}

# Write @content as the whole file, as nfs_write does: (exit status, stderr).
sub put {
    my ($self, $path, $content) = @_;
    my $tmp = File::Temp->new;
    print $tmp $content;
    close $tmp;
    my $put = $ENV{UMLCONF_NFS_PUT} or die 'UMLCONF_NFS_PUT is not set (t/TEST sets it)';
    my ($rc, $out, $err) = run_timed(10, "$tmp", $self->tool_prefix, $put, $self->url($path));
    return ($rc, $rc == 124 ? "timed out after 10 s\n" : $out . $err);
}

sub status_lines {
    my ($self, $file, @names) = @_;
    my $t = $self->cat($file) // return;
    my @rows;
    for (grep { /\S/ && !/^#/ } split /\n/, $t) {
        my %r;
        @r{@names} = split ' ';
        push @rows, \%r;
    }
    return \@rows;
}

# /status/children and /status/sched/cpus as rows (undef when unreadable).
sub children_status { $_[0]->status_lines('/status/children', qw(cpu pid gen ns)) }
sub cpus_status { $_[0]->status_lines('/status/sched/cpus', qw(cpu pid threads runnable)) }

# /status/mm/meminfo: { MemUsed => kB, ... }.
sub meminfo {
    my ($self) = @_;
    my $t = $self->cat('/status/mm/meminfo') // return;
    return { map { /^(\w+):\s+(\d+)/ ? ($1 => $2) : () } split /\n/, $t };
}

# Write @value to the knob @name, then wait until /status/children lists
# every live child of the parent, each with that write's generation applied.
# Returns (ok, generation, what it saw last).
sub knob_applies {
    my ($self, $name, $value, $timeout) = @_;
    my ($rc, $err) = $self->put("/config/$name", "$value\n");
    return (0, undef, "the write failed (exit $rc): $err") if $rc;
    my $gen = $self->cat('/status/generation') // return (0, undef, 'no /status/generation');
    chomp $gen;
    my ($ok, $seen) = $self->children_reach($gen, $timeout);
    return ($ok, $gen, $seen);
}

# Wait up to @timeout seconds (10) until every child is listed in
# /status/children at generation @gen or later. Returns (ok, what was seen).
sub children_reach {
    my ($self, $gen, $timeout) = @_;
    my $seen = '';
    my $ok = UmlConf::Test::wait_until(sub {
        my $rows = $self->children_status or return 0;
        my %listed = map { $_->{pid} => $_->{gen} } @$rows;
        my @kids = $self->children;
        my @missing = grep { !exists $listed{$_} } @kids;
        my @behind = grep { $listed{$_} < $gen } sort keys %listed;
        $seen = sprintf 'children %s; listed %s; not listed: %s; behind: %s',
            join(' ', @kids), join(' ', map { "$_->{pid}:$_->{gen}" } @$rows),
            join(' ', @missing) || 'none', join(' ', @behind) || 'none';
        return @kids && !@missing && !@behind;
    }, $timeout // 10);
    return ($ok, $seen);
}

sub log_size { -s $_[0]{log} // 0 }

sub log_since {
    my ($self, $offset) = @_;
    open my $fh, '<', $self->{log} or return '';
    seek $fh, $offset // 0, 0;
    local $/;
    return <$fh> // '';
}

# Send @sig to the parent (TERM: apachectl -k stop; WINCH: graceful-stop)
# and wait up to @limit seconds for it to exit, sampling its children's CPU
# time meanwhile. Returns: exited (seconds it took, undef if it did not),
# kids (the children when the signal went), spin and spinner (the highest
# share of a core a child used while it lasted, judged over 0.5 s at least).
sub stop {
    my ($self, $sig, $limit, $slow_after, $on_slow) = @_;
    my %r = (exited => undef, spin => 0, spinner => undef, kids => []);
    return \%r unless $self->parent_alive;
    my @kids = $self->children;
    my $t0 = time;
    my %first = map { my $st = UmlConf::Test::proc_stat($_); $st ? ($_ => [$t0, $st->{ticks}, $st->{start}]) : () } @kids;
    my %last = %first;
    kill $sig, $self->{pid};
    while (1) {
        my $now = time;
        for my $k (keys %first) {
            my $st = UmlConf::Test::proc_stat($k);
            $last{$k} = [$now, $st->{ticks}] if $st && $st->{start} == $first{$k}[2] && $st->{state} !~ /^[ZX]$/;
        }
        if (!$self->parent_alive) {
            $r{exited} = $now - $t0;
            last;
        }
        last if $now - $t0 > $limit;
        if ($on_slow && $now - $t0 > $slow_after) {
            $on_slow->();
            $on_slow = undef;
        }
        sleep 0.05;
    }
    my $hz = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
    for my $k (keys %first) {
        my $dt = $last{$k}[0] - $first{$k}[0];
        next if $dt < 0.5;
        my $share = ($last{$k}[1] - $first{$k}[1]) / $hz / $dt;
        @r{qw(spin spinner)} = ($share, $k) if $share > $r{spin};
    }
    $r{kids} = \@kids;
    return \%r;
}

# What each live process of it is doing, for a diagnosis: every thread's
# state and kernel wait channel, and gdb's backtraces when gdb is there.
sub stacks {
    my ($self) = @_;
    my ($text, $traced) = ('', 0);
    for my $pid ($self->procs) {
        $text .= "== pid $pid" . ($pid == ($self->{pid} // 0) ? ' (parent)' : '') . "\n";
        for my $task (glob "/proc/$pid/task/*") {
            my ($tid) = $task =~ m{(\d+)$};
            open my $st, '<', "$task/stat" or next;
            my $stat = <$st> // '';
            my ($state) = $stat =~ /\)\s+(\S)/;
            open my $wc, '<', "$task/wchan" or next;
            my $wchan = <$wc> // '?';
            $text .= "  tid $tid state $state wchan $wchan\n";
        }
        # gdb takes seconds a process: the first few tell the story.
        if (-x '/usr/bin/gdb' && $traced++ < 4) {
            my ($rc, $out) = run_timed(20, undef, 'gdb', '-p', $pid, '-batch', '-nx', '-ex',
                'thread apply all bt 20');
            $text .= join("\n", grep { /^(Thread|#)/ } split /\n/, $out) . "\n";
        }
    }
    return $text;
}

# End whatever is left of it, by pid: SIGTERM to the parent, then SIGKILL.
sub end {
    my ($self) = @_;
    return unless $$ == $self->{owner};
    my @p = $self->procs or return;
    my %ppid = map { my $st = UmlConf::Test::proc_stat($_); $st ? ($_ => $st->{ppid}) : () } @p;
    my %parent = map { $_ => 1 } grep { exists $ppid{$_} } values %ppid;
    if (%parent) {
        kill 'TERM', keys %parent;
        UmlConf::Test::wait_until(sub { !$self->procs }, 12);
    }
    kill 'KILL', $_ for $self->procs;
}

sub DESTROY {
    local ($?, $@);
    $_[0]->end;
}

1;
