# 25: a full machine must not lock the monitor out (attack review, part 3).
# An rw client fills the tree with its own files until the server says
# NOSPC. Before the scratch cap that took the whole machine, and then the
# emergency brake -- Accepting=0 -- failed with NFS3ERR_NOSPC, an invalid value
# got NOSPC instead of INVAL, and neither was reported. Now clients' files stop
# at the cap (UmlConfScratch, by default half of UmlConfMemory) and the knobs
# have the rest; a knob edit is validated before anything is allocated.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestUtil;
use FindBin;
use lib "$FindBin::Bin/../nfs/lib";
use NfsTest qw(rpc_connect rpc_call xdr_str xdr_opaque);
use UmlConf::Test;

plan tests => 16;

use constant { NFS3_OK => 0, NFS3ERR_PERM => 1, NFS3ERR_INVAL => 22, NFS3ERR_NOSPC => 28 };

my $srv = { port => UmlConf::Test::nfs_port() };
my $sock = rpc_connect($srv);

# Raw NFSv3 calls: the libnfs tools don't say which error the server sent.
my $no_sattr = pack('N6', 0, 0, 0, 0, 0, 0);

sub call {
    my ($proc, $args) = @_;
    my (undef, $res) = rpc_call($sock, 100003, 3, $proc, $args);
    return (unpack('N', $res // '') // -1, $res // '');
}

sub root_fh {
    my (undef, $res) = rpc_call($sock, 100005, 3, 1, xdr_str('/'));
    my ($st, $len) = unpack('NN', $res // '');
    return ($st // -1) == 0 ? substr($res, 8, $len) : undef;
}

sub lookup {
    my ($dir, $name) = @_;
    my ($st, $res) = call(3, xdr_opaque($dir) . xdr_str($name));
    return $st == NFS3_OK ? substr($res, 8, unpack('N', substr($res, 4, 4))) : undef;
}

# CREATE (UNCHECKED) or MKDIR: (status, handle).
sub make {
    my ($proc, $dir, $name) = @_;
    my $how = $proc == 8 ? pack('N', 0) : '';
    my ($st, $res) = call($proc, xdr_opaque($dir) . xdr_str($name) . $how . $no_sattr);
    return ($st, undef) if $st != NFS3_OK || !unpack('N', substr($res, 4, 4));
    return ($st, substr($res, 12, unpack('N', substr($res, 8, 4))));
}

sub write_at {
    my ($fh, $off, $data) = @_;
    my ($st) = call(7, xdr_opaque($fh) . pack('NNNN', $off >> 32, $off & 0xffffffff,
        length $data, 2) . xdr_opaque($data));
    return $st;
}

# What an rw client does: 64 KiB files until the server refuses one.
# Returns (files written, the refusal).
sub fill {
    my ($dir) = @_;
    my $chunk = 'x' x 32768;
    for my $i (0 .. 199) {
        my ($st, $fh) = make(8, $dir, "f$i");
        return ($i, $st) if $st != NFS3_OK;
        for my $off (0, 32768) {
            $st = write_at($fh, $off, $chunk);
            return ($i, $st) if $st != NFS3_OK;
        }
    }
    return (200, NFS3_OK);
}

sub unfill {
    my ($dir, $n) = @_;
    call(12, xdr_opaque($dir) . xdr_str("f$_")) for 0 .. $n;
}

sub meminfo_kb {
    my ($field) = @_;
    my ($kb) = (status_file('mm/meminfo') // '') =~ /^$field:\s+(\d+) kB/m;
    return $kb // -1;
}

my $root = root_fh();
my (undef, $dir) = make(9, $root, 'full');
my $accepting = lookup(lookup($root, 'config'), 'Accepting');
ok defined $dir && defined $accepting, 'a client makes /full and finds /config/Accepting';

my ($n, $why) = fill($dir);
ok t_cmp($why, NFS3ERR_NOSPC, "the client's files are refused with NOSPC after $n of 64 KiB");
# The cap (half of UmlConfMemory), or before it the mark that keeps 5/16 of
# the machine free (a dozen prefork children's stacks hold much of it): more
# than the quarter new connections need (the reads here took a stack or two).
my ($used, $limit, $free, $total) =
    map { meminfo_kb($_) } qw(ScratchUsed ScratchLimit MemFree MemTotal);
ok $limit > 3500 && $limit <= 4096 && $free > $total / 4 + 64
    && ($used > $limit - 80 || $free < $total * 5 / 16 + 128),
    "by the cap or the free mark: /status/mm/meminfo says $used of $limit kB, $free kB free";

# The brake, with the tools an admin uses.
my ($rc) = nfs_write('/config/Accepting', "0\n");
ok t_cmp($rc, 0, 'Accepting=0 is accepted on the full machine');
my $batch = concurrent_gets(2, '/slow?ms=10');
ok wait_until(sub { (status_file('queued') // '') eq "2\n" }, 10),
    'and takes effect: new requests are held';

my $off = error_log_size();
ok t_cmp(write_at($accepting, 0, "abc\n"), NFS3ERR_INVAL,
    'an invalid value gets INVAL, not NOSPC');
my ($last) = (split /\n/, status_file('errors') // '')[-1] // '';
ok t_cmp($last, qr{ /config/Accepting "abc\\n" not a decimal number$},
    'and is in /status/errors with its reason');
ok t_cmp(wait_until(sub { error_log_since($off) =~ /umlconf\(10003\).*Accepting.*abc/ }, 5), 1,
    'and in the error log');
ok t_cmp(write_at($accepting, 1 << 40, "1\n"), NFS3ERR_INVAL,
    'a write at offset 2^40 is an invalid value too (was FBIG)');
($last) = (split /\n/, status_file('errors') // '')[-1] // '';
ok t_cmp($last, qr{ /config/Accepting "1\\n" too long \(1099511627778 bytes},
    'and reported');
my ($st) = call(2, xdr_opaque($accepting) . pack('NN', 1, 0) . pack('N5', 0, 0, 0, 0, 0)
    . pack('N', 0));
($last) = (split /\n/, status_file('errors') // '')[-1] // '';
ok $st == NFS3ERR_PERM && $last =~ m{ /config/Accepting "" its mode and owner can't change$},
    'chmod 0 of the knob is PERM, and reported';
ok t_cmp(knob('Accepting'), '0', 'Accepting is still 0');

($rc) = nfs_write('/config/Accepting', "1\n");
ok t_cmp($rc, 0, 'writing 1 back works');
my @r = $batch->collect;
ok t_cmp(scalar(grep { $_->{status} == 200 } @r), 2, 'and the held requests are served');

unfill($dir, $n);
my ($again, $why2) = fill($dir);
# Not always as many: CPUs keep the stacks of the connections made meanwhile.
ok $why2 == NFS3ERR_NOSPC && $again >= $n / 2 && $again <= $n + 1,
    "removing the files gives the room back: $again of $n fit again";
unfill($dir, $again);
my ($rst) = call(13, xdr_opaque($root) . xdr_str('full'));
ok t_cmp($rst, NFS3_OK, 'and the tree is clean again');
