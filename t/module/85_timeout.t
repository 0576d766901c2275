# 85: /config/Timeout (mod_umlconf_httpd) acts live: a connection that sends
# half a request is dropped after the new Timeout, in every child, without a
# restart; a bad value is refused and the one in force stays.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes qw(time);
use UmlConf::Test;

plan tests => 12;

my $port = Apache::Test::vars('port');

# Send half a request; seconds until the server closes (or $limit, if not).
sub idle_close_after {
    my ($limit) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
        or return -1;
    print $s "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    my $t0 = time;
    my $sel = IO::Select->new($s);
    while (time - $t0 < $limit) {
        next unless $sel->can_read($limit - (time - $t0));
        my $n = sysread $s, my $buf, 4096;
        return time - $t0 if !$n;    # closed (after a 408, if any)
    }
    return $limit;
}

my $orig = knob('Timeout');
ok $orig =~ /^\d+$/, "Timeout shows the configured value ($orig)";

ok t_cmp(set_knob('Timeout', 2), 0, 'Timeout=2 accepted and applied in every child');
my @t = map { idle_close_after(10) } 1 .. 3;
ok !grep({ $_ < 1.5 || $_ > 5 } @t), "half requests dropped after about 2 s (@t)";

ok t_cmp(set_knob('Timeout', 6), 0, 'Timeout=6 accepted');
my $t = idle_close_after(4);
ok t_cmp($t, 4, 'a half request now stays open past 4 s');

for my $bad ("0", "86401", "abc") {
    my ($rc) = nfs_write('/config/Timeout', "$bad\n");
    ok $rc != 0, "Timeout=$bad refused";
}
ok t_cmp(wait_until(sub { knob('Timeout') eq '6' ? 1 : 0 }, 5), 1, 'value unchanged in the file');
my ($last) = (split /\n/, status_file('errors') // '')[-1] // '';
ok t_cmp($last, qr{/config/Timeout "abc\\n" not a decimal number}, 'reason in status/errors');
$t = idle_close_after(4);
ok t_cmp($t, 4, 'and Timeout 6 still in force');

ok t_cmp(set_knob('Timeout', $orig), 0, 'restored');
