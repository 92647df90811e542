/* SPDX-License-Identifier: MIT */
#ifndef DYAD_ERRNAME_H
#define DYAD_ERRNAME_H

/*
 * The symbolic name of error code @err ("ENOENT" for ENOENT; a negative code is named as its
 * positive), or NULL for a code <dyad/errno.h> does not define. Messages print the name, since
 * "error 2" sends the reader to a table.
 */
const char *errno_name(long err);

#endif
