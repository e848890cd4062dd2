# SPDX-License-Identifier: MIT
# ferry build. `make` builds ./ferry; `make check` installs what is missing, builds the
# normal and the ASan+UBSan variants and runs every test; `make bench` prints figures.
# Out-of-tree builds: make B=/some/dir (the binary is then $(B)/ferry).

B ?= build
CC ?= gcc
SAN ?=
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

NL_CFLAGS := $(shell pkg-config --cflags libnl-3.0)
WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS_COMMON := -std=gnu11 -g -O2 -D_GNU_SOURCE -DFERRY_VERSION='"0.1-$(VERSION)"' \
	-I$(B)/proto -Isrc -Iarch/x86/include -Ipie -Imemfs -Ikexec $(NL_CFLAGS) $(WARN)
ifeq ($(SAN),1)
CFLAGS_COMMON += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
endif
NL_CFLAGS := $(shell pkg-config --cflags libnl-route-3.0)
NL_LIBS := $(shell pkg-config --libs libnl-route-3.0)
CFLAGS_COMMON += $(NL_CFLAGS)
LIBS := -lprotobuf-c -lcap -lpthread -lxxhash $(NL_LIBS) -lnftables

PROTOS := $(wildcard proto/*.proto)
PROTO_C := $(patsubst proto/%.proto,$(B)/proto/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
SRCS := $(wildcard src/*.c arch/x86/*.c memfs/*.c kexec/*.c)
OBJS := $(patsubst %.c,$(B)/%.o,$(SRCS)) $(PROTO_C:.c=.o) $(B)/pie/restorer-blob.o

all: ferry lib

ifeq ($(B),build)
ferry: $(B)/ferry
	cp $< $@
else
ferry: $(B)/ferry
endif

$(B)/ferry: $(OBJS)
	$(CC) $(LDSAN) -o $@ $^ $(LIBS)

$(B)/proto/%.pb-c.c $(B)/proto/%.pb-c.h: proto/%.proto $(PROTOS)
	@mkdir -p $(B)/proto
	protoc-c --proto_path=proto --c_out=$(B)/proto $<

$(B)/proto/%.pb-c.o: $(B)/proto/%.pb-c.c $(PROTO_H)
	$(CC) $(CFLAGS_COMMON) -c -o $@ $<

$(B)/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -MMD -MP -c -o $@ $<

# --- lib: libcriu's API over ferry's RPC (lib/criu.h), a shared library ---------------------
LIB_SO := $(B)/lib/libcriu.so.2
LIB_CFLAGS := -std=gnu11 -g -O2 -fPIC -D_GNU_SOURCE -I$(B)/proto -Ilib $(WARN)

lib: $(LIB_SO)

$(B)/lib/criu.pic.o: lib/criu.c lib/criu.h $(B)/proto/rpc.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

# the messages stay the library's own: only criu_* is exported
$(B)/lib/rpc.pb-c.pic.o: $(B)/proto/rpc.pb-c.c $(B)/proto/rpc.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -fvisibility=hidden -c -o $@ $<

$(LIB_SO): $(B)/lib/criu.pic.o $(B)/lib/rpc.pb-c.pic.o
	$(CC) -shared -Wl,-soname,libcriu.so.2 -Wl,--no-undefined -o $@ $^ -lprotobuf-c
	ln -sf libcriu.so.2 $(B)/lib/libcriu.so

# --- pie: the restorer blob, freestanding and position independent -----------------------
# Any libc call or absolute relocation fails the link (--no-undefined, -z text, and the
# check that the final image has no relocations at all).
PIE_SRCS := $(wildcard pie/*.c) $(wildcard arch/x86/pie/*.S)
PIE_OBJS := $(patsubst %,$(B)/%.pie.o,$(PIE_SRCS))
PIE_CFLAGS := -std=gnu11 -O2 -g -fpie -ffreestanding -fno-builtin -nostdlib \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-jump-tables -mgeneral-regs-only \
	-fvisibility=hidden -fcf-protection=none -Ipie -Iarch/x86/include $(WARN)

$(B)/%.c.pie.o: %.c $(wildcard pie/*.h arch/x86/include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(PIE_CFLAGS) -c -o $@ $<

$(B)/%.S.pie.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(PIE_CFLAGS) -c -o $@ $<

$(B)/pie/restorer.elf: $(PIE_OBJS) pie/pie.lds
	ld -static -pie --no-dynamic-linker --no-undefined -z text -z noexecstack \
		-T pie/pie.lds -o $@ $(PIE_OBJS)
	@if readelf -r $@ | grep -q 'R_X86_64'; then \
		echo "pie: restorer needs relocations (absolute address in pie code)"; \
		readelf -r $@; exit 1; fi

$(B)/pie/restorer.bin: $(B)/pie/restorer.elf
	objcopy -O binary $< $@

$(B)/pie/restorer-blob.o: $(B)/pie/restorer.bin
	cd $(B)/pie && ld -r -b binary -z noexecstack -o restorer-blob.o restorer.bin

# --- tests and benchmarks ------------------------------------------------------------------
deps:
	./selftests/install-deps.sh

check: deps
	$(MAKE) all
	$(MAKE) B=build-asan SAN=1 build-asan/ferry
	./selftests/run.sh ./ferry build-asan/ferry

bench: deps all
	./selftests/bench/run.sh ./ferry

demo: deps
	$(MAKE) all
	./selftests/demo.sh ./ferry

# the fuller QEMU kexec test: 6.1 -> newer 6.1 and 6.1 -> 6.12 upgrades
e2e: deps all
	$(MAKE) -C selftests PROTO_DIR=$(CURDIR)/build/proto
	python3 selftests/kexec/e2e.py ./ferry --full

# ferry, its early-boot restore script, the initramfs-tools hook and the dracut module
DESTDIR ?=
install: all
	install -D -m 755 ferry $(DESTDIR)/usr/sbin/ferry
	install -D -m 644 initramfs/ferry-boot.sh $(DESTDIR)/usr/share/ferry/ferry-boot.sh
	install -D -m 755 initramfs/initramfs-tools/hooks/ferry \
		$(DESTDIR)/usr/share/initramfs-tools/hooks/ferry
	install -D -m 755 initramfs/initramfs-tools/scripts/local-bottom/ferry \
		$(DESTDIR)/usr/share/initramfs-tools/scripts/local-bottom/ferry
	install -D -m 755 initramfs/dracut/90ferry/module-setup.sh \
		$(DESTDIR)/usr/lib/dracut/modules.d/90ferry/module-setup.sh
	install -D -m 755 initramfs/dracut/90ferry/ferry-restore.sh \
		$(DESTDIR)/usr/lib/dracut/modules.d/90ferry/ferry-restore.sh
	install -D -m 644 $(LIB_SO) $(DESTDIR)/usr/lib/ferry/libcriu.so.2
	ln -sf libcriu.so.2 $(DESTDIR)/usr/lib/ferry/libcriu.so
	install -D -m 644 lib/criu.h $(DESTDIR)/usr/include/ferry/criu.h

clean:
	rm -rf build build-asan ferry

format:
	clang-format -i $(SRCS) $(wildcard src/*.h pie/*.c pie/*.h lib/*.c lib/*.h)

.SECONDARY:
.PHONY: all ferry lib check bench demo clean deps format e2e install
-include $(shell find $(B) -name '*.d' 2>/dev/null)
