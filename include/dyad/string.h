/* SPDX-License-Identifier: MIT */
#ifndef DYAD_STRING_H
#define DYAD_STRING_H

#include <dyad/types.h>

/* The C library subset the kernel uses; in host builds these are the host libc's. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

#endif
