/*
 * The worker's FastCGI connections when php_keepalive is set (nginx's
 * fastcgi_keep_conn with an upstream keepalive pool, HAProxy's server
 * maxconn and queue). At most php_keepalive connections are open at a
 * time; requests beyond wait their turn here, in order, rather than in
 * the server's listen queue, where a request would wait for a child
 * that the kept connections hold. A connection done with its request is
 * handed to the oldest waiting one, else kept idle in a LIFO stack (the
 * warmest in the server on top). Idle connections stay in epoll, so one
 * the server closes is closed here at once, and one idle for a second is
 * closed too: it holds a PHP-FPM child that another worker may need.
 */
#ifndef FCGIPOOL_H
#define FCGIPOOL_H

#include <stdint.h>

#include "ev.h"

/* A request waiting for a connection. */
struct fcgi_waiter {
	struct fcgi_waiter	*prev, *next;
	struct ev_io		*io;		/* where a connection goes */
	uint32_t		 events;	/* registered for these */
	/*
	 * Its turn came: a connection is in io (registered), or <fresh>,
	 * it is to open one (the slot is counted already). Called from
	 * another request's code: do nothing there but note it and kick.
	 */
	void			(*ready)(struct fcgi_waiter *, int fresh);
};

/*
 * Move an idle connection to <to> (its descriptor, registered in epoll
 * for <events> with <to> as the target). 0, or -1 when there is none.
 */
int	 fcgi_pool_take(struct ev_io *to, uint32_t events);
/* May a new connection be opened now? Then say so after it was. */
int	 fcgi_pool_room(void);
void	 fcgi_pool_opened(void);
/* Wait for a connection; unwait when giving up (safe when not queued). */
void	 fcgi_pool_wait(struct fcgi_waiter *w);
void	 fcgi_pool_unwait(struct fcgi_waiter *w);
/*
 * Keep <from>'s connection, which is in epoll with <from> as target, for
 * a waiting request or the next one: 0 and from->fd is -1, or -1 (the
 * worker is draining, or out of memory) and <from> is untouched. It
 * counts in php_keepalive already, so the idle ones never exceed it.
 */
int	 fcgi_pool_put(struct ev_io *from);
/* A counted connection was closed: a waiting request may open one. */
void	 fcgi_pool_closed(void);
/* Close every idle connection (the worker stops). */
void	 fcgi_pool_flush(void);

#endif /* FCGIPOOL_H */
