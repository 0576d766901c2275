# 95: the knobs a monitor finds under /config, the README's list and the
# comment of conf/umlconf.conf name the same knobs: adding a knob without
# documenting it (or documenting one that is gone) fails here.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;

plan tests => 3;

my $top = Apache::Test::vars('top_dir');

# Every "/config/Name" in @file's lines that @keep selects.
sub listed {
    my ($file, $keep) = @_;
    open my $fh, '<', "$top/$file" or die "$file: $!";
    my %names;
    while (my $line = <$fh>) {
        next unless $keep->($line);
        $names{$1} = 1 while $line =~ m{/config/(\w[\w.-]*)}g;
    }
    return join ' ', sort keys %names;
}

my $served = join ' ', knob_names();
ok $served =~ /MaxRequestWorkers/, "nfs-ls /config: $served";
# The README's list is the indented block after "The exported tree:".
my $in_tree = 0;
ok t_cmp(listed('README', sub {
    $in_tree = 1 if $_[0] =~ /^The exported tree:/;
    $in_tree = 0 if $in_tree && $_[0] =~ /^\S/ && $_[0] !~ /^The exported tree:/;
    return $in_tree && $_[0] =~ m{^\s+/config/\w};
}), $served, 'the README lists exactly the knobs served');
ok t_cmp(listed('conf/umlconf.conf', sub { $_[0] =~ /^\s*#/ }), $served,
    "conf/umlconf.conf's comment lists exactly the knobs served");
