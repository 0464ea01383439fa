/*
 * libFuzzer target for worker/uri.c. On success the output must start
 * with '/', hold no "//", no "." or ".." segment, no NUL or control byte,
 * and (when it holds no '%', which a second pass would decode again)
 * normalise to itself. Errors must be URI_BAD, URI_TOOLONG or
 * URI_NOT_A_FILE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_segments(const char *out, size_t n)
{
	const char	*seg, *end;
	size_t		 i, sl;

	for (i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f ||
		    out[i] == '\\')
			abort();
	if (out[0] != '/' || strstr(out, "//") != NULL)
		abort();
	for (seg = out + 1; *seg != '\0'; seg = end + (*end == '/')) {
		end = strchrnul(seg, '/');
		sl = end - seg;
		if ((sl == 1 && seg[0] == '.') ||
		    (sl == 2 && seg[0] == '.' && seg[1] == '.'))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 out[256], again[256];
	int		 rc, rc2;

	rc = uri_normalize((const char *)data, size, out, sizeof(out));
	if (rc == URI_BAD || rc == URI_TOOLONG || rc == URI_NOT_A_FILE)
		return 0;
	if (rc <= 0 || (size_t)rc >= sizeof(out) || strlen(out) != (size_t)rc)
		abort();
	check_segments(out, rc);
	if (memchr(out, '%', rc) != NULL)
		return 0;
	rc2 = uri_normalize(out, rc, again, sizeof(again));
	if (rc2 != rc || memcmp(out, again, rc + 1) != 0)
		abort();
	return 0;
}
