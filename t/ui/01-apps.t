#!/usr/bin/perl
# The UI-as-files apps (examples/uiview, uimail, uimon; doc/design.md "UI
# apps"): each runs in a tmux pane, driven with send-keys and read with
# capture-pane, and over NFS with the libnfs tools. After every change,
# from either side, the screen and the files must agree.
#  1-4   viewer: the first page; Down selects (/ui/selection), Enter
#        follows; a write to /ui/page/url navigates; bad pages are refused
#  5     the shell's cp: the viewer's owner/email into the composer's To
#  6-9   composer: typing fills the file, Tab moves /ui/focus, UTF-8 typed;
#        writes of Cc, Body and the focus show on the screen at once;
#        Backspace
#  10-12 invalid writes (bad address, bad UTF-8: overlong, surrogate, past
#        U+10FFFF, too long) are refused with NFS3ERR_INVAL, reported in
#        /status/errors, and the field keeps its value
#  13-15 uimon fills To of a new message from the page's owner and says so;
#        leaves a typed To alone; suggest-to is refused once To is set
#  16    /status/latency counted both ways
#  17    both quit on their keys, exit status 0
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX qw(WNOHANG);
use NfsTest;

plan_nfs(17);
my ($tmux) = grep { -x } map { "$_/tmux" } split /:/, $ENV{PATH};
$tmux or BAIL_OUT('tmux is not installed (tools/install-deps --test)');
my $BUILD = build_dir();
my ($VP, $MP) = (12820, 12821);
$ENV{LANG} = $ENV{LC_ALL} = 'C.UTF-8';

my $sock = tmp_path('tmux.sock');
my $mon_pid;
END {
	kill 'TERM', $mon_pid if $mon_pid;
	system($tmux, '-S', $sock, 'kill-server') if $sock && -S $sock;
}
sub tm { system($tmux, '-u', '-S', $sock, @_) == 0 }
sub screen { my $s = `$tmux -u -S $sock capture-pane -p -t $_[0] 2>/dev/null`; $s // '' }
sub press { tm('send-keys', '-t', @_) }

my %done = (view => tmp_path('view.exit'), mail => tmp_path('mail.exit'));
tm('new-session', '-d', '-s', 'ui', '-n', 'view', '-x', '120', '-y', '40',
	"$BUILD/examples/uiview -N 127.0.0.1:$VP -R " . tmp_path('view.ready') .
	" -d examples/pages; echo \"exit \$?\" > $done{view}; exec sh") or BAIL_OUT('tmux new-session failed');
tm('new-window', '-d', '-t', 'ui:', '-n', 'mail',
	"$BUILD/examples/uimail -N 127.0.0.1:$MP -R " . tmp_path('mail.ready') .
	"; echo \"exit \$?\" > $done{mail}; exec sh") or BAIL_OUT('tmux new-window failed');
for my $r (qw(view mail)) {
	my $end = time + 10;
	sleep 0.05 until -s tmp_path("$r.ready") || time > $end;
	-s tmp_path("$r.ready") or BAIL_OUT("$r did not start: " . screen("ui:$r"));
}

sub url { my ($port, $path) = @_; "nfs://127.0.0.1$path?nfsport=$port&mountport=$port" }
# A file's content over NFS (undef when the read fails).
sub cat {
	my ($st, $out) = run_tool('nfs-cat', url(@_));
	return $st ? undef : $out;
}
# Write through libnfs (open O_TRUNC, WRITE: `echo > f`): (exit status, output).
# libnfs 4.0 says "Bad address" for any refused WRITE: raw_write has the status.
sub put { my ($port, $path, $text) = @_; nfsc({port => $port}, '/', 'write', $path, $text) }
# One raw NFS WRITE of @data at offset 0 of @path (FILE_SYNC): its nfsstat3.
sub raw_write {
	my ($port, $path, $data) = @_;
	my $sock = rpc_connect({port => $port});
	my $fh = rpc_mnt($sock, '/');
	$fh = rpc_lookup_fh($sock, $fh, $_) // return -1 for grep { length } split m{/}, $path;
	return rpc_status($sock, 7, xdr_opaque($fh) . pack('NNNN', 0, 0, length $data, 2) . xdr_opaque($data));
}
sub until_ok {
	my ($secs, $check) = @_;
	my $end = time + $secs;
	while (1) {
		my @r = $check->();
		return @r if $r[0] || time > $end;
		sleep 0.05;
	}
}

# --- the viewer ---------------------------------------------------------

sub view_state {
	my $s = screen('ui:view');
	my %v = (screen => $s);
	($v{url}) = $s =~ /^uiview  (\S+)/m;
	($v{title}) = $s =~ /^uiview .*\n\n  (.*?)\s*$/m;
	($v{owner}) = $s =~ /^  owner: (.*?)\s*$/m;
	my @l;
	while ($s =~ /^([> ]) \[(\d+)\] (.*?)  \((\S+)\)\s*$/mg) { push @l, [$1, $2, $3, $4] }
	$v{links} = join '', map { "$_->[3] $_->[2]\n" } @l;
	my ($sel) = grep { $_->[0] eq '>' } @l;
	$v{selection} = $sel ? "$sel->[1] $sel->[3]\n" : '';
	return \%v;
}
# The screen and the files agree: (1) or (0, what differs).
sub view_agrees {
	my $v = view_state();
	my %f = map { ($_ => cat($VP, "/ui/page/$_") // '?') } qw(url title owner/name owner/email links);
	my $sel = cat($VP, '/ui/selection') // '?';
	my $owner = $f{'owner/email'} eq '' ? '-' : do { chomp(my $n = $f{'owner/name'}); chomp(my $e = $f{'owner/email'}); "$n <$e>" };
	my @diff;
	push @diff, "url '$v->{url}' vs '$f{url}'" unless ($v->{url} // '') . "\n" eq $f{url};
	push @diff, "title '$v->{title}' vs '$f{title}'" unless ($v->{title} // '') . "\n" eq $f{title};
	push @diff, "owner '$v->{owner}' vs '$owner'" unless ($v->{owner} // '') eq $owner;
	push @diff, "links\n$v->{links} vs\n$f{links}" unless $v->{links} eq $f{links};
	push @diff, "selection '$v->{selection}' vs '$sel'" unless $v->{selection} eq $sel;
	return @diff ? (0, join('; ', @diff) . "\nscreen:\n$v->{screen}") : (1);
}
sub agrees {
	my ($name, $fn, $want) = @_;
	my ($ok, $why) = until_ok(3, sub { my @r = $fn->(); return (0, $r[1]) unless $r[0]; $want ? ($want->(), 'not yet there') : (1) });
	diag $why unless $ok;
	return $ok;
}

ok agrees('view', \&view_agrees, sub { view_state()->{url} eq 'index.html' && view_state()->{title} eq 'Friends' }),
    '1 the viewer shows index.html; url, title, owner, links, selection agree';
press('ui:view', 'Down');
ok agrees('view', \&view_agrees, sub { cat($VP, '/ui/selection') eq "2 alice.html\n" }), '2 Down selects link 2: /ui/selection says so';
press('ui:view', 'Enter');
ok agrees('view', \&view_agrees, sub { cat($VP, '/ui/page/owner/email') eq "alice.mueller\@example.net\n" }),
    "3 Enter follows it: Alice's page, her card in owner/, screen and files agree";

my ($st, $out) = put($VP, '/ui/page/url', "nope.html\n");
my $st2 = raw_write($VP, '/ui/page/url', "../etc/passwd\n");
my $err = cat($VP, '/status/errors') // '';
ok $st && $st2 == 22 && $err =~ m{/ui/page/url EINVAL 127\.0\.0\.1:\d+: no page nope\.html}
    && $err =~ m{/ui/page/url EINVAL .*file name} && view_state()->{url} eq 'alice.html',
    '4 writes of pages that are not there are refused (NFS3ERR_INVAL), reported, the page stays'
    or diag "$out\n$st2\n$err";

# --- the shell's cp between the two ---------------------------------------

SKIP: {
	skip 'build/nfs-put not built (libnfs-dev)', 1 unless -x "$BUILD/nfs-put";
	system("nfs-cat '" . url($VP, '/ui/page/owner/email') . "' | $BUILD/nfs-put '" . url($MP, '/ui/compose/to') . "'");
	ok until_ok(3, sub { screen('ui:mail') =~ /^> To:\s+alice\.mueller\@example\.net\s*$/m })
	    && cat($MP, '/ui/compose/to') eq "alice.mueller\@example.net\n",
	    "5 nfs-cat viewer's owner/email | nfs-put composer's to: the To on the screen at once";
}

# --- the composer ---------------------------------------------------------

sub mail_state {
	my $s = screen('ui:mail');
	my %v = (screen => $s);
	($v{id}, $v{state}) = $s =~ /^uimail  message (\d+)  (\w+)/m;
	for my $f (qw(To Cc Subject)) {
		($v{lc $f}) = $s =~ /^[> ] \Q$f\E:[ ]*(.*?)\s*$/m;
	}
	($v{focus}) = $s =~ /^> (To|Cc|Subject|Body):/m;
	$v{focus} = lc($v{focus} // '');
	my ($body) = $s =~ /^[> ] Body:\n((?:  \|.*\n)*)/m;
	$v{body} = join "\n", map { s/^  \| ?//r } split /\n/, $body // '';
	return \%v;
}
sub mail_agrees {
	my $v = mail_state();
	my @diff;
	for my $f (qw(to cc subject)) {
		my $c = cat($MP, "/ui/compose/$f") // '?';
		my $want = $v->{$f} eq '' ? '' : "$v->{$f}\n";
		push @diff, "$f '$v->{$f}' vs '$c'" unless $c eq $want;
	}
	my $b = cat($MP, '/ui/compose/body') // '?';
	$b =~ s/\n$//;
	push @diff, "body '$v->{body}' vs '$b'" unless $v->{body} eq $b;
	my $focus = cat($MP, '/ui/focus') // '?';
	push @diff, "focus '$v->{focus}' vs '$focus'" unless "$v->{focus}\n" eq $focus;
	my $state = cat($MP, '/ui/compose/state') // '?';
	push @diff, "state '$v->{state} $v->{id}' vs '$state'" unless "$v->{state} $v->{id}\n" eq $state;
	return @diff ? (0, join('; ', @diff) . "\nscreen:\n$v->{screen}") : (1);
}

press('ui:mail', 'C-u');
press('ui:mail', '-l', 'bob@example.org');
ok agrees('mail', \&mail_agrees, sub { cat($MP, '/ui/compose/to') eq "bob\@example.org\n" }),
    '6 typing in To: the file holds it, screen and files agree';
press('ui:mail', 'Tab', 'Tab');
press('ui:mail', '-l', 'Grüße aus Köln ✓');
ok agrees('mail', \&mail_agrees, sub { cat($MP, '/ui/compose/subject') eq "Grüße aus Köln ✓\n" && cat($MP, '/ui/focus') eq "subject\n" }),
    '7 Tab Tab: /ui/focus is subject; UTF-8 typed lands in the file as typed';
my ($cc_st) = put($MP, '/ui/compose/cc', "carol\@example.com, dave\@mail.example.org\n");
put($MP, '/ui/compose/body', "Hello Bob,\nsee you at 5.\n");
put($MP, '/ui/focus', "body\n");
ok $cc_st == 0 && agrees('mail', \&mail_agrees, sub { mail_state()->{cc} eq 'carol@example.com, dave@mail.example.org' && mail_state()->{focus} eq 'body' && mail_state()->{body} =~ /see you at 5\.$/ }),
    '8 writes of Cc, Body and the focus are on the screen at once';
press('ui:mail', 'BSpace');
ok agrees('mail', \&mail_agrees, sub { cat($MP, '/ui/compose/body') eq "Hello Bob,\nsee you at 5\n" }), '9 Backspace in Body: the file follows';

# Longer than what it overwrites (a raw WRITE does not truncate).
$st = raw_write($MP, '/ui/compose/cc', sprintf("%-60s\n", 'not an address'));
my ($st_to) = put($MP, '/ui/compose/to', "bob\@example.org, bad\@-x.org\n");
ok $st == 22 && $st_to && agrees('mail', \&mail_agrees, sub { mail_state()->{cc} eq 'carol@example.com, dave@mail.example.org' && mail_state()->{to} eq 'bob@example.org' }),
    '10 bad addresses in Cc and To are refused (NFS3ERR_INVAL); the fields keep their values' or diag $st;
my @bad = ("overlong \xc0\xaf", "overlong \xe0\x80\xaf", "surrogate \xed\xa0\x80", "past U+10FFFF \xf4\x90\x80\x80", "cut \xe2\x82");
my $refused = grep { (put($MP, '/ui/compose/subject', "$_\n"))[0] } @bad;
ok $refused == @bad && cat($MP, '/ui/compose/subject') eq "Grüße aus Köln ✓\n" && mail_agrees(),
    '11 bad UTF-8 (overlong, surrogate, past U+10FFFF, cut) refused; Subject keeps its value';
my ($st_long) = put($MP, '/ui/compose/subject', ('x' x 300) . "\n");
my ($st_huge) = put($MP, '/ui/compose/body', ('y' x 5000) . "\n");
$err = cat($MP, '/status/errors') // '';
my @lines = split /\n/, $err;
ok $st_long && $st_huge && cat($MP, '/ui/compose/body') eq "Hello Bob,\nsee you at 5\n"
    && (grep { m{/ui/compose/cc EINVAL 127\.0\.0\.1:\d+: 'not an address.*' is not local\@domain} } @lines)
    && (grep { m{/ui/compose/to EINVAL .*domain label starts or ends with '-'} } @lines)
    && (grep { /overlong form at byte 9/ } @lines) == 2 && (grep { /surrogate U\+D800/ } @lines) && (grep { /past U\+10FFFF|byte 0xf4/ } @lines)
    && (grep { m{/ui/compose/subject EINVAL .*300 bytes; at most 200} } @lines)
    && (grep { m{/ui/compose/body EINVAL .*too long} } @lines)
    && screen('ui:mail') =~ /^last refused: .*EINVAL/m,
    '12 too long refused too; every refusal is a line of /status/errors, the last on the screen' or diag $err;

# --- the monitor ----------------------------------------------------------

my $mlog = tmp_path('uimon.log');
$mon_pid = fork() // die;
if (!$mon_pid) {
	open(STDERR, '>', $mlog) or die;
	exec("$BUILD/examples/uimon", '-v', "nfs://127.0.0.1:$VP/?mountport=$VP", '-m',
	     "nfs://127.0.0.1:$MP/?mountport=$MP", '-i', '100') or exit 127;
}
sub mlog { open(my $f, '<', $mlog) or return ''; local $/; <$f> // '' }
put($VP, '/ui/page/url', "bob.html\n");
press('ui:mail', 'C-n');
ok until_ok(5, sub { mail_state()->{to} eq 'bob@example.org' && mail_state()->{id} == 2 })
    && agrees('mail', \&mail_agrees) && mlog() =~ /message 2: To filled with bob\@example\.org \(Bob Example, owner of bob\.html\)/
    && screen('ui:mail') =~ /^note: To filled in from the page being viewed/m,
    '13 a new message with an empty To: uimon fills it with the page owner\'s address, and logs it' or diag mlog() . screen('ui:mail');

# A page without an owner: nothing to fill; the user types To; then a page with one.
put($VP, '/ui/page/url', "news.html\n");
press('ui:mail', 'C-n');
until_ok(3, sub { mlog() =~ /message 3: To is empty and the page has no owner/ });
press('ui:mail', '-l', 'erin@example.com');
sleep 0.3;
put($VP, '/ui/page/url', "alice.html\n");
sleep 1;
ok mail_state()->{to} eq 'erin@example.com' && mail_agrees() && mlog() !~ /message 3: To filled/,
    '14 a To the user typed is left alone, whatever page comes next' or diag mlog();

my $st_s = raw_write($MP, '/ui/compose/suggest-to', "3 mallory\@example.com\n");
my ($st_old) = put($MP, '/ui/compose/suggest-to', "2 mallory\@example.com\n");
ok $st_s == 17 && $st_old && mail_state()->{to} eq 'erin@example.com'
    && cat($MP, '/status/errors') =~ /suggest-to EEXIST .*To of message 3 was set by the user/
    && cat($MP, '/status/errors') =~ /suggest-to EEXIST .*message 2 is not the one being composed/,
    '15 suggest-to for a message whose To was typed (NFS3ERR_EXIST), or for an old message: To stays' or diag $st_s;

my $lat = cat($MP, '/status/latency') // '';
my $vlat = cat($VP, '/status/latency') // '';
ok $lat =~ /^write_to_screen count [1-9]\d* p50_us [\d.]+ p99_us [\d.]+/m && $lat =~ /^key_to_file count [1-9]/m
    && $vlat =~ /^write_to_screen count [1-9]/m, '16 /status/latency counts writes to screen and keys to file' or diag "$lat$vlat";

kill 'TERM', $mon_pid;
waitpid($mon_pid, 0);
$mon_pid = undef;
press('ui:mail', 'C-q');
press('ui:view', 'q');
my $end = time + 5;
sleep 0.1 until (-s $done{mail} && -s $done{view}) || time > $end;
my $exits = join "", map { my $x = "none\n"; if (open(my $fh, "<", $done{$_})) { local $/; $x = <$fh> // $x } $x } qw(view mail);
ok $exits eq "exit 0\nexit 0\n" && mlog() =~ /uimon: stopped/, '17 q and ^Q quit both apps, exit 0; uimon stops on SIGTERM' or diag $exits;
