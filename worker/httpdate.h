/*
 * HTTP dates (RFC 9110 5.6.7): IMF-fixdate out, the three historic
 * formats in. Locale-independent: no strftime, no strptime.
 */
#ifndef HTTPDATE_H
#define HTTPDATE_H

#include <stddef.h>
#include <time.h>

#define HTTPDATE_LEN	30	/* "Sun, 06 Nov 1994 08:49:37 GMT" + NUL */

size_t		 httpdate_format(time_t t, char buf[HTTPDATE_LEN]);
time_t		 httpdate_parse(const char *s, size_t len);
const char	*httpdate_now(time_t now);

#endif /* HTTPDATE_H */
