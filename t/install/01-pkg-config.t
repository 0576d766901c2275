#!/usr/bin/perl
# libuml as an installed library: `make install-libuml` into a temporary
# DESTDIR, then a program outside the tree, built with what pkg-config says
# and nothing else, boots a machine, makes files and reads them back.
#  1     install-libuml puts the real name, the soname and dev links,
#        libuml.a, uml.h and libuml.pc where PREFIX says
#  2     pkg-config knows libuml, its version is configure.ac's
#  3     the program builds with `pkg-config --cflags --libs libuml` alone
#  4     it records the soname libuml.so.0 and finds it installed
#  5     it runs: a file read back, a validated file refusing a bad value
#  6     linked with libuml.a (`pkg-config --static`, -l:libuml.a), the same
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $BUILD = $ENV{UML_BUILD} // 'build';
my ($pc) = grep { -x } map { "$_/pkg-config" } split /:/, $ENV{PATH};
plan skip_all => 'pkg-config is not installed' unless $pc;
plan tests => 6;

my $tmp = tempdir(CLEANUP => 1);
my $dest = "$tmp/dest";
my $prefix = '/opt/libuml-test';
my $out = `make -s O=$BUILD install-libuml DESTDIR=$dest PREFIX=$prefix 2>&1`;
my $made = $?;
my $lib = "$dest$prefix/lib";
my ($ver) = map { /AC_INIT\(\[mod_umlconf\], \[([^\]]+)\]/ ? $1 : () } do { open(my $f, '<', 'configure.ac') or die; <$f> };

subtest '1 the installed files' => sub {
	is $made, 0, 'make install-libuml' or diag $out;
	ok -f "$lib/libuml.so.$ver", "real name libuml.so.$ver";
	is readlink("$lib/libuml.so.0"), "libuml.so.$ver", 'soname link';
	is readlink("$lib/libuml.so"), 'libuml.so.0', 'dev link';
	ok -f "$lib/libuml.a", 'libuml.a';
	ok -f "$dest$prefix/include/uml.h", 'uml.h';
	ok -f "$lib/pkgconfig/libuml.pc", 'libuml.pc';
};
# The staged tree is a sysroot to pkg-config: its paths get DESTDIR in front.
$ENV{PKG_CONFIG_PATH} = "$lib/pkgconfig";
$ENV{PKG_CONFIG_SYSROOT_DIR} = $dest;
delete $ENV{PKG_CONFIG_LIBDIR};
my $flags = `pkg-config --cflags --libs libuml`;
chomp(my $got = `pkg-config --modversion libuml`);
is $got, $ver, "2 pkg-config --modversion libuml: $ver";

my $src = "$tmp/hello.c";
open(my $fh, '>', $src) or die;
print $fh <<'C';
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <uml.h>

static int only_digits(void *arg, const char *data, size_t len, const struct uml_client *who,
		       char *why, size_t whylen)
{
	(void)arg;
	(void)who;
	for (size_t i = 0; i < len; i++)
		if ((data[i] < '0' || data[i] > '9') && data[i] != '\n') {
			snprintf(why, whylen, "digits only");
			return -EINVAL;
		}
	return 0;
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 4UL << 20};
	struct uml_file_hooks h = {.validate = only_digits};
	char buf[64], why[64];
	long n;
	int rc;

	if ((rc = uml_boot(&bp)) || (rc = uml_mkdir_p("/app/config", 0755)) ||
	    (rc = uml_put_file("/app/hello", 0644, "hello, libuml\n", 14))) {
		printf("setup: %s\n", strerror(-rc));
		return 1;
	}
	n = uml_get_file("/app/hello", buf, sizeof(buf) - 1);
	if (n < 0)
		return 1;
	buf[n] = '\0';
	printf("read: %s", buf);
	uml_put_file("/app/config/n", 0644, "7\n", 2);
	uml_file_hooks("/app/config/n", &h);
	rc = uml_replace_file("/app/config/n", "x\n", 2, NULL, why, sizeof(why));
	n = uml_get_file("/app/config/n", buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = '\0';
	printf("refused: %d %s, kept: %s", rc, why, buf);
	return 0;
}
C
close $fh;
my $bin = "$tmp/hello";
$out = `cc -std=c11 -Wall -Werror -o $bin $src $flags 2>&1`;
is $?, 0, "3 cc hello.c \$(pkg-config --cflags --libs libuml): $flags" or diag $out;
my $needed = `readelf -d $bin 2>&1`;
ok $needed =~ /NEEDED.*\[libuml\.so\.0\]/, '4 it needs libuml.so.0' or diag $needed;
$ENV{LD_LIBRARY_PATH} = $lib;
my $run = `$bin 2>&1`;
is $run, "read: hello, libuml\nrefused: -22 digits only, kept: 7\n", '5 it runs: read back, refused, kept';

# The archive by name (-l:libuml.a), what Libs.private adds after it.
my $sflags = `pkg-config --cflags --static --libs libuml`;
$sflags =~ s/\s+/ /g;
$sflags =~ s/-luml\b/-l:libuml.a/;
$out = `cc -std=c11 -o $bin-static $src $sflags 2>&1`;
delete $ENV{LD_LIBRARY_PATH};
$run = $? == 0 ? `$bin-static 2>&1` : $out;
is $run, "read: hello, libuml\nrefused: -22 digits only, kept: 7\n", '6 linked with libuml.a, the same';
