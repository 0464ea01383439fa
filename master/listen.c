/*
 * Listening sockets, bound by the master before any worker exists. Each
 * worker slot gets its own SO_REUSEPORT socket per listen address: the
 * kernel spreads new connections evenly across them with no thundering
 * herd. Because SO_REUSEPORT would also let us silently share a port with
 * another server, each address is first probed with a plain bind().
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master.h"

#define LISTEN_BACKLOG	4096

static int	 lfds[MTD_MAX_WORKERS][MTD_MAX_LISTEN];
static int	 nslots_open, nlisten;

/* -p: same address, port <port>, in <l> (a configuration, not a socket). */
void
listeners_set_port(struct conf_listen *l, int port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&l->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&l->ss;
	char			 addr[INET6_ADDRSTRLEN];

	l->port = port;
	if (l->ss.ss_family == AF_INET6) {
		sin6->sin6_port = htons((uint16_t)port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		snprintf(l->text, sizeof(l->text), "[%s]:%d", addr, port);
	} else {
		sin->sin_port = htons((uint16_t)port);
		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		snprintf(l->text, sizeof(l->text), "%s:%d", addr, port);
	}
}

static int
listen_socket(const struct conf_listen *l, int reuseport)
{
	int	 fd, one = 1;

	fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (l->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* Accepted sockets inherit it: no setsockopt per connection. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->ss, l->sslen) == -1 ||
	    (reuseport && listen(fd, LISTEN_BACKLOG) == -1)) {
		int	 saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Fails when anyone, even another maitred, already holds the address. */
static int
probe_free(const struct conf_listen *l)
{
	int	 fd = listen_socket(l, 0);

	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

/* Open every listener of <slot>; on failure none of them stays open. */
static int
open_slot(const struct conf *c, int slot)
{
	int	 i;

	for (i = 0; i < c->nlisten; i++) {
		lfds[slot][i] = listen_socket(&c->listens[i], 1);
		if (lfds[slot][i] == -1) {
			log_warn("bind %s", c->listens[i].text);
			while (i-- > 0)
				close(lfds[slot][i]);
			return -1;
		}
	}
	return 0;
}

static void
close_slots(int from, int to)
{
	int	 i, j;

	for (i = from; i < to; i++)
		for (j = 0; j < nlisten; j++)
			close(lfds[i][j]);
}

int
listeners_open(const struct conf *c, int nslots)
{
	int	 i;

	nlisten = c->nlisten;
	for (i = 0; i < c->nlisten; i++)
		if (probe_free(&c->listens[i]) == -1) {
			log_warn("bind %s", c->listens[i].text);
			return -1;
		}
	for (i = 0; i < nslots; i++) {
		if (open_slot(c, i) == -1)
			return -1;
		nslots_open = i + 1;
	}
	return 0;
}

/*
 * Reload with another worker count: add or drop whole slots. A failure
 * (out of descriptors) closes the slots it added: a listener left open
 * with no worker behind it would take its SO_REUSEPORT share of new
 * connections and never accept them.
 */
int
listeners_resize(const struct conf *c, int nslots)
{
	int	 i, had = nslots_open;

	for (i = nslots_open; i < nslots; i++) {
		if (open_slot(c, i) == -1) {
			close_slots(had, nslots_open);
			nslots_open = had;
			return -1;
		}
		nslots_open = i + 1;
	}
	if (nslots < nslots_open) {
		close_slots(nslots, nslots_open);
		nslots_open = nslots;
	}
	return 0;
}

void
listeners_close(void)
{
	close_slots(0, nslots_open);
	nslots_open = 0;
}

const int *
listeners_of(int slot)
{
	return lfds[slot];
}

int
listeners_count(void)
{
	return nlisten;
}

void
listeners_suspend(int slot)
{
	int	 j;

	for (j = 0; j < nlisten; j++) {
		if (lfds[slot][j] != -1)
			close(lfds[slot][j]);
		lfds[slot][j] = -1;
	}
}

int
listeners_suspended(int slot)
{
	return slot < nslots_open && nlisten > 0 && lfds[slot][0] == -1;
}

int
listeners_resume(const struct conf *c, int slot)
{
	if (!listeners_suspended(slot))
		return 0;
	if (open_slot(c, slot) == -1) {
		listeners_suspend(slot);
		return -1;
	}
	return 0;
}

void
listeners_keep_only(int slot)
{
	int	 i, j;

	for (i = 0; i < nslots_open; i++)
		if (i != slot)
			for (j = 0; j < nlisten; j++)
				close(lfds[i][j]);
}
