# 00: the module loads in both MPMs, httpd serves, and server-status carries
# the module's figures (its mod_status status_hook), among them the latency
# histograms' counts and sums, which move with every request served.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use Apache::TestRequest qw(GET_BODY GET);
use UmlConf::Test;

plan tests => 8;

my $r = GET '/index.html';
ok $r->code == 200;

my $auto = GET_BODY '/server-status?auto';
ok $auto =~ /^UmlConfMaxRequestWorkers: \d+$/m;
ok $auto =~ /^UmlConfAccepting: 1$/m;
ok $auto =~ /^UmlConfGeneration: \d+$/m;
ok $auto =~ /^UmlConfServiceSeconds: \d+\.\d{6}$/m && $auto =~ /^UmlConfWaitSeconds: \d+\.\d{6}$/m;
my ($served) = $auto =~ /^UmlConfServed: (\d+)$/m;
ok defined $served, 'server-status?auto shows how many requests were served';
# A request is counted when its pool goes, after its response: wait for it.
GET '/index.html';
ok wait_until(sub { (GET_BODY('/server-status?auto') =~ /^UmlConfServed: (\d+)$/m)[0] >= $served + 2 }, 5),
    'and counts the requests served since';

my $html = GET_BODY '/server-status';
ok $html =~ /<h2>mod_umlconf<\/h2>/;
