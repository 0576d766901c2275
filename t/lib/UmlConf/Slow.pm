package UmlConf::Slow;

# A request that takes a while, for the admission tests: /slow?ms=N (see extra.conf.in)
# sleeps N ms and reports when it ran, so a test can count overlaps.
use strict;
use warnings FATAL => 'all';

use Apache2::RequestRec ();
use Apache2::RequestIO ();
use Apache2::Const -compile => 'OK';
use Time::HiRes ();

sub handler {
    my $r = shift;
    my ($ms) = ($r->args // '') =~ /ms=(\d+)/;
    $ms //= 1000;
    # ?tag=X: say which process serves us, so a test can kill it mid-request.
    if (my ($tag) = ($r->args // '') =~ /tag=(\w+)/) {
        if (open my $fh, '>', "/tmp/umlconf-slow-$tag") {
            print $fh "$$\n";
            close $fh;
        }
    }
    my $start = Time::HiRes::time();
    Time::HiRes::sleep($ms / 1000);
    my $end = Time::HiRes::time();
    $r->content_type('text/plain');
    $r->print(sprintf "pid %d start %.6f end %.6f\n", $$, $start, $end);
    return Apache2::Const::OK;
}

1;
