# 71: UmlConfImport (issue 11): three httpds take their knobs from one
# central NFS export -- here another umlnfsd, the way an operator's own NFS
# server would serve them -- through the kernel's own NFS client.
#
#  1     the center and three private httpds (web1..web3) are up, each
#        importing it; /status/import says ok, /status/metrics
#        umlconf_import_up 1
#  2     one write at the center (config/MaxRequestWorkers) is in force in all
#        three, from the import (/status/config's source column)
#  3-4   an invalid value at the center for one knob is refused (reported in
#        /status/errors as from the import) while another knob written at the
#        same time applies; the refused knob keeps its last value
#  5     a per-host file (hosts/web2/config/...) wins for web2 only
#  6-7   a local write on web1 wins over the import and survives the next
#        central change; an empty write clears it and the import's value is back
#  8-9   the center killed: every instance keeps its values and serves, and
#        /status/import says stale since a time, with the error (the
#        metrics: umlconf_import_up 0)
# 10     the center back (same image and key): a new central value, written
#        with a reason as a comment, applies everywhere, without a restart;
#        /status/changes shows it as the import's, with the reason; a central
#        file of a comment alone clears the layer (httpd.conf's value is back)
# 11     another instance's own export as the center: web4 imports web1's tree
#        and follows a local write to web1's knob
# 12-13  web5 keeps its tree in a state image: stopped and started while the
#        center is away, the imported value is back as the import's (a note
#        says it was imported), so the center's next value applies to it
# 14     no crash or kernel complaint in any error_log
#
# Private httpds on 8591-8595 (NFS 12591-12595) with the suite's MPM.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use Time::HiRes qw(time sleep);
use UmlConf::Test;
use Cwd ();
use File::Path ();
BEGIN { $ENV{UML_BUILD} //= UmlConf::Test::top_dir() . '/build' }
use lib UmlConf::Test::top_dir() . '/t/nfs/lib';
use NfsTest qw(start_server stop_server tmp_path nfsc);

plan tests => 18;

my $top = UmlConf::Test::top_dir();
my $mpm = suite_mpm();
my $mpm_conf = $mpm eq 'prefork' ? "StartServers 2\nServerLimit 8\nMaxRequestWorkers 8\n"
    : "StartServers 2\nServerLimit 2\nThreadsPerChild 4\nMinSpareThreads 4\nMaxSpareThreads 8\nMaxRequestWorkers 8\n";

# The center: a umlnfsd exporting its tree read-write to this host, kept in an image.
my @center = ('-e', '/:rw:127.0.0.1', '-k', tmp_path('center.key'), '-S', tmp_path('center.img') . ':4M',
    '-w', '1');
my $c = eval { start_server('-l', '127.0.0.1:0', @center) };
my $cport = $c ? $c->{port} : 0;
# One libnfs operation at the center (t/nfs/nfsc.c, built from the top of the tree).
sub center {
    my $cwd = Cwd::getcwd();
    chdir $top;
    my ($st, $out) = nfsc($c, '/', @_);
    chdir $cwd;
    diag "center @_[0, 1]: $out" if $st;
    return !$st;
}
center('mkdir', '/config') if $c;
center('mkdir', '/hosts') if $c;
center('mkdir', '/hosts/web2') if $c;
center('mkdir', '/hosts/web2/config') if $c;

my @h = map {
    private_httpd(name => "71_import_web$_", http_port => 8590 + $_, nfs_port => 12590 + $_,
        mpm_conf => $mpm_conf,
        extra => "ServerName web$_\nUmlConfImport nfs://127.0.0.1:$cport/ interval=200ms\n")
} 1 .. 3;
my @up = map { $_->start } @h;
my $imports = join ' | ', map { ($_->cat('/status/import') // '') =~ /^state (\w+)/m ? $1 : '?' } @h;
ok $c && !grep({ !$_ } @up) && wait_until(sub {
        !grep { ($_->cat('/status/import') // '') !~ /^state ok$/m } @h }, 10),
    "1 the center and three importing httpds are up, each import ok ($imports)"
    or diag join "\n", ($c ? () : 'no center'), map { $_->{start_err} // '', $_->log_since(0) } @h;
# The metrics say so too (rendered at most once a second per child: wait).
sub import_metrics {
    my ($h) = @_;
    my $m = $h->cat('/status/metrics') // '';
    my ($up) = $m =~ /^umlconf_import_up (\d)$/m;
    my ($at) = $m =~ /^umlconf_import_last_ok_timestamp_seconds (\S+)$/m;
    return ($up // '-', $at // 0);
}
my $t_up = time;
ok wait_until(sub { my ($up, $at) = import_metrics($h[0]); $up eq '1' && $at > $t_up - 60 }, 5),
    '1b web1\'s /status/metrics: umlconf_import_up 1, and when it last reached the center';

# /status/config as { knob => [value, source] } of one instance.
sub layers {
    my ($h) = @_;
    my $t = $h->cat('/status/config') // '';
    return { map { my @f = split ' '; ($f[0] => [@f[1, 2]]) } grep { !/^#/ && /\S/ } split /\n/, $t };
}
# Wait until every instance of @hs has @knob = @value from @source.
sub all_have {
    my ($knob, $value, $source, @hs) = @_;
    my $seen = '';
    my $t0 = time;
    my $ok = wait_until(sub {
        my @l = map { layers($_)->{$knob} // ['?', '?'] } @hs;
        $seen = join ', ', map { "$_->[0]/$_->[1]" } @l;
        return !grep { $_->[0] ne $value || $_->[1] ne $source } @l;
    }, 10);
    return ($ok, sprintf('%s after %.1f s', $seen, time - $t0));
}

center('write', '/config/MaxRequestWorkers', "5\n");
my ($ok, $seen) = all_have('MaxRequestWorkers', 5, 'import', @h);
ok $ok, "2 one central write is in force in all three, from the import: $seen";

my $err_off = $h[0]->cat('/status/errors') // '';
center('write', '/config/ListenBacklog', "77\n");
center('write', '/config/MaxRequestWorkers', "lots\n");
($ok, $seen) = all_have('ListenBacklog', 77, 'import', @h);
ok $ok, "3 a knob written beside an invalid one applies everywhere: $seen";
my $errors = $h[0]->cat('/status/errors') // '';
ok wait_until(sub { ($h[0]->cat('/status/errors') // '') =~ m{ import /import/config/MaxRequestWorkers "lots\\n" not a decimal number} }, 5)
        && layers($h[0])->{MaxRequestWorkers}[0] eq '5',
    '4 the invalid one is refused, reported as from the import, and keeps its value'
    or diag $h[0]->cat('/status/errors');

center('write', '/hosts/web2/config/MaxRequestWorkers', "3\n");
my ($ok2, $seen2) = all_have('MaxRequestWorkers', 3, 'import', $h[1]);
ok $ok2 && layers($h[0])->{MaxRequestWorkers}[0] eq '5' && layers($h[2])->{MaxRequestWorkers}[0] eq '5',
    "5 a per-host value wins for web2 only: $seen2";

my ($rc) = $h[0]->put('/config/Accepting', "1\n");
my ($rc2, $put_out) = $h[0]->put('/config/ListenBacklog', "66\n");
my $before = layers($h[0])->{ListenBacklog} // ['?', '?'];
center('write', '/config/ListenBacklog', "88\n");
my ($ok3, $seen3) = all_have('ListenBacklog', 88, 'import', @h[1, 2]);
my $web1 = layers($h[0])->{ListenBacklog} // ['?', '?'];
ok !$rc && !$rc2 && $ok3 && $web1->[0] eq '66' && $web1->[1] eq 'local',
    '6 a local write wins over the import, also after the next central change'
    or diag "puts $rc/$rc2 (" . ($put_out // '') . "); web1 before the central write "
        . "@$before, after @$web1; web2 and web3: $seen3\n",
        $h[0]->cat('/status/changes') // '', $h[0]->log_since(0);
$rc = $rc2;
($rc) = $h[0]->put('/config/ListenBacklog', "\n");
my ($ok4, $seen4) = all_have('ListenBacklog', 88, 'import', $h[0]);
ok !$rc && $ok4 && ($h[0]->cat('/config/ListenBacklog') // '') eq "88\n",
    "7 an empty write clears it: the import's value is back, and the file shows it ($seen4)";

stop_server($c);
my $stale_ok = wait_until(sub {
    !grep { ($_->cat('/status/import') // '') !~ /^state stale$/m } @h }, 10);
my $imp = $h[2]->cat('/status/import') // '';
ok $stale_ok && $imp =~ /^stale_since \d{4}-\d\d-\d\dT/m && $imp =~ /^error \S/m,
    '8 the center gone: every import is stale, since a time, with the error' or diag $imp;
ok wait_until(sub { (import_metrics($h[2]))[0] eq '0' }, 5), '8b and umlconf_import_up says 0';
ok !grep({ $_->get('/index.html', 5)->{status} != 200 } @h)
        && !grep({ layers($_)->{ListenBacklog}[0] ne '88' } @h),
    '9 and every instance keeps its values and serves';

$c = start_server('-l', "127.0.0.1:$cport", @center);
center('write', '/config/ListenBacklog', "99 # the center is back\n");
($ok, $seen) = all_have('ListenBacklog', 99, 'import', @h);
ok $ok, "10 the center back: a new value (with a reason) applies everywhere: $seen";
my ($change) = grep { / ListenBacklog / } reverse split /\n/, $h[0]->cat('/status/changes') // '';
like $change // '', qr/^\S+Z import ListenBacklog "88" "99" import "the center is back"$/,
    "10b and each instance's /status/changes says so, from the import, with the reason";
# A central file of a comment alone clears the import's layer, and says why.
center('write', '/config/ListenBacklog', "# 71: back to httpd.conf\n");
wait_until(sub { ((layers($h[0])->{ListenBacklog} // [])->[1] // '') eq 'conf' }, 10);
($change) = grep { / ListenBacklog / } reverse split /\n/, $h[0]->cat('/status/changes') // '';
like $change // '', qr/^\S+Z import ListenBacklog "99" "\d+" conf "71: back to httpd.conf"$/,
    "10c a central comment alone clears the import's value: httpd.conf's is back, with the reason";

# Another instance's own export as the center: web4 imports web1's tree, whose
# config/ is web1's live knobs, so web4 follows a write to web1.
my $h4 = private_httpd(name => '71_import_web4', http_port => 8594, nfs_port => 12594,
    mpm_conf => $mpm_conf, extra => "ServerName web4\nUmlConfImport nfs://127.0.0.1:12591/ interval=200ms\n");
my $up4 = $h4->start;
my ($rc4) = $h[0]->put('/config/MaxRequestWorkers', "6\n");
my ($ok5, $seen5) = $up4 && !$rc4 ? all_have('MaxRequestWorkers', 6, 'import', $h4) : (0, 'not up');
ok $ok5, "11 another instance's export as the center: web4 follows a write to web1's knob: $seen5"
    or diag $h4->cat('/status/import'), $h4->log_since(0);

# With a state image: an imported value comes back after stop and start as
# the import's (not as a local write), so the center's next value applies.
my $h5 = private_httpd(name => '71_import_web5', http_port => 8595, nfs_port => 12595,
    mpm_conf => $mpm_conf, memory => '',
    extra => "ServerName web5\nUmlConfKeyFile state/umlconf.key\nUmlConfState state/web5.img 4M\n"
        . "UmlConfImport nfs://127.0.0.1:$cport/ interval=200ms\n");
File::Path::remove_tree($h5->{root});
File::Path::make_path("$h5->{root}/state");
my $up5 = $h5->start(keep => 1);
center('write', '/config/MaxRequestWorkers', "4\n");
my ($ok6, $seen6) = $up5 ? all_have('MaxRequestWorkers', 4, 'import', $h5) : (0, 'not up');
my $s5 = $h5->stop('TERM', 20);
stop_server($c);
chmod 0600, "$h5->{root}/state/umlconf.key";
$up5 = defined $s5->{exited} && $h5->start(keep => 1);
my $l5 = $up5 ? layers($h5)->{MaxRequestWorkers} : ['?', '?'];
ok $ok6 && $up5 && "@$l5" eq '4 import',
    "12 with a state image, stop and start with the center away: the imported 4 is back, as "
    . "the import's ($seen6; then @$l5)" or diag $h5->{start_err}, $h5->log_since(0);
$c = start_server('-l', "127.0.0.1:$cport", @center);
center('write', '/config/MaxRequestWorkers', "2\n");
my ($ok7, $seen7) = all_have('MaxRequestWorkers', 2, 'import', $h5);
ok $ok7, "13 and the center's next value applies to it: $seen7";

my @bad = map { my $l = $_->log_since(0); grep { /AH00051|AH00052|Segmentation|umlsync:|umlmm:/ } split /\n/, $l } @h, $h4, $h5;
ok !@bad, '14 no crash or kernel complaint in any error_log: ' . scalar(@bad) . ' lines'
    or diag join "\n", @bad[0 .. ($#bad < 5 ? $#bad : 5)];
stop_server($c) if $c;
$_->end for @h, $h4, $h5;
