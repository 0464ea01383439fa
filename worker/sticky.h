/*
 * Sticky sessions: `sticky cookie NAME` keeps a client on the backend that
 * served it first. The cookie holds an opaque token per backend, a keyed
 * hash of its name with the backend table's secret key, so it reveals
 * nothing about the backend and is the same in every worker.
 */
#ifndef STICKY_H
#define STICKY_H

#include <stddef.h>

struct backend_table;
struct http_request;

/*
 * The healthy backend named by the request's sticky cookie, or -1 (no
 * cookie, unknown token, backend down). Worker only, no lock.
 */
int	 sticky_backend(struct backend_table *t, const struct http_request *req);
/*
 * Write "Set-Cookie: NAME=TOKEN; Path=/; HttpOnly; SameSite=Lax\r\n"
 * for backend <i> into <buf>, with "; Secure" when <secure> (HTTPS);
 * returns its length, or -1 when it does not fit.
 */
int	 sticky_field(struct backend_table *t, int i, int secure, char *buf,
	    size_t len);

#endif /* STICKY_H */
