/*
 * Request routing: what happens to a parsed request head. Checks run in
 * the order of DESIGN.md (blacklist at accept, then rate limit, then
 * status page, local file, backend) and each ends in a response or in a
 * handler that takes the connection over (CS_HANDLER).
 */
#ifndef REQUEST_H
#define REQUEST_H

#include <stdint.h>

struct conn;

/* At accept: -1 when the client is refused (403 queued). */
int	 request_accept_check(struct conn *c);
/*
 * 1 when a blacklist published since the connection was last checked
 * lists its client (one atomic load when nothing changed).
 */
int	 request_banned_since_check(struct conn *c);
/* A head was parsed into c->r->req: route it. */
void	 request_dispatch(struct conn *c);
/* One access-log line for the finished request. */
void	 request_log(struct conn *c, uint64_t us);

#endif /* REQUEST_H */
