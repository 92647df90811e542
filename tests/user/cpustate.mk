# cpustate records the vector registers at its ELF entry, before musl's _start runs.
$(BUILD)/user/cpustate: USER_CFLAGS += -Wl,-e,cpustate_entry
