# 00: the module loads in both MPMs, httpd serves, and server-status carries
# the module's figures (its mod_status status_hook).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use Apache::TestRequest qw(GET_BODY GET);
use UmlConf::Test;

plan tests => 5;

my $r = GET '/index.html';
ok $r->code == 200;

my $auto = GET_BODY '/server-status?auto';
ok $auto =~ /^UmlConfMaxRequestWorkers: \d+$/m;
ok $auto =~ /^UmlConfAccepting: 1$/m;
ok $auto =~ /^UmlConfGeneration: \d+$/m;

my $html = GET_BODY '/server-status';
ok $html =~ /<h2>mod_umlconf<\/h2>/;
