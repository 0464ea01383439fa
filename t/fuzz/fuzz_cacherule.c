/*
 * libFuzzer target for shared/cacherule.c. The input is split at its
 * first newline into a pattern and a subject. On short inputs the
 * iterative matcher must agree with a plain recursive one; on long ones
 * it must merely finish (the fuzzer's timeout catches a blow-up).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cacherule.h"

#define SHORT	12

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Exponential in the worst case: fine for SHORT bytes. */
static int
ref_match(const char *p, const char *s, size_t n)
{
	if (*p == '\0')
		return n == 0;
	if (*p == '*')
		return ref_match(p + 1, s, n) ||
		    (n > 0 && ref_match(p, s + 1, n - 1));
	if (n > 0 && (*p == '?' || *p == *s))
		return ref_match(p + 1, s + 1, n - 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nl = memchr(data, '\n', size);
	char		*pat;
	size_t		 plen, slen;
	const char	*s;
	int		 got;

	plen = nl != NULL ? (size_t)(nl - data) : size / 2;
	s = (const char *)data + plen + (nl != NULL);
	slen = size - plen - (nl != NULL);
	if ((pat = malloc(plen + 1)) == NULL)
		return 0;
	memcpy(pat, data, plen);
	pat[plen] = '\0';	/* a NUL inside ends the pattern early */

	got = cacherule_match(pat, s, slen);
	if (got != 0 && got != 1)
		abort();
	if (strlen(pat) <= SHORT && slen <= SHORT &&
	    got != ref_match(pat, s, slen))
		abort();
	free(pat);
	return 0;
}
