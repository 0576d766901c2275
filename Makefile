# mod_umlconf: the kernel (kernel/), its public API (libuml/), the httpd module.
#
#   ./configure && make     libuml.a, libuml.so, tools, and mod_umlconf.so (via apxs)
#   make test               the house checks (layers, symbols, log numbers, format), kernel unit
#                           tests (prove; again with the allocator's debug
#                           checks), then the Apache::Test suite
#   make check-unit         kernel unit tests only
#   make check-asan         unit tests built with ASan + UBSan
#   make check-debug        unit tests with the allocator's debug checks (-DMM_DEBUG)
#   make check-valgrind     unit tests under valgrind memcheck
#   make check-layers       fails on an arrow up the layers (tools/check-layers)
#   make check-symbols      fails on a global symbol outside its namespace
#   make check-format       fails on a C file that differs from .clang-format
#   make check-lognos       fails on a log number used twice or not in doc/log-messages.md
#   make format             formats every C file with clang-format
#   make fuzz               libFuzzer harnesses (clang), FUZZ_SECONDS (60) each; see t/fuzz/README
#   make fuzz-short         the same for 10 s each (part of make test)
#   make bench              benchmarks (see bench/README.md)
#   make soak               64 NFS clients + wrk against httpd for SOAK_SECONDS (180)
#   make mm-kill            allocator users SIGKILLed at random instants: MM_KILL_RUNS (20) runs
#                           of 300 kills, each its own seed (one run is part of check-unit)
#   make inet-kill          the network stack's users SIGKILLed at random instants: INET_KILL_RUNS
#                           (10) runs of INET_KILLS (1000) kills (one run of 200 is in check-unit)
#   make crash              httpd SIGKILLed mid-write CRASH_ITERATIONS (200) times over a state
#                           image: every acknowledged write must be back (t/module/69_crash.t)
#   make install            both of:
#   make install-libuml     libuml.so.0 (soname; real name libuml.so.$(VERSION)), libuml.a, uml.h
#                           and libuml.pc under PREFIX (/usr/local): LIBDIR (PREFIX/lib),
#                           INCLUDEDIR (PREFIX/include); DESTDIR is honoured
#   make install-module     modules into httpd's libexec, mod_umlconf.h beside httpd's
#                           headers, conf/ into mods-available

-include config.mk

O	?= build
CC	?= cc
OPT	?= -O2
SAN	?=
WARN	= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	  -Wno-missing-field-initializers
KCFLAGS = -std=gnu11 $(OPT) -g -fPIC -D_GNU_SOURCE -pthread $(WARN) $(SAN) \
	  -Ikernel/include -Ilibuml $(EXTRA_CFLAGS)
LDLIBS	= -pthread -lm

# The shared library's names: programs record the soname (bumped only when the
# ABI breaks), the file is the real name, -luml finds the dev link.
VERSION	   ?= 0.0.0
SONAME	   := libuml.so.0
REALNAME   := libuml.so.$(VERSION)
PREFIX	   ?= /usr/local
LIBDIR	   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR	   ?= $(PREFIX)/bin

KERNEL_SRC := $(sort $(wildcard kernel/host/*.c kernel/lib/*.c kernel/sync/*.c kernel/mm/*.c kernel/core/*.c kernel/sched/*.c \
		kernel/block/*.c kernel/fs/*.c kernel/net/inet/*.c kernel/net/sunrpc/*.c kernel/net/nfs/*.c))
KERNEL_ASM := $(sort $(wildcard kernel/sched/*_$(shell uname -m).S))
LIBUML_SRC := $(sort $(wildcard libuml/*.c))
LIB_OBJ	   := $(patsubst %.c,$(O)/%.o,$(KERNEL_SRC) $(LIBUML_SRC)) \
	      $(patsubst %.S,$(O)/%.o,$(KERNEL_ASM))
UNIT_SRC   := $(sort $(wildcard t/unit/*.c))
UNIT_BIN   := $(patsubst t/unit/%.c,$(O)/t/%.t,$(filter-out t/unit/tap.c t/unit/capture.c t/unit/mirror.c t/unit/wire.c t/unit/audit.c t/unit/test_umlmon_http.c,$(UNIT_SRC))) \
	      $(O)/t/umlmon-http.t
FUZZ_NAMES := rpc record knob frame
FUZZ_SRC   := $(sort $(wildcard t/fuzz/*.c))
FUZZ_REPLAY := $(patsubst %,$(O)/t/fuzz-%.t,$(FUZZ_NAMES))
UMLMON_SRC := $(sort $(wildcard tools/umlmon/*.c))
UMLMON_OBJ := $(patsubst %.c,$(O)/%.o,$(UMLMON_SRC))
TOOLS	   := $(O)/umlnfsd $(O)/umlfsck $(O)/umlmon $(O)/examples/nfscp \
	      $(O)/examples/uiview $(O)/examples/uimail $(O)/examples/uimon \
	      $(O)/examples/echod
# Drivers of the t/nfs tests that link the kernel.
NFS_DRIVERS := $(O)/t/nfsclnt-drive $(O)/t/inet-drive
MOD_SRC	   := $(sort $(wildcard mod_umlconf/*.c))

ALL := $(O)/libuml.a $(O)/libuml.so $(UNIT_BIN) $(TOOLS) $(NFS_DRIVERS)
ifeq ($(HAVE_LIBNFS),1)
ALL += $(O)/nfs-put
endif
ifeq ($(WITH_APACHE)$(if $(MOD_SRC),y),1y)
ALL += $(O)/mod_umlconf.so $(O)/mod_umlconf_httpd.so $(O)/t/mod_umlconf-layout.so
endif

.SECONDARY:
.PHONY: all test check-unit check-apache check-asan check-debug check-valgrind check-layers \
	check-symbols check-format check-lognos format fuzz fuzz-short fuzz-run bench soak storm install \
	install-libuml install-module clean
all: $(ALL)

config.mk:
	@echo "run ./configure first (autoconf makes it from configure.ac)"; exit 1

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -MMD -MP -c -o $@ $<

$(O)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -c -o $@ $<

$(O)/libuml.a: $(LIB_OBJ)
	rm -f $@; ar rcs $@ $^

$(O)/libuml.so: $(LIB_OBJ) libuml/libuml.map
	$(CC) -shared $(SAN) -Wl,--version-script=libuml/libuml.map -Wl,-soname,$(SONAME) \
		-o $@ $(LIB_OBJ) $(LDLIBS)

$(O)/t/%.t: $(O)/t/unit/%.o $(O)/t/unit/tap.o $(O)/libuml.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $(filter %.o,$^) $(O)/libuml.a $(LDLIBS)

# The stack's tests on a hook queue share its capture and clock (t/unit/capture.h).
$(O)/t/test_inet.t $(O)/t/test_inet6.t $(O)/t/test_vnet.t $(O)/t/test_zone.t: $(O)/t/unit/capture.o
# The death tests share their audit (t/unit/audit.h).
$(O)/t/test_death.t $(O)/t/test_inet_death.t: $(O)/t/unit/audit.o
# The TCP tests share the mirrored wire (t/unit/mirror.h).
$(O)/t/test_tcp.t $(O)/t/test_socket.t $(O)/t/test_inet_death.t: $(O)/t/unit/mirror.o
# Frames made by hand, in the stack's tests and the frame harness (t/unit/wire.h).
$(O)/t/test_inet.t $(O)/t/test_tcp.t $(O)/t/test_socket.t $(O)/t/test_inet_death.t \
	$(O)/t/test_inet6.t $(O)/t/test_vnet.t $(O)/t/test_zone.t $(O)/t/fuzz-frame.t \
	$(O)/fuzz-frame: $(O)/t/unit/wire.o

# umlmon's arithmetic (metrics, policies, config) on a virtual clock.
$(O)/t/test_umlmon.t: $(addprefix $(O)/tools/umlmon/,metrics.o policy.o conf.o)

# A fuzz harness links as a replay test (replay.c's main, for check-unit) or,
# in the clang build of make fuzz, with libFuzzer's main; both run the same code.
$(O)/t/fuzz-%.t: $(O)/t/fuzz/fuzz_%.o $(O)/t/fuzz/fuzz.o $(O)/t/fuzz/replay.o $(O)/t/unit/tap.o $(O)/libuml.a
	$(CC) $(SAN) -o $@ $(filter %.o,$^) $(O)/libuml.a $(LDLIBS)

$(O)/fuzz-%: $(O)/t/fuzz/fuzz_%.o $(O)/t/fuzz/fuzz.o $(O)/libuml.a
	$(CC) $(subst fuzzer-no-link,fuzzer,$(SAN)) -o $@ $(filter %.o,$^) $(O)/libuml.a $(LDLIBS)

$(O)/t/fuzz-rpc.t $(O)/fuzz-rpc: $(addprefix $(O)/,t/fuzz/fuzz_rpc_seeds.o t/fuzz/fuzz_tree.o mod_umlconf/knob_parse.o)
$(O)/t/fuzz-knob.t $(O)/fuzz-knob: $(O)/mod_umlconf/knob_parse.o

$(O)/umlnfsd: $(O)/tools/umlnfsd.o $(O)/libuml.a
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

$(O)/umlfsck: $(O)/tools/umlfsck.o $(O)/libuml.a
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# The fleet monitor (tools/umlmon/): a libuml program with a few host threads.
$(O)/umlmon: $(UMLMON_OBJ) $(O)/tools/umlmon/dashboard.html.o $(O)/libuml.a
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# Programs on libuml other than httpd (examples/).
$(O)/examples/%: $(O)/examples/%.o $(O)/libuml.a
	$(CC) $(SAN) -o $@ $(filter %.o,$^) $(O)/libuml.a $(LDLIBS)

# The UI-as-files apps share their terminal, tree and checks (examples/uiapp.c).
$(O)/examples/uiview $(O)/examples/uimail: $(O)/examples/uiapp.o

# The kernel's NFS client against umlnfsd (t/nfs/13-client.t).
$(O)/t/nfsclnt-drive: $(O)/t/nfs/nfsclnt-drive.o $(O)/libuml.a
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# A machine on a TAP device (t/inet/*.t).
$(O)/t/inet-drive: $(O)/t/inet/inet-drive.o $(O)/libuml.a
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# umlmon's dashboard: its server and JSON (tools/umlmon/http.c, json.c) and its
# page, tools/umlmon/dashboard.html, which od and sed make into a C array (no
# xxd needed). The unit test links them alone, with a synthetic fleet, and
# serves that fleet for t/umlmon/*.t.
UMLMON_DASH_OBJ := $(O)/tools/umlmon/http.o $(O)/tools/umlmon/json.o $(O)/tools/umlmon/dashboard.html.o

$(O)/tools/umlmon/dashboard.html.c: tools/umlmon/dashboard.html
	@mkdir -p $(dir $@)
	{ echo '/* Made from tools/umlmon/dashboard.html by the Makefile. */'; \
	  echo '#include <stddef.h>'; \
	  echo 'const unsigned char mon_page_html[] = {'; \
	  od -An -v -tx1 $< | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; \
	  echo 'const size_t mon_page_html_len = sizeof(mon_page_html);'; } >$@.tmp && mv -f $@.tmp $@

$(O)/tools/umlmon/dashboard.html.o: $(O)/tools/umlmon/dashboard.html.c
	$(CC) $(KCFLAGS) -c -o $@ $<

$(O)/t/umlmon-http.t: $(O)/t/unit/test_umlmon_http.o $(UMLMON_DASH_OBJ) $(O)/tools/umlmon/conf.o \
		       $(O)/t/unit/tap.o
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# A libnfs client for monitors and tests; it knows nothing of the kernel.
$(O)/nfs-put: tools/nfs-put.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(OPT) -g $(WARN) -o $@ $< -lnfs

# The soak's NFS client: 64 libnfs contexts on threads (t/soak/run drives it).
$(O)/soak-client: t/soak/soak-client.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(OPT) -g $(WARN) -pthread -o $@ $< -lnfs

# The kill storm's NFS client (t/module/83_killstorm.t): survives its server
# being killed under it, which libnfs's own tools and soak-client do not.
$(O)/t/storm-client: t/lib/storm-client.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(OPT) -g $(WARN) -o $@ $< -lnfs

# Death at random instants in the allocator (t/stress/mm_kill.c): one run of 300 kills
# is part of check-unit; make mm-kill runs MM_KILL_RUNS of them, each with its own seed.
MM_KILL_RUNS ?= 20
$(O)/t/mm-kill.t: $(O)/t/stress/mm_kill.o $(O)/t/unit/audit.o $(O)/t/unit/tap.o $(O)/libuml.a
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

.PHONY: mm-kill
mm-kill: $(O)/t/mm-kill.t
	fails=0; for i in $$(seq 1 $(MM_KILL_RUNS)); do \
		MM_KILL_SEED=$$i $(O)/t/mm-kill.t >$(O)/t/mm-kill.$$i.log 2>&1 || \
		{ fails=$$((fails + 1)); echo "run $$i failed: $(O)/t/mm-kill.$$i.log"; }; done; \
	echo "mm-kill: $$fails of $(MM_KILL_RUNS) runs failed"; [ $$fails -eq 0 ]

# Death at random instants in the network stack (t/unit/test_inet_death.c 16-17):
# one run of 200 kills is part of check-unit; make inet-kill runs INET_KILL_RUNS
# more of INET_KILLS kills, each with its own seed.
INET_KILL_RUNS ?= 10
INET_KILLS ?= 1000
.PHONY: inet-kill
inet-kill: $(O)/t/test_inet_death.t
	fails=0; for i in $$(seq 1 $(INET_KILL_RUNS)); do \
		UML_INET_KILLS=$(INET_KILLS) UML_INET_KILL_SEED=$$i $(O)/t/test_inet_death.t \
			>$(O)/t/inet-kill.$$i.log 2>&1 || \
		{ fails=$$((fails + 1)); echo "run $$i failed: $(O)/t/inet-kill.$$i.log"; }; \
		grep '^# random kills' $(O)/t/inet-kill.$$i.log; done; \
	echo "inet-kill: $$fails of $(INET_KILL_RUNS) runs failed"; [ $$fails -eq 0 ]

# The crash and disk-full tests' NFS client (t/module/69_crash.t, 69_full.t):
# stable writes only, each acknowledgement printed as it comes.
$(O)/t/crash-client: t/lib/crash-client.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(OPT) -g $(WARN) -o $@ $< -lnfs

# apxs compiles the module against httpd's headers and links libuml in, so the
# module carries the kernel and no other library has to be installed.
# mod_umlconf/exports.map keeps libuml's names local to the module: httpd
# resolves symbols globally, and glibc's SunRPC also defines svc_run, xdr_*.
# $(call apxs_module,dir,name,sources,apxs options,libraries): $(O)/<dir>/<name>.so.
define apxs_module
	@mkdir -p $(O)/$(1)
	cp $(3) $(wildcard mod_umlconf/*.h) $(O)/$(1)/
	cd $(O)/$(1) && $(APXS) -c -Wc,-std=gnu11 -Wc,-Wall -Wc,-Wextra -Wc,-Werror \
		-Wc,-Wno-missing-field-initializers -Wc,-Wno-unused-parameter $(4) \
		-o $(2).la $(notdir $(3)) $(5) >build.log 2>&1 || { cat build.log; exit 1; }
	cp $(O)/$(1)/.libs/$(2).so $@.tmp && mv -f $@.tmp $@  # new inode: a running httpd keeps its mapping
endef
MOD_OPT = -Wl,-Wl,--version-script=$(CURDIR)/mod_umlconf/exports.map -I$(CURDIR)/libuml
MOD_DEPS = $(MOD_SRC) $(wildcard mod_umlconf/*.h) mod_umlconf/exports.map libuml/uml.h $(O)/libuml.a
HTTPD_KNOBS_SRC := $(wildcard mod_umlconf/httpd_knobs/*.c)
HTTPD_KNOBS_OPT = -Wl,-Wl,--version-script=$(CURDIR)/mod_umlconf/httpd_knobs/exports.map
LAYOUT_OPT = -Wc,-DUMLCONF_KNOB_SLOTS=16 $(MOD_OPT)

$(O)/mod_umlconf.so: $(MOD_DEPS)
	$(call apxs_module,mod,mod_umlconf,$(MOD_SRC),$(MOD_OPT),$(CURDIR)/$(O)/libuml.a)

# httpd's own settings as knobs (mod_umlconf/httpd_knobs), through mod_umlconf.h only.
$(O)/mod_umlconf_httpd.so: $(HTTPD_KNOBS_SRC) mod_umlconf/mod_umlconf.h mod_umlconf/httpd_knobs/exports.map
	$(call apxs_module,mod-httpd,mod_umlconf_httpd,$(HTTPD_KNOBS_SRC),$(HTTPD_KNOBS_OPT))

# The same module with another shared layout (fewer knob slots), for the test
# of a graceful restart onto a new build (t/module/72_layout.t).
$(O)/t/mod_umlconf-layout.so: $(MOD_DEPS)
	$(call apxs_module,mod-layout,mod_umlconf,$(MOD_SRC),$(LAYOUT_OPT),$(CURDIR)/$(O)/libuml.a)

check-unit: $(UNIT_BIN) $(FUZZ_REPLAY) $(O)/t/mm-kill.t $(TOOLS) $(NFS_DRIVERS)
	UML_BUILD=$(O) prove -f --exec '' $(UNIT_BIN) $(FUZZ_REPLAY) $(O)/t/mm-kill.t \
		$(wildcard t/nfs/*.t t/inet/*.t t/umlmon/*.t t/install/*.t t/ui/*.t)

check-apache: all $(O)/t/storm-client
	t/run-apache-tests

# The house rules (doc/design.md, "Layers"): no arrow up the layers, no
# global symbol outside its subsystem's namespace, one layout.
check-layers: all
	tools/check-layers $(O)
check-symbols: all
	tools/check-symbols $(O)
check-format:
	tools/check-format
check-lognos:
	tools/check-lognos
format:
	git ls-files '*.c' '*.h' | grep -v '^t/fuzz/corpus/' | xargs clang-format -i

# The soak runs after the rest, not beside it under -j: it loads both cores.
test: check-format check-layers check-symbols check-lognos check-unit check-debug check-apache
	$(MAKE) fuzz-short
	$(MAKE) soak SOAK_SECONDS=20

check-asan:
	$(MAKE) O=build/asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" WITH_APACHE=0 check-unit

# libFuzzer builds (t/fuzz/README): kernel and harnesses instrumented for coverage, ASan
# and UBSan in build/fuzz; each harness runs FUZZ_SECONDS on a scratch copy of its corpus.
FUZZ_SECONDS ?= 60
FUZZ_CC	     ?= clang
FUZZ_SAN     := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer
fuzz:
	$(MAKE) O=build/fuzz CC=$(FUZZ_CC) OPT=-O1 SAN="$(FUZZ_SAN)" WITH_APACHE=0 fuzz-run

fuzz-short:
	$(MAKE) fuzz FUZZ_SECONDS=10

fuzz-run: $(patsubst %,$(O)/fuzz-%,$(FUZZ_NAMES))
	t/fuzz/run $(O) $(FUZZ_SECONDS) $(FUZZ_NAMES)

check-debug:
	$(MAKE) O=build/debug EXTRA_CFLAGS=-DMM_DEBUG WITH_APACHE=0 check-unit

check-valgrind: $(UNIT_BIN)
	for t in $(UNIT_BIN); do \
		UML_VALGRIND=1 valgrind -q --error-exitcode=99 --leak-check=full $$t >/dev/null || exit 1; \
	done; echo "valgrind: clean"

bench: all
	bench/run

# The Apache suite with a longer kill storm (t/module/83_killstorm.t).
STORM_SECONDS ?= 180
storm: all $(O)/t/storm-client
	UMLCONF_STORM_SECONDS=$(STORM_SECONDS) t/run-apache-tests

# httpd SIGKILLed mid-write CRASH_ITERATIONS times (t/module/69_crash.t).
CRASH_ITERATIONS ?= 200
.PHONY: crash
crash: all $(O)/t/crash-client
	UMLCONF_CRASH_ITERATIONS=$(CRASH_ITERATIONS) t/run-apache-tests t/module/69_crash.t

SOAK_SECONDS ?= 180
soak: all $(O)/soak-client
	SOAK_SECONDS=$(SOAK_SECONDS) O=$(O) t/soak/run

install: install-libuml $(if $(filter 1,$(WITH_APACHE)),install-module)

# pkg-config's description (`pkg-config --cflags --libs libuml`) is made at install
# time: PREFIX and LIBDIR may be given to this make only.
install-libuml: $(O)/libuml.so $(O)/libuml.a libuml/libuml.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
		-e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
		-e 's|@VERSION@|$(VERSION)|' libuml/libuml.pc.in >$(O)/libuml.pc
	install -D -m 0755 $(O)/libuml.so $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sfn $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libuml.so
	install -D -m 0644 $(O)/libuml.a $(DESTDIR)$(LIBDIR)/libuml.a
	install -D -m 0644 libuml/uml.h $(DESTDIR)$(INCLUDEDIR)/uml.h
	install -D -m 0644 $(O)/libuml.pc $(DESTDIR)$(LIBDIR)/pkgconfig/libuml.pc
	test -n "$(DESTDIR)" || ldconfig  # the loader's cache learns the new soname
	test ! -f $(O)/nfs-put || install -D -m 0755 $(O)/nfs-put $(DESTDIR)$(BINDIR)/nfs-put

install-module: $(O)/mod_umlconf.so $(O)/mod_umlconf_httpd.so
	install -D -m 0644 $(O)/mod_umlconf.so $(DESTDIR)$(APACHE_LIBEXECDIR)/mod_umlconf.so
	install -D -m 0644 $(O)/mod_umlconf_httpd.so $(DESTDIR)$(APACHE_LIBEXECDIR)/mod_umlconf_httpd.so
	install -D -m 0644 mod_umlconf/mod_umlconf.h $(DESTDIR)$(APACHE_INCLUDEDIR)/mod_umlconf.h
	install -D -m 0644 conf/umlconf.load $(DESTDIR)/etc/apache2/mods-available/umlconf.load
	install -D -m 0644 conf/umlconf.conf $(DESTDIR)/etc/apache2/mods-available/umlconf.conf
	install -D -m 0644 conf/umlconf_httpd.load $(DESTDIR)/etc/apache2/mods-available/umlconf_httpd.load

clean:
	rm -rf build

# Header dependencies of everything compiled by the rule above (the kernel, tests, tools).
-include $(LIB_OBJ:.o=.d) $(patsubst %.c,$(O)/%.d,$(UNIT_SRC) $(FUZZ_SRC) mod_umlconf/knob_parse.c tools/umlnfsd.c tools/umlfsck.c \
	t/nfs/nfsclnt-drive.c t/inet/inet-drive.c $(UMLMON_SRC) $(wildcard examples/*.c))
