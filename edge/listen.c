/* SPDX-License-Identifier: BSD-2-Clause
 *
 * listen.c - live input: Frame Streams producers over unix or TCP sockets.
 *
 * One epoll loop owns the listening socket and every connection. Each
 * connection runs the bidirectional handshake (READY -> ACCEPT, START, data,
 * STOP -> FINISH at once; peers.md §3 item 5) and keeps no state beyond its
 * own lifetime, so a producer may reconnect any number of times (item 1).
 * A protocol fault closes only that connection, counted (items 6-8); the
 * process never exits because of what a producer sent. SIGTERM/SIGINT end
 * the loop after the frames already read have been processed; SIGHUP
 * reloads (tp_edge_reload).
 */
#include "edge/edge.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dnstap/fstrm.h"
#include "util/log.h"

#define CONN_INITIAL_BUFFER (256u * 1024u)
#define EPOLL_BATCH 64

enum conn_state { WAIT_READY, WAIT_START, IN_DATA };

struct conn {
	int fd;
	unsigned id;
	enum conn_state state;
	uint8_t *buf; /* from malloc(), cap octets, owned */
	size_t cap, start, end;
	int64_t handshake_deadline_ms;
	int64_t last_frame_ms; /* for the silent-producer alarm */
	int64_t last_read_ms;  /* any octet: who to evict when the table is full */
	bool silent;           /* alarm raised and not yet cleared */
	bool seen_bytes;
	bool would_block;      /* the last recv found nothing waiting */
};

struct loop {
	struct tp_edge *e;
	struct tp_edge_worker worker; /* the pipeline runs on this thread */
	int epfd, listen_fd, sig_fd;
	struct conn *conns[TP_MAX_CONNECTIONS];
	unsigned next_id;
	int64_t now_ms; /* monotonic, refreshed once per loop turn */
	size_t buffered; /* octets of connection buffers, all connections */
	int64_t accept_paused_until_ms; /* out of fds: listener out of epoll */
	bool stopping;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(struct loop *l, size_t slot)
{
	struct conn *c = l->conns[slot];
	if (c->silent)
		l->e->stats.conn_silent_now--;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	l->buffered -= c->cap;
	free(c->buf);
	free(c);
	l->conns[slot] = NULL;
}

/* Closes a connection for a producer's fault; never affects the others. */
static void conn_fail(struct loop *l, size_t slot, const char *why)
{
	tp_log_limited(TP_LOG_WARNING, input, "connection %u closed: %s", l->conns[slot]->id, why);
	l->e->stats.conn_error++;
	conn_close(l, slot);
}

static int send_control(struct conn *c, uint32_t type, const char *content_type)
{
	uint8_t frame[64];
	int n = tp_fstrm_control_encode(type, content_type, frame, sizeof(frame));
	if (n < 0)
		return n;
	/* A fresh connection's send buffer is empty: a short control frame is
	 * written whole or the peer is gone. */
	ssize_t w = send(c->fd, frame, (size_t)n, MSG_NOSIGNAL);
	if (w != n)
		return w < 0 ? -errno : -EAGAIN;
	return 0;
}

/* Handle a control frame. Returns 1 to keep going, 0 when the connection
 * ended cleanly, or a negative code with *why set. */
static int on_control(struct loop *l, struct conn *c, const struct tp_fstrm_control *ctl,
		      const char **why)
{
	switch (c->state) {
	case WAIT_READY:
		if (ctl->type == TP_FSTRM_START) {
			/* A unidirectional producer: no handshake to answer. */
			goto start;
		}
		if (ctl->type != TP_FSTRM_READY) {
			*why = "expected READY";
			return TP_EPROTO;
		}
		if (!tp_fstrm_control_has_dnstap(ctl)) {
			l->e->stats.conn_bad_content_type++;
			*why = "producer does not offer content type " TP_FSTRM_CONTENT_TYPE;
			return TP_ECONTENT;
		}
		if (send_control(c, TP_FSTRM_ACCEPT, TP_FSTRM_CONTENT_TYPE) < 0) {
			*why = "cannot send ACCEPT";
			return TP_EPROTO;
		}
		c->state = WAIT_START;
		return 1;
	case WAIT_START:
		if (ctl->type != TP_FSTRM_START) {
			*why = "expected START";
			return TP_EPROTO;
		}
	start:
		if (!tp_fstrm_control_has_dnstap(ctl)) {
			l->e->stats.conn_bad_content_type++;
			*why = "START names another content type";
			return TP_ECONTENT;
		}
		c->state = IN_DATA;
		c->handshake_deadline_ms = 0;
		c->last_frame_ms = l->now_ms;
		return 1;
	case IN_DATA:
		if (ctl->type != TP_FSTRM_STOP) {
			*why = "unexpected control frame in data";
			return TP_EPROTO;
		}
		/* Answer STOP at once so the resolver can close (item 5); a
		 * unidirectional producer does not read it, which is harmless. */
		(void)send_control(c, TP_FSTRM_FINISH, NULL);
		return 0;
	}
	*why = "bad state";
	return TP_EBUG;
}

/* Process every whole frame in the buffer. Returns 1 to keep reading, 0 on
 * a clean end (STOP), or a negative code after counting and logging. */
static int drain_frames(struct loop *l, size_t slot)
{
	struct conn *c = l->conns[slot];
	struct tp_edge *e = l->e;

	for (;;) {
		struct tp_fstrm_frame f;
		uint64_t need = 0;
		const char *why = NULL;
		int64_t n = tp_fstrm_next(c->buf + c->start, c->end - c->start,
					  e->cfg.max_frame_size, &f, &need);
		if (n == 0)
			break;
		if (n == TP_ETOOBIG) {
			e->stats.dropped[TP_DROP_frame_too_large]++;
			tp_log_limited(TP_LOG_WARNING, input, "connection %u: data frame of %" PRIu64
				       " octets over the limit of %zu", c->id, need - 4,
				       e->cfg.max_frame_size);
			conn_fail(l, slot, "frame too large");
			return TP_ETOOBIG;
		}
		if (n < 0) {
			e->stats.dropped[TP_DROP_bad_frame]++;
			conn_fail(l, slot, "malformed control frame");
			return (int)n;
		}
		c->start += (size_t)n;
		if (f.kind == TP_FSTRM_DATA) {
			if (c->state != IN_DATA) {
				e->stats.dropped[TP_DROP_bad_frame]++;
				conn_fail(l, slot, "data frame before START");
				return TP_EPROTO;
			}
			tp_edge_process(&l->worker, f.data, f.len);
			l->worker.seq++;
			c->last_frame_ms = l->now_ms;
			if (c->silent) {
				c->silent = false;
				e->stats.conn_silent_now--;
				tp_log_notice(input, "connection %u: producer sends again", c->id);
			}
			continue;
		}
		int rc = on_control(l, c, &f.control, &why);
		if (rc < 0) {
			if (rc == TP_EPROTO)
				e->stats.dropped[TP_DROP_bad_frame]++;
			conn_fail(l, slot, why);
			return rc;
		}
		if (rc == 0) {
			tp_log_info(input, "connection %u finished (STOP)", c->id);
			e->stats.conn_finished++;
			conn_close(l, slot);
			return 0;
		}
	}
	if (c->start == c->end)
		c->start = c->end = 0;
	return 1;
}

/* Make room for at least one more frame header or the frame announced. */
static int make_room(struct loop *l, struct conn *c)
{
	if (c->start > 0 && (c->end == c->cap || c->start > c->cap / 2)) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end < c->cap)
		return 0;
	size_t limit = l->e->cfg.max_frame_size + 8;
	if (c->cap >= limit)
		return TP_EBUG; /* a whole frame always fits in limit */
	size_t cap = c->cap * 2 < limit ? c->cap * 2 : limit;
	/* All connections together stay under one ceiling, so producers that
	 * announce big frames and trickle them cannot take the memory. */
	if (l->buffered - c->cap + cap > l->e->cfg.input_buffer_limit)
		return TP_ETOOBIG;
	uint8_t *buf = realloc(c->buf, cap);
	if (buf == NULL)
		return -ENOMEM;
	l->buffered += cap - c->cap;
	c->buf = buf;
	c->cap = cap;
	return 0;
}

static void on_readable(struct loop *l, size_t slot)
{
	struct conn *c = l->conns[slot];
	int rc = make_room(l, c);
	if (rc < 0) {
		if (rc == TP_ETOOBIG)
			l->e->stats.conn_buffer_limit++;
		conn_fail(l, slot, rc == TP_ETOOBIG ? "input buffers of all producers at their limit"
						    : tp_strerror(rc));
		return;
	}
	ssize_t n = recv(c->fd, c->buf + c->end, c->cap - c->end, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			c->would_block = errno == EAGAIN;
			return;
		}
		conn_fail(l, slot, strerror(errno));
		return;
	}
	if (n == 0) {
		if (c->end > c->start) {
			l->e->stats.dropped[TP_DROP_truncated_frame]++;
			tp_log_limited(TP_LOG_WARNING, input, "connection %u: closed inside a frame", c->id);
		} else {
			tp_log_info(input, "connection %u closed without STOP", c->id);
		}
		l->e->stats.conn_eof++;
		conn_close(l, slot);
		return;
	}
	c->end += (size_t)n;
	c->last_read_ms = l->now_ms;
	/* Judge the first bytes once three have arrived, however they were
	 * split; before that no frame can be complete anyway. */
	if (!c->seen_bytes && c->end >= 3) {
		c->seen_bytes = true;
		if (tp_fstrm_looks_like_tls(c->buf, c->end)) {
			l->e->stats.conn_tls++;
			conn_fail(l, slot, "TLS handshake received on a plain Frame Streams "
					   "listener (use a TLS input or a plain producer)");
			return;
		}
	}
	(void)drain_frames(l, slot);
}

/* The slot of the connection idle longest, if it has been idle long enough
 * to give way to a new producer; TP_MAX_CONNECTIONS otherwise. */
static size_t evictable(const struct loop *l)
{
	size_t best = TP_MAX_CONNECTIONS;
	for (size_t i = 0; i < TP_MAX_CONNECTIONS; i++) {
		const struct conn *c = l->conns[i];
		if (c && (best == TP_MAX_CONNECTIONS || c->last_read_ms < l->conns[best]->last_read_ms))
			best = i;
	}
	if (best < TP_MAX_CONNECTIONS &&
	    l->now_ms - l->conns[best]->last_read_ms < TP_EVICT_IDLE_MS)
		best = TP_MAX_CONNECTIONS;
	return best;
}

static void on_accept(struct loop *l)
{
	int fd = accept4(l->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* The pending connection stays queued and the listener
			 * stays readable: stop watching it for a while instead
			 * of spinning (it is never fatal: edm #232). */
			tp_log_limited(TP_LOG_WARNING, input, "accept: %s; pausing accepts for 1 s",
				       strerror(errno));
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->listen_fd, NULL);
			l->accept_paused_until_ms = l->now_ms + 1000;
		} else if (errno != EAGAIN) {
			tp_log_limited(TP_LOG_WARNING, input, "accept: %s", strerror(errno));
		}
		return;
	}
	size_t slot = TP_MAX_CONNECTIONS;
	for (size_t i = 0; i < TP_MAX_CONNECTIONS; i++) {
		if (l->conns[i] == NULL) {
			slot = i;
			break;
		}
	}
	if (slot == TP_MAX_CONNECTIONS) {
		/* Full: a producer that has sent nothing for a while (a dead
		 * peer, a stuck or hostile one) gives way to the new one, so
		 * idle connections can never lock the resolver out. */
		slot = evictable(l);
		if (slot < TP_MAX_CONNECTIONS) {
			l->e->stats.conn_evicted++;
			tp_log_limited(TP_LOG_WARNING, input,
				       "connection %u closed: idle longest, and a new producer needs its slot",
				       l->conns[slot]->id);
			conn_close(l, slot);
		}
	}
	size_t initial = CONN_INITIAL_BUFFER < l->e->cfg.max_frame_size + 8 ? CONN_INITIAL_BUFFER
									    : l->e->cfg.max_frame_size + 8;
	bool room = l->buffered + initial <= l->e->cfg.input_buffer_limit;
	struct conn *c = slot < TP_MAX_CONNECTIONS && room ? calloc(1, sizeof(*c)) : NULL;
	if (c != NULL) {
		c->cap = initial;
		c->buf = malloc(c->cap);
	}
	if (c == NULL || c->buf == NULL) {
		if (c)
			free(c);
		l->e->stats.conn_refused_full++;
		tp_log_limited(TP_LOG_WARNING, input, "connection refused: %s",
			       slot == TP_MAX_CONNECTIONS ? "too many producers, none idle"
			       : !room		     ? "input buffers at their limit"
						     : "out of memory");
		close(fd);
		return;
	}
	/* A TCP producer that vanished without a FIN is found by keepalive. */
	int one = 1, idle = 60, interval = 10, count = 3;
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
	c->fd = fd;
	c->id = ++l->next_id;
	c->state = WAIT_READY;
	c->handshake_deadline_ms = l->now_ms + TP_HANDSHAKE_TIMEOUT_MS;
	c->last_read_ms = l->now_ms;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = slot };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		tp_log_warning(input, "epoll_ctl: %s", strerror(errno));
		close(fd);
		free(c->buf);
		free(c);
		return;
	}
	l->buffered += c->cap;
	l->conns[slot] = c;
	l->e->stats.conn_accepted++;
	tp_log_info(input, "connection %u accepted", c->id);
}

/* Closes connections stuck in the handshake, and raises the alarm for a
 * connected producer that went silent (peers.md §3 item 1: Unbound 1.11
 * stopped sending after a reader restart while keeping the connection). */
static void check_timers(struct loop *l)
{
	if (l->accept_paused_until_ms && l->now_ms >= l->accept_paused_until_ms) {
		struct epoll_event lev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->listen_fd, &lev) == 0)
			l->accept_paused_until_ms = 0;
	}
	int64_t silence_ms = (int64_t)l->e->cfg.silence_warn_s * 1000;
	for (size_t i = 0; i < TP_MAX_CONNECTIONS; i++) {
		struct conn *c = l->conns[i];
		if (c == NULL)
			continue;
		if (c->handshake_deadline_ms && l->now_ms > c->handshake_deadline_ms) {
			l->e->stats.conn_handshake_timeout++;
			conn_fail(l, i, "handshake not completed in time");
			continue;
		}
		if (silence_ms > 0 && c->state == IN_DATA && !c->silent &&
		    l->now_ms - c->last_frame_ms > silence_ms) {
			c->silent = true;
			l->e->stats.conn_silent_total++;
			l->e->stats.conn_silent_now++;
			tp_log_warning(input, "connection %u: no frame for %u s; is the producer stuck?",
				       c->id, l->e->cfg.silence_warn_s);
		}
	}
}

/* SPEC §10: nothing already sent is lost at shutdown. Read what producers
 * have sent so far (bounded in time, since a producer may keep sending),
 * and count a frame left half-read. */
static void drain_on_shutdown(struct loop *l)
{
	int64_t deadline = now_ms() + TP_SHUTDOWN_DRAIN_MS;
	for (size_t i = 0; i < TP_MAX_CONNECTIONS; i++) {
		if (l->conns[i] != NULL)
			l->conns[i]->would_block = false;
		while (l->conns[i] != NULL && !l->conns[i]->would_block && now_ms() < deadline)
			on_readable(l, i);
		struct conn *c = l->conns[i];
		if (c != NULL && c->end > c->start) {
			l->e->stats.dropped[TP_DROP_truncated_frame]++;
			tp_log_warning(input, "connection %u: shutdown inside a frame", c->id);
		}
	}
}

static void on_signal(struct loop *l)
{
	struct signalfd_siginfo si;
	while (read(l->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			/* systemd's ExecReload sends SIGHUP: it reloads, never kills. */
			tp_edge_reload(l->e);
			continue;
		}
		if (si.ssi_signo == SIGUSR1) {
			/* The counters so far, without stopping (as unbound-control
			 * stats would give them). */
			tp_edge_report(l->e);
			continue;
		}
		l->stopping = true;
	}
}

static int open_unix(const struct tp_edge_config *cfg, ino_t *out_ino)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t plen = strlen(cfg->input_unix);
	if (plen >= sizeof(sa.sun_path)) {
		tp_log_err(input, "%s: socket path too long", cfg->input_unix);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, cfg->input_unix, plen + 1);

	/* Remove a stale socket left by an earlier run (peers.md §3 items 3-4),
	 * but never anything that is not a socket, and never the live socket
	 * of a running process (a second edge must not take over the first). */
	struct stat st;
	if (lstat(cfg->input_unix, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			tp_log_err(input, "%s exists and is not a socket; not removing it",
				   cfg->input_unix);
			return -EEXIST;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0)
			return -errno;
		int in_use = connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
			     errno != ECONNREFUSED;
		close(probe);
		if (in_use) {
			tp_log_err(input, "%s is in use by a running process; not taking it over",
				   cfg->input_unix);
			return -EADDRINUSE;
		}
		if (unlink(cfg->input_unix) != 0) {
			int rc = -errno;
			tp_log_err(input, "%s: cannot remove stale socket: %s", cfg->input_unix,
				   strerror(errno));
			return rc;
		}
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    (cfg->input_unix_gid >= 0 && chown(cfg->input_unix, (uid_t)-1, (gid_t)cfg->input_unix_gid) != 0) ||
	    (cfg->input_unix_mode >= 0 && chmod(cfg->input_unix, (mode_t)cfg->input_unix_mode) != 0) ||
	    listen(fd, 64) != 0) {
		int rc = -errno;
		tp_log_err(input, "%s: %s", cfg->input_unix, strerror(errno));
		close(fd);
		return rc;
	}
	if (stat(cfg->input_unix, &st) == 0)
		*out_ino = st.st_ino;
	tp_log_notice(input, "listening on unix socket %s", cfg->input_unix);
	return fd;
}

/* Splits HOST:PORT ([v6]:PORT); the port must be 1-65535 in decimal.
 * Returns 0, or -1 after printing why. */
static int split_tcp(const char *spec, char *host, size_t host_size, char *port,
		     size_t port_size)
{
	const char *colon = strrchr(spec, ':');
	if (colon == NULL || colon == spec || colon[1] == '\0') {
		fprintf(stderr, "input-tcp %s: expected HOST:PORT\n", spec);
		return -1;
	}
	const char *h = spec;
	size_t hlen = (size_t)(colon - spec);
	if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	char *end;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || errno != 0 || p == 0 || p > 65535 || colon[1] == '-' ||
	    colon[1] == '+' || strlen(colon + 1) >= port_size) {
		fprintf(stderr, "input-tcp %s: the port must be a number from 1 to 65535\n", spec);
		return -1;
	}
	if (hlen == 0 || hlen >= host_size) {
		fprintf(stderr, "input-tcp %s: a host (address or name) is needed\n", spec);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	snprintf(port, port_size, "%lu", p);
	return 0;
}

int tp_edge_check_tcp(const char *spec)
{
	char host[256], port[8];
	return split_tcp(spec, host, sizeof(host), port, sizeof(port));
}

static int open_tcp(const struct tp_edge_config *cfg)
{
	char host[256], port[8];
	if (split_tcp(cfg->input_tcp, host, sizeof(host), port, sizeof(port)) < 0)
		return TP_EINVAL;
	/* A name may resolve to several addresses: the first is used and
	 * logged, so what is bound is never a surprise. */
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		tp_log_err(input, "--input-tcp %s: %s", cfg->input_tcp, gai_strerror(gai));
		return TP_EINVAL;
	}
	int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			res->ai_protocol);
	int one = 1;
	int rc = 0;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
		rc = -errno;
		tp_log_err(input, "--input-tcp %s: %s", cfg->input_tcp, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	char shown[INET6_ADDRSTRLEN + 8] = "?";
	if (rc == 0)
		(void)getnameinfo(res->ai_addr, res->ai_addrlen, shown, sizeof(shown), NULL, 0,
				  NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc < 0)
		return rc;
	tp_log_notice(input, "listening on tcp %s port %s", shown, port);
	return fd;
}

int tp_edge_run_listen(struct tp_edge *e)
{
	struct loop l = { .e = e, .epfd = -1, .listen_fd = -1, .sig_fd = -1, .now_ms = now_ms() };
	sigset_t mask;
	ino_t unix_ino = 0;
	int rc = 0;

	l.worker = (struct tp_edge_worker){ .e = e, .stats = &e->stats };
	if (e->hist != NULL && (rc = tp_hist_shard_new(e->hist, &l.worker.shard)) < 0)
		return rc;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
		return -errno;
	l.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	l.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l.sig_fd < 0 || l.epfd < 0) {
		rc = -errno;
		goto out;
	}
	l.listen_fd = e->cfg.input_unix ? open_unix(&e->cfg, &unix_ino) : open_tcp(&e->cfg);
	if (l.listen_fd < 0) {
		rc = l.listen_fd;
		goto out;
	}
	struct epoll_event lev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
	struct epoll_event sev = { .events = EPOLLIN, .data.u64 = UINT64_MAX - 1 };
	if (epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.listen_fd, &lev) != 0 ||
	    epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.sig_fd, &sev) != 0) {
		rc = -errno;
		goto out;
	}

	while (!l.stopping) {
		struct epoll_event evs[EPOLL_BATCH];
		int n = epoll_wait(l.epfd, evs, EPOLL_BATCH, 1000);
		if (n < 0 && errno != EINTR) {
			rc = -errno;
			tp_log_err(input, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			if (tag == UINT64_MAX)
				on_accept(&l);
			else if (tag == UINT64_MAX - 1)
				on_signal(&l);
			else if (tag < TP_MAX_CONNECTIONS && l.conns[tag] != NULL)
				on_readable(&l, (size_t)tag);
		}
		l.now_ms = now_ms();
		check_timers(&l);
		tp_edge_poll(e, false);
	}
	if (l.stopping) {
		tp_log_notice(input, "shutting down");
		drain_on_shutdown(&l);
	}

out:
	for (size_t i = 0; i < TP_MAX_CONNECTIONS; i++) {
		if (l.conns[i]) {
			e->stats.conn_open_at_exit++;
			conn_close(&l, i);
		}
	}
	if (l.listen_fd >= 0) {
		close(l.listen_fd);
		/* Remove the path only while it is still our socket. */
		struct stat st;
		if (e->cfg.input_unix && lstat(e->cfg.input_unix, &st) == 0 && st.st_ino == unix_ino)
			unlink(e->cfg.input_unix);
	}
	if (l.sig_fd >= 0)
		close(l.sig_fd);
	if (l.epfd >= 0)
		close(l.epfd);
	return rc;
}
