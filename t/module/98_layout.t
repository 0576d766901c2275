# 98: a graceful restart onto a mod_umlconf build with another shared layout
# (the Makefile's build/t/mod_umlconf-layout.so: 16 knob slots instead of
# 32) does not adopt the running machine, whose memory it would misread: it
# logs umlconf(10030) and boots a fresh one with httpd.conf's values, and
# serves HTTP and NFS. The same on the way back. Last: it resets the knobs.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use File::Basename qw(dirname);
use File::Copy qw(copy);
use UmlConf::Test;

plan tests => 15;

my $loaded = $ENV{UMLCONF_MODULE} or die 'UMLCONF_MODULE is not set';
my $other = $ENV{UMLCONF_LAYOUT_MODULE} // dirname($loaded) . '/t/mod_umlconf-layout.so';
ok -f $other, "the other build is there ($other; make builds it, UMLCONF_LAYOUT_MODULE names it)"
    or die "no build with another layout at $other\n";

# Put @src where httpd loads the module from: a new inode, as make and
# apt do, so the running generation keeps its mapping.
sub install_module {
    my ($src) = @_;
    my $tmp = "$loaded.new";
    copy($src, $tmp) or die "copy $src: $!";
    chmod 0644, $tmp;
    rename $tmp, $loaded or die "rename: $!";
}

my $keep = "$loaded.orig";
copy($loaded, $keep) or die "copy: $!";
my $default = knob('MaxRequestWorkers');
ok t_cmp(set_knob('MaxRequestWorkers', $default - 1), 0, 'a knob changed');

for my $step (['another layout', $other], ['this layout again', $keep]) {
    my ($what, $so) = @$step;
    install_module($so);
    my $off = error_log_size();
    ok graceful_restart(), "$what: graceful restart done";
    my $log = error_log_since($off);
    ok t_cmp($log, qr/umlconf\(10030\): this mod_umlconf has another shared layout/,
        "$what: the layout change is logged");
    ok t_cmp($log, qr/umlconf\(10015\): machine booted/, "$what: a fresh machine booted");
    ok t_cmp(knob('MaxRequestWorkers'), $default, "$what: knobs back to httpd.conf's");
    ok t_cmp(http_get('/index.html')->{status}, 200, "$what: HTTP served");
    ok t_cmp(set_knob('MaxRequestWorkers', $default - 1), 0, "$what: knob writes work");
}
unlink $keep;
ok t_cmp(set_knob('MaxRequestWorkers', $default), 0, 'restored');
