/*
 * Placeholder until the CGI/FastCGI handler lands: refuse to run scripts.
 */
#include "conn.h"
#include "php.h"

void
php_start(struct conn *c, const char *path)
{
	resp_error(c, 501, NULL);
}
