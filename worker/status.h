/*
 * Live statistics pages: status_path as JSON and, beside it,
 * <status_path's directory>/metrics in Prometheus text format. Both are
 * summed from the per-worker slots without taking any lock that the
 * request path needs.
 */
#ifndef STATUS_H
#define STATUS_H

struct conn;

#define STATUS_NOT_MINE	1

/* Answer when the path is a status page; else STATUS_NOT_MINE. */
int	 status_serve(struct conn *c);

#endif /* STATUS_H */
