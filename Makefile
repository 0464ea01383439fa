# maitred - one non-recursive GNU Makefile.
#   make            build ./maitred
#   make run        install missing packages, build, start demo backends and
#                   maitred in the foreground (Ctrl+C stops everything)
#   make test       build and run every test (C unit tests and bats)
#   make asan test  the same under AddressSanitizer + UBSan
#   make fuzz       libFuzzer targets, bounded time (FUZZ_SECONDS)
#   make bench      benchmarks against nginx/HAProxy (t/bench)
#   make install / uninstall   honour PREFIX and DESTDIR

CC	?= cc
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR	?=

FLAVOR	:= release
ifneq ($(filter asan,$(MAKECMDGOALS)),)
FLAVOR	:= asan
endif

WARN	:= -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Wno-unused-parameter
CSTD	:= -std=gnu17 -D_GNU_SOURCE
INCS	:= -Ishared -Iworker -Imaster
# Debian's hardening flags (dpkg-buildflags), as its nginx and HAProxy
# are built: a stack overflow aborts the worker rather than returning
# into what a client wrote, and the GOT is read-only. Release flavour
# only; a packager may set both (FORTIFY needs optimisation).
HARDEN	?= -fstack-protector-strong -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
LDHARDEN ?= -Wl,-z,relro -Wl,-z,now
ifeq ($(FLAVOR),asan)
OPT	:= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	   -fno-sanitize-recover=undefined -DMTD_TEST_HOOKS
LDSAN	:= -fsanitize=address,undefined
else
OPT	:= -O2 -g $(HARDEN)
LDSAN	:= $(LDHARDEN)
endif
CFLAGS	?=
ALL_CFLAGS := $(CSTD) $(OPT) $(WARN) $(INCS) $(CFLAGS)
LDLIBS	:= -lbsd -lmd -lpthread -lz -lssl -lcrypto

B	:= build/$(FLAVOR)
SRCS	:= $(wildcard shared/*.c worker/*.c master/*.c)
LIBSRCS	:= $(filter-out master/main.c,$(SRCS))
OBJS	:= $(SRCS:%.c=$(B)/%.o)
LIBOBJS	:= $(LIBSRCS:%.c=$(B)/%.o)
UNITS	:= $(patsubst t/unit/%.c,$(B)/t/%,$(wildcard t/unit/*_test.c))

.PHONY: all asan run test unit deps install uninstall clean fuzz bench lint \
	check-asan
all: maitred

# Keep ./maitred the flavour just built: copy when it differs.
maitred: $(B)/maitred FORCE
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }

$(B)/maitred: $(OBJS)
	$(CC) $(LDSAN) -o $@ $(OBJS) $(LDLIBS)

$(B)/libmaitred.a: $(LIBOBJS)
	rm -f $@
	ar rcs $@ $(LIBOBJS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Unit tests: t/unit/NAME_test.c linked with the library.
$(B)/t/%: t/unit/%.c $(B)/libmaitred.a t/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -It/unit $(LDSAN) -o $@ $< $(B)/libmaitred.a $(LDLIBS)

unit: $(UNITS)

asan:
	@:

DEBIAN_PKGS := gcc make libc6-dev libbsd-dev libmd-dev bats bats-support \
	bats-assert curl python3 procps php-cgi mandoc zlib1g-dev libssl-dev time
deps:
	@missing=""; for p in $(DEBIAN_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing) \
	      >/dev/null || exit 1; \
	  else \
	    echo "missing packages; run: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

TESTS_BATS := $(sort $(wildcard t/*.bats))
# Under CI (CI=true) the suite also runs under ASan+UBSan and every fuzz
# target gets a short smoke run; the release run comes last so that its
# prove summary closes the output.
test: deps maitred unit
ifeq ($(CI),true)
	$(MAKE) fuzz FUZZ_SECONDS=10
	$(MAKE) check-asan
endif
	prove -f --comments -e t/tap-exec $(UNITS) $(TESTS_BATS)

# The whole suite under AddressSanitizer + UBSan, leaving ./maitred alone.
# Any sanitizer report (also from workers, which the tests may not notice)
# fails the run.
ASAN_UNITS := $(patsubst t/unit/%.c,build/asan/t/%,$(wildcard t/unit/*_test.c))
check-asan: maitred
	$(MAKE) FLAVOR=asan build/asan/maitred $(ASAN_UNITS)
	rm -rf build/asan/reports && mkdir -p build/asan/reports
	MAITRED=$(CURDIR)/build/asan/maitred \
	ASAN_OPTIONS=log_path=$(CURDIR)/build/asan/reports/asan:detect_leaks=1 \
	UBSAN_OPTIONS=log_path=$(CURDIR)/build/asan/reports/ubsan:print_stacktrace=1 \
	    prove -f --comments -e t/tap-exec $(ASAN_UNITS) $(TESTS_BATS)
	@if ls build/asan/reports/* >/dev/null 2>&1; then \
	  echo "sanitizer reports:"; head -n 30 build/asan/reports/*; exit 1; fi

run: deps maitred
	exec conf/run-demo ./maitred -c conf/maitred.conf

FUZZ_SECONDS ?= 30
FUZZ_TARGETS := $(patsubst t/fuzz/%.c,build/fuzz/%,$(wildcard t/fuzz/fuzz_*.c))
FUZZ_CFLAGS := $(CSTD) -g -O1 $(INCS) -fsanitize=address,undefined
FUZZ_OBJS := $(LIBSRCS:%.c=build/fuzz/obj/%.o)
# The library once, instrumented for coverage; each target links it.
# Kept between runs (make would delete them as intermediates).
.SECONDARY: $(FUZZ_OBJS)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<
build/fuzz/%: t/fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LDLIBS)
fuzz: $(FUZZ_TARGETS)
	@for f in $(FUZZ_TARGETS); do n=$${f##*/}; mkdir -p build/fuzz/corpus-$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  if ! $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=build/fuzz/$$n- \
	    build/fuzz/corpus-$$n t/fuzz/corpus/$${n#fuzz_} \
	    >build/fuzz/$$n.log 2>&1; then \
	    tail -n 40 build/fuzz/$$n.log; echo "$$n: failed"; exit 1; fi; \
	  grep -E 'stat::number_of_executed_units' build/fuzz/$$n.log; done

bench: maitred
	t/bench/deps
	t/bench/run

lint:
	mandoc -Tlint -Wwarning man/maitred.8 man/maitred.conf.5

# install / uninstall: the FHS layout. Files under $(CONFDIR) are
# configuration: install never overwrites one that exists, and uninstall
# removes one only when it is still the shipped version (a changed file
# stays, and is named). The docroot and log directory are created empty.
CONFDIR	?= $(SYSCONFDIR)/maitred
INITDIR	?= $(SYSCONFDIR)/init.d
LOGROTATEDIR ?= $(SYSCONFDIR)/logrotate.d
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR ?= /lib/systemd/system
else
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
endif
DOCROOT	?= /var/www/maitred
LOGDIR	?= /var/log/maitred
# installed name = source file
CONF_FILES := maitred.conf=build/maitred.conf \
	backends.cfg=conf/backends.cfg blacklist.txt=conf/blacklist.txt \
	cache_rules.cfg=conf/cache_rules.cfg

# The init script and the unit are written for PREFIX=/usr: make them
# name the binary and the configuration where this install puts them.
INSTALL_SED := -e 's|/usr/sbin/maitred|$(SBINDIR)/maitred|g' \
	-e 's|/etc/maitred/maitred\.conf|$(CONFDIR)/maitred.conf|g'

# The shipped maitred.conf names the FHS directories: make it name the
# ones this install uses. Rebuilt every time, as the variables may differ.
CONF_SED := -e 's|/etc/maitred/|$(CONFDIR)/|g' \
	-e 's|/var/log/maitred/|$(LOGDIR)/|g' \
	-e 's|^\(htdocs[[:space:]]*\)/var/www/maitred$$|\1$(DOCROOT)|'

build/maitred.conf: conf/maitred.conf.install FORCE
	@mkdir -p build
	sed $(CONF_SED) conf/maitred.conf.install >$@

install: maitred build/maitred.conf
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(CONFDIR) $(DESTDIR)$(INITDIR) \
	  $(DESTDIR)$(LOGROTATEDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
	  $(DESTDIR)$(DOCROOT) $(DESTDIR)$(LOGDIR)
	install -m 755 maitred $(DESTDIR)$(SBINDIR)/maitred
	install -m 644 man/maitred.8 $(DESTDIR)$(MANDIR)/man8/maitred.8
	install -m 644 man/maitred.conf.5 $(DESTDIR)$(MANDIR)/man5/maitred.conf.5
	sed $(INSTALL_SED) conf/init.d/maitred >$(DESTDIR)$(INITDIR)/maitred
	chmod 755 $(DESTDIR)$(INITDIR)/maitred
	sed $(INSTALL_SED) conf/maitred.service \
	  >$(DESTDIR)$(SYSTEMDUNITDIR)/maitred.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/maitred.service
	sed 's|/var/log/maitred/|$(LOGDIR)/|g' conf/logrotate.d/maitred \
	  >$(DESTDIR)$(LOGROTATEDIR)/maitred
	chmod 644 $(DESTDIR)$(LOGROTATEDIR)/maitred
	@for f in $(CONF_FILES); do \
	  dst=$(DESTDIR)$(CONFDIR)/$${f%%=*}; src=$${f#*=}; \
	  if [ -e "$$dst" ]; then echo "keeping $$dst"; \
	  else echo "install -m 644 $$src $$dst"; \
	    install -m 644 "$$src" "$$dst" || exit 1; fi; done

uninstall: build/maitred.conf
	rm -f $(DESTDIR)$(SBINDIR)/maitred $(DESTDIR)$(MANDIR)/man8/maitred.8 \
	  $(DESTDIR)$(MANDIR)/man5/maitred.conf.5 $(DESTDIR)$(INITDIR)/maitred \
	  $(DESTDIR)$(SYSTEMDUNITDIR)/maitred.service \
	  $(DESTDIR)$(LOGROTATEDIR)/maitred
	@for f in $(CONF_FILES); do \
	  dst=$(DESTDIR)$(CONFDIR)/$${f%%=*}; src=$${f#*=}; \
	  [ -e "$$dst" ] || continue; \
	  if cmp -s "$$src" "$$dst"; then echo "rm -f $$dst"; rm -f "$$dst"; \
	  else echo "keeping changed $$dst"; fi; done
	@for d in $(DESTDIR)$(CONFDIR) $(DESTDIR)$(DOCROOT) $(DESTDIR)$(LOGDIR); \
	  do [ ! -d "$$d" ] || rmdir --ignore-fail-on-non-empty "$$d"; done

clean:
	rm -rf build maitred

FORCE:
-include $(OBJS:.o=.d) $(LIBOBJS:.o=.d) $(FUZZ_OBJS:.o=.d)
