// SPDX-License-Identifier: MIT
/*
 * The VMM's entry point. musl's own start files assume the small code model (a link in the low
 * 2 GiB); the VMM is linked far above guest RAM, so it brings an entry of its own that reaches
 * everything RIP-relative. The stack at entry holds argc, argv, envp and the auxiliary vector
 * (System V x86-64 ABI, 3.4.1).
 */
int main(int argc, char **argv, char **envp);
int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
		      void (*fini)(void), void (*ldso)(void));

__attribute__((used)) static void start_c(long *sp)
{
	__libc_start_main(main, (int)sp[0], (char **)(sp + 1), 0, 0, 0);
}

__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call start_c\n"
	"	hlt\n");
