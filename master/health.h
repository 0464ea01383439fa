/*
 * Active health checks, run by the master inside its own poll() loop.
 * Every health_interval all backends are probed in parallel with
 * non-blocking sockets: a TCP connect, or an HTTP GET whose status line
 * must be 2xx or 3xx (over TLS, after a verified handshake, when
 * backend_tls is on), each within connect_timeout. Results go through
 * backend_report(), the same counting as the workers' passive reports.
 * Nothing here blocks and nothing is allocated.
 */
#ifndef HEALTH_H
#define HEALTH_H

#include <poll.h>

#include "backend.h"
#include "conf.h"

/*
 * Start checking the backends of <c>, whose state lives in <t> (NULL or
 * no backends: nothing to do). Closes any probes of a previous call and
 * starts the first round at once, so a dead backend is seen at start.
 * <c> is not kept. Master only.
 */
void	 health_init(const struct conf *c, struct backend_table *t);

/*
 * Milliseconds until health_process() must run again (a round is due
 * or a probe times out): 0 when already late, -1 when never. Master.
 */
int	 health_timeout_ms(void);

/*
 * Fill at most <max> entries of <pfd> with the probes in flight (fd,
 * events, revents cleared) for the master's poll(). Returns the count;
 * probes left out still time out. Master only.
 */
int	 health_pollfds(struct pollfd *pfd, int max);

/*
 * After poll(): advance the probes whose entries among the <n> of <pfd>
 * (as filled by the last health_pollfds()) are ready, fail those past
 * their deadline, and start a round when the interval has elapsed.
 * Entries filled before a health_init() or health_stop() are ignored.
 * Master only.
 */
void	 health_process(const struct pollfd *pfd, int n);

/*
 * Close every probe and stop checking (shutdown, reload). A freshly
 * forked worker calls it too, to drop its copies of the master's probe
 * sockets. Any process, for its own copy.
 */
void	 health_stop(void);

#endif /* HEALTH_H */
