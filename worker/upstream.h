/*
 * The worker's pool of upstream (backend) connections. Each backend has
 * a LIFO stack of idle keep-alive connections that stay registered in
 * epoll, so a backend that closes one is noticed and the socket closed
 * at once. A connection in use belongs to one owner (the proxy) and its
 * events go to the owner's callback. Closed connections are freed only
 * after the current batch of events, so a pending event never reaches
 * freed memory.
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <sys/socket.h>

#include <stdint.h>

#include "ev.h"

struct upstream;
typedef void upstream_cb(struct upstream *, uint32_t events);

struct upstream {
	struct ev_io	 io;		/* first: the loop hands it back */
	struct upstream	*prev, *next;	/* idle stack of its backend */
	void		*owner;		/* NULL while idle */
	upstream_cb	*cb;		/* the owner's event callback */
	int		 backend;	/* index in the backend table */
	uint32_t	 nreq;		/* requests completed on it */
	uint8_t		 readable:1, writable:1, connecting:1, idle:1;
};

/*
 * Get a connection to backend <backend> at <sa>/<salen> for <owner>,
 * whose events then go to <cb>: the most recently used idle one unless
 * <fresh>, else a new non-blocking connect (connecting set until
 * upstream_connected() says how it went). Returns NULL with errno set
 * when the connect failed at once. Worker only.
 */
struct upstream	*upstream_get(int backend, const struct sockaddr *sa,
		    socklen_t salen, int fresh, void *owner, upstream_cb *cb);

/*
 * After a connect in progress became writable: 0 when connected, else
 * the errno value of the failure. Worker only.
 */
int		 upstream_connected(struct upstream *u);

/*
 * The owner is done with <u>: back to the idle stack of its backend
 * when <reuse> (and the stack is not full), else closed. <u> must not
 * be used afterwards. Worker only.
 */
void		 upstream_put(struct upstream *u, int reuse);

/* Idle connections of backend <backend> (tests, status). Worker only. */
int		 upstream_idle_count(int backend);

#endif /* UPSTREAM_H */
