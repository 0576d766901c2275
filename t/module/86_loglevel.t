# 86: /config/LogLevel (mod_umlconf_httpd) takes what the LogLevel directive
# takes and acts live in every child: core's info line for a missing file
# (AH00128) appears and disappears with the level, for all modules or for
# core alone; a bad value is refused and the one in force stays.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use UmlConf::Test;

plan tests => 17;

my $n = 0;
# Does a request for a missing file log AH00128 at the level in force?
sub logs_missing_file {
    my $name = "nope-$$-" . $n++;
    my $off = error_log_size();
    # Every child has the level: try a few connections, they spread over children.
    my $seen = 0;
    for my $i (1 .. 4) {
        my $r = http_get("/$name-$i");
        return -1 if $r->{status} != 404;
        $seen++ if error_log_since($off) =~ /AH00128.*\Q$name-$i\E/;
    }
    return $seen;
}

my $orig = knob('LogLevel');
ok $orig =~ /^\w+/, "LogLevel shows the configured value ($orig)";

ok t_cmp(set_knob('LogLevel', 'warn'), 0, 'LogLevel=warn accepted');
ok t_cmp(logs_missing_file(), 0, 'warn: no info line');
ok t_cmp(set_knob('LogLevel', 'info'), 0, 'LogLevel=info accepted');
ok t_cmp(logs_missing_file(), 4, 'info: the info line, from every request');
ok t_cmp(set_knob('LogLevel', 'warn core:info'), 0, 'LogLevel="warn core:info" accepted');
ok t_cmp(logs_missing_file(), 4, 'core at info: the line');
ok t_cmp(set_knob('LogLevel', 'info core:warn'), 0, 'LogLevel="info core:warn" accepted');
ok t_cmp(logs_missing_file(), 0, 'core at warn: none');
ok t_cmp(knob('LogLevel'), 'info core:warn', 'the file shows the value');
ok t_cmp(scalar(GET_status_auto() =~ /^UmlConfLogLevel: info core:warn$/m), 1,
    'server-status shows it');

for my $bad ('loud', 'nosuchmodule:info', 'info warn', 'core:') {
    my ($rc) = nfs_write('/config/LogLevel', "$bad\n");
    ok $rc != 0, "LogLevel='$bad' refused";
}
ok t_cmp(wait_until(sub { knob('LogLevel') eq 'info core:warn' ? 1 : 0 }, 5), 1,
    'value unchanged');

ok t_cmp(set_knob('LogLevel', $orig), 0, 'restored');

sub GET_status_auto { http_get('/server-status?auto')->{body} }
