/*
 * Project-wide constants and tiny helpers shared by master and workers.
 * Everything here is compile-time: no state, no functions with side effects.
 */
#ifndef MTD_H
#define MTD_H

#include <stddef.h>
#include <stdint.h>

#define MTD_NAME		"maitred"
#define MTD_VERSION		"0.1.0"

#define MTD_MAX_LISTEN		16	/* listen directives */
#define MTD_MAX_WORKERS		64	/* worker slots in the segment */
/* Retired workers still draining that the master keeps track of. */
#define MTD_MAX_RETIRED		(MTD_MAX_WORKERS * 4)
#define MTD_MAX_BACKENDS	64	/* backends.cfg lines */
#define MTD_MAX_TARGET		8192	/* request-target bytes -> 414 */
#define MTD_MAX_HEAD		16384	/* request head bytes -> 431 */
#define MTD_MAX_HEADERS		100	/* header fields -> 431 */
#define MTD_MAX_RESP_HEADERS	1000	/* a backend's answer -> 502 */

#define MTD_DEFAULT_PORT	8085

#define MTD_ARRLEN(a)		(sizeof(a) / sizeof((a)[0]))
#define MTD_MIN(a, b)		((a) < (b) ? (a) : (b))
#define MTD_MAX(a, b)		((a) > (b) ? (a) : (b))

#endif /* MTD_H */
