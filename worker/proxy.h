/*
 * The reverse proxy: a request that no local handler takes goes to a
 * backend picked by the configured strategy, over a connection from the
 * worker's keep-alive pool. Request and response bodies are streamed
 * with back-pressure; failures before any response byte are retried on
 * another backend when that is safe.
 */
#ifndef PROXY_H
#define PROXY_H

struct conn;

/*
 * Attach the backend table current at fork time: the worker's own
 * generation's, which the master never reinitialises while the worker
 * lives. Worker only, once, at start.
 */
void	 proxy_init(void);
/* 1 when backends are configured, else 0. Worker only. */
int	 proxy_enabled(void);

/*
 * Take <c> over (CS_HANDLER) and proxy its parsed request. Answers 503
 * at once when no backend is healthy. Called by request_dispatch() only.
 */
void	 proxy_start(struct conn *c);

#endif /* PROXY_H */
