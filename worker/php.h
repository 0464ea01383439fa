/*
 * PHP scripts under htdocs, run through php-cgi (CGI/1.1, RFC 3875) or
 * php-fpm (FastCGI) without ever blocking the worker: pipes and sockets
 * are in the event loop. The handler takes the connection over
 * (CS_HANDLER, see conn.h).
 */
#ifndef PHP_H
#define PHP_H

struct conn;

/*
 * Run the script at <path> (normalised, absolute under htdocs, e.g.
 * "/index.php") for the request on <c>; queues a response or takes the
 * connection over. Worker only.
 */
void	 php_start(struct conn *c, const char *path);

/*
 * SIGCHLD: reap every exited php-cgi child (waitpid WNOHANG), logging
 * crashes. Worker only, from the signal handler of the event loop.
 */
void	 php_reap(void);

#endif /* PHP_H */
