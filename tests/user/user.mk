# User-space test programs: static musl executables (Debian's musl-tools), each shipped on the
# ISO as a multiboot module whose command line is /bin/<name>.
#
# USER_BINS are the files to build; USER_ISO_MODULES are the mkiso.sh arguments
# (FILE:/path/in/dyad). `init` is the test runner: boot it as the first process.

USER_CC := musl-gcc
# -no-pie: Dyad loads ET_EXEC only (kern/elf.c); -static: there is no dynamic loader.
USER_CFLAGS := -std=gnu11 -static -fno-pie -no-pie -O2 -g -Wall -Wextra -Werror \
	-Iinclude/uapi -MMD -MP

USER_PROGS := init nop crash sysconf mmap faults fuzz bench cpustate schedtest blk blkbench threads \
	stress thbench vmshoot
USER_BINS := $(USER_PROGS:%=$(BUILD)/user/%)
# A plain text file, so that spawning something that is not a program can be tested.
USER_ISO_MODULES := $(foreach p,$(USER_PROGS),$(BUILD)/user/$(p):/bin/$(p)) \
	tests/user/motd.txt:/etc/motd

$(BUILD)/user/%: tests/user/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MUSLCC  $<")
	$(Q)$(USER_CC) $(USER_CFLAGS) -o $@ $<

.PHONY: user
user: $(USER_BINS)
