/*
 * Files under htdocs. static_serve() answers for a path that exists under
 * the document root and returns STATIC_NOT_FOUND otherwise, so the caller
 * can hand the request to a backend instead.
 */
#ifndef STATIC_H
#define STATIC_H

struct conn;

#define STATIC_DONE		0	/* a response is queued */
#define STATIC_NOT_FOUND	1	/* nothing there: route elsewhere */

/* Open the document root. 0, or -1 logged. Worker, at start. */
int	 static_init(const char *htdocs);
/*
 * After the privilege drop: when the worker's user cannot search htdocs,
 * log it and serve no local file (paths go to the backends). Worker only.
 */
void	 static_check_access(void);
int	 static_serve(struct conn *c);

#endif /* STATIC_H */
