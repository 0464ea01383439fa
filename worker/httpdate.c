/*
 * HTTP date formatting and parsing. Output is always IMF-fixdate; input
 * may also be RFC 850 or asctime, as RFC 9110 asks of recipients. Day and
 * month names come from our own tables, never the locale; conversions use
 * gmtime_r() and timegm(). httpdate_now() keeps one cached Date string
 * per process, rebuilt only when the second changes.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "httpdate.h"

static const char *const	 hd_wday[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const	 hd_wday_long[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday"
};
static const char *const	 hd_month[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

struct hd_cur {
	const char	*p;
	const char	*e;
};

/*
 * Writes <t> as IMF-fixdate into <buf>. Returns the length (29), or 0
 * with <buf> empty when <t> is outside years 0-9999. Any process.
 */
size_t
httpdate_format(time_t t, char buf[HTTPDATE_LEN])
{
	struct tm	 tm;
	int		 year;

	buf[0] = '\0';
	if (gmtime_r(&t, &tm) == NULL)
		return 0;
	year = tm.tm_year + 1900;
	if (year < 0 || year > 9999)
		return 0;
	snprintf(buf, HTTPDATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    hd_wday[tm.tm_wday % 7], tm.tm_mday % 100, hd_month[tm.tm_mon % 12],
	    year, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100);
	return HTTPDATE_LEN - 1;
}

/* Consumes the literal <s>. Returns 0, or -1 when it is not next. */
static int
hd_lit(struct hd_cur *c, const char *s)
{
	size_t	 n = strlen(s);

	if ((size_t)(c->e - c->p) < n || memcmp(c->p, s, n) != 0)
		return -1;
	c->p += n;
	return 0;
}

/* Consumes exactly <n> digits into *<v>. Returns 0 or -1. */
static int
hd_num(struct hd_cur *c, int n, int *v)
{
	if (c->e - c->p < n)
		return -1;
	for (*v = 0; n > 0; n--, c->p++) {
		if (*c->p < '0' || *c->p > '9')
			return -1;
		*v = *v * 10 + (*c->p - '0');
	}
	return 0;
}

/* Consumes one of the <n> names at <tab>. Returns its index, or -1. */
static int
hd_name(struct hd_cur *c, const char *const *tab, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (hd_lit(c, tab[i]) == 0)
			return i;
	return -1;
}

static int
hd_mon(struct hd_cur *c, struct tm *tm)
{
	return (tm->tm_mon = hd_name(c, hd_month, 12)) == -1 ? -1 : 0;
}

/* "HH:MM:SS" */
static int
hd_time(struct hd_cur *c, struct tm *tm)
{
	if (hd_num(c, 2, &tm->tm_hour) == -1 || hd_lit(c, ":") == -1 ||
	    hd_num(c, 2, &tm->tm_min) == -1 || hd_lit(c, ":") == -1 ||
	    hd_num(c, 2, &tm->tm_sec) == -1)
		return -1;
	return 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static int
hd_imf(struct hd_cur *c, struct tm *tm)
{
	if (hd_name(c, hd_wday, 7) == -1 || hd_lit(c, ", ") == -1 ||
	    hd_num(c, 2, &tm->tm_mday) == -1 || hd_lit(c, " ") == -1 ||
	    hd_mon(c, tm) == -1 || hd_lit(c, " ") == -1 ||
	    hd_num(c, 4, &tm->tm_year) == -1 || hd_lit(c, " ") == -1 ||
	    hd_time(c, tm) == -1 || hd_lit(c, " GMT") == -1)
		return -1;
	return 0;
}

/*
 * A two-digit year more than 50 years in the future means the most
 * recent past year with those digits (RFC 9110 5.6.7).
 */
static int
hd_year2(int yy)
{
	struct tm	 now;
	time_t		 t = time(NULL);
	int		 year, cur;

	cur = gmtime_r(&t, &now) != NULL ? now.tm_year + 1900 : 1970;
	year = cur - cur % 100 + yy;
	return year > cur + 50 ? year - 100 : year;
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static int
hd_rfc850(struct hd_cur *c, struct tm *tm)
{
	int	 yy;

	if (hd_name(c, hd_wday_long, 7) == -1 || hd_lit(c, ", ") == -1 ||
	    hd_num(c, 2, &tm->tm_mday) == -1 || hd_lit(c, "-") == -1 ||
	    hd_mon(c, tm) == -1 || hd_lit(c, "-") == -1 ||
	    hd_num(c, 2, &yy) == -1 || hd_lit(c, " ") == -1 ||
	    hd_time(c, tm) == -1 || hd_lit(c, " GMT") == -1)
		return -1;
	tm->tm_year = hd_year2(yy);
	return 0;
}

/* "Sun Nov  6 08:49:37 1994" */
static int
hd_asctime(struct hd_cur *c, struct tm *tm)
{
	if (hd_name(c, hd_wday, 7) == -1 || hd_lit(c, " ") == -1 ||
	    hd_mon(c, tm) == -1 || hd_lit(c, " ") == -1)
		return -1;
	if (hd_lit(c, " ") == 0 ? hd_num(c, 1, &tm->tm_mday) == -1 :
	    hd_num(c, 2, &tm->tm_mday) == -1)
		return -1;
	if (hd_lit(c, " ") == -1 || hd_time(c, tm) == -1 ||
	    hd_lit(c, " ") == -1 || hd_num(c, 4, &tm->tm_year) == -1)
		return -1;
	return 0;
}

static int
hd_mdays(int mon, int year)
{
	static const int	 md[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int			 leap;

	leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return md[mon] + (mon == 1 && leap);
}

/* Checks the fields of <tm> (year still in full) and converts it. */
static time_t
hd_convert(struct tm *tm)
{
	if (tm->tm_mday < 1 ||
	    tm->tm_mday > hd_mdays(tm->tm_mon, tm->tm_year) ||
	    tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60)
		return -1;
	tm->tm_year -= 1900;
	return timegm(tm);
}

/*
 * Parses the HTTP date <s> of <len> bytes (IMF-fixdate, RFC 850 or
 * asctime; nothing may follow it). The weekday name must be valid but
 * is not checked against the date. Returns the time, or -1 when <s> is
 * not a valid date. Any process.
 */
time_t
httpdate_parse(const char *s, size_t len)
{
	static int	(*const fmts[])(struct hd_cur *, struct tm *) = {
		hd_imf, hd_rfc850, hd_asctime
	};
	struct hd_cur	 c;
	struct tm	 tm;
	size_t		 i;

	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		c.p = s;
		c.e = s + len;
		if (fmts[i](&c, &tm) == 0 && c.p == c.e)
			return hd_convert(&tm);
	}
	return -1;
}

/*
 * Returns the IMF-fixdate for <now> from a per-process cache that is
 * rebuilt only when <now> differs from the last call. The string is
 * overwritten by the next call with another second. Any process.
 */
const char *
httpdate_now(time_t now)
{
	static char	 buf[HTTPDATE_LEN];
	static time_t	 last;

	if (buf[0] == '\0' || now != last) {
		httpdate_format(now, buf);
		last = now;
	}
	return buf;
}
