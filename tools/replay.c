/* SPDX-License-Identifier: BSD-2-Clause
 *
 * replay.c - `tapir replay FILE --unix PATH | --tcp HOST:PORT [--rate N]
 * [--loop K]`: sends a dnstap capture to a listening edge the way a
 * resolver does, and prints what it sent as one JSON line.
 *
 * Load tests and benchmarks need a producer that behaves like Unbound or
 * Knot Resolver on the wire (bidirectional Frame Streams: READY, ACCEPT,
 * START, data frames, STOP, FINISH) but can be driven at a fixed rate or as
 * fast as the edge reads. Frames are read with the edge's own reader and
 * sent unchanged, many per write(); a token bucket holding a hundredth of a
 * second of frames paces them, and whatever is buffered is sent before
 * waiting, so the edge never sees frames late by more than that.
 *
 * The only bytes read from the peer are its two control frames, each
 * bounded by TP_CONTROL_FRAME_MAX and checked by the Frame Streams parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dnstap/fstrm.h"
#include "dnstap/reader.h"
#include "tools.h"
#include "util/limits.h"
#include "util/opts.h"
#include "util/rd.h"

/* Frames are gathered here and sent with one write. */
#define REPLAY_BUF (256u * 1024u)
/* After STOP the edge first reads everything sent before it; a slow edge
 * with megabytes in the socket buffers needs more than the handshake's
 * few seconds to answer FINISH. */
#define REPLAY_FINISH_TIMEOUT_MS 30000
/* The token bucket holds 1/REPLAY_BURST_DIV of a second of frames. */
#define REPLAY_BURST_DIV 100u
#define REPLAY_RATE_MAX (1000u * 1000u * 1000u)
#define REPLAY_LOOP_MAX (1000u * 1000u)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int send_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len octets before the deadline (CLOCK_MONOTONIC seconds).
 * Returns 0, TP_ETIMEDOUT, TP_EEOF or -errno. */
static int recv_exact(int fd, uint8_t *p, size_t len, double deadline)
{
	while (len > 0) {
		double left = deadline - now_s();
		if (left <= 0)
			return TP_ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, (int)(left * 1000.0) + 1);
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr <= 0)
			continue;
		ssize_t n = recv(fd, p, len, 0);
		if (n == 0)
			return TP_EEOF;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one control frame and check that it is `type` (with our content
 * type, for ACCEPT). Returns 0, TP_EPROTO, TP_ECONTENT or a recv code. */
static int expect_control(int fd, uint32_t type, int timeout_ms)
{
	uint8_t buf[TP_CONTROL_FRAME_MAX];
	double deadline = now_s() + timeout_ms / 1000.0;
	int rc = recv_exact(fd, buf, 8, deadline);
	if (rc != 0)
		return rc;
	uint32_t len = tp_load_be32(buf + 4);
	if (tp_load_be32(buf) != 0 || len < 4 || len > sizeof(buf))
		return TP_EPROTO;
	if ((rc = recv_exact(fd, buf, len, deadline)) != 0)
		return rc;
	struct tp_fstrm_control c;
	if ((rc = tp_fstrm_control_parse(buf, len, &c)) != 0)
		return rc;
	if (c.type != type)
		return TP_EPROTO;
	if (type == TP_FSTRM_ACCEPT && !tp_fstrm_control_has_dnstap(&c))
		return TP_ECONTENT;
	return 0;
}

static int send_control(int fd, uint32_t type)
{
	uint8_t buf[TP_CONTROL_FRAME_MAX + 8u];
	bool typed = type == TP_FSTRM_READY || type == TP_FSTRM_START;
	int n = tp_fstrm_control_encode(type, typed ? TP_FSTRM_CONTENT_TYPE : NULL, buf, sizeof(buf));
	return n < 0 ? n : send_all(fd, buf, (size_t)n);
}

static int connect_unix(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1u);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/* HOST:PORT or [V6]:PORT. */
static int connect_tcp(const char *hostport, int *out)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	if (colon == NULL || colon[1] == '\0')
		return TP_EINVAL;
	size_t hlen = (size_t)(colon - hostport);
	const char *h = hostport;
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return TP_EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || ai == NULL)
		return TP_EINVAL;
	int rc = -ECONNREFUSED;
	for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			*out = fd;
			rc = 0;
			break;
		}
		rc = -errno;
		close(fd);
	}
	freeaddrinfo(ai);
	return rc;
}

struct sender {
	int fd;
	uint8_t *buf; /* from malloc(), REPLAY_BUF octets */
	size_t len;
	/* Token bucket; rate 0 = unpaced. */
	double rate, burst, tokens, last;
	uint64_t frames, bytes, skipped;
};

static int flush(struct sender *s)
{
	int rc = send_all(s->fd, s->buf, s->len);
	s->len = 0;
	return rc;
}

/* Wait for one token; buffered frames go out before any wait. */
static int take_token(struct sender *s)
{
	if (s->rate <= 0)
		return 0;
	while (s->tokens < 1.0) {
		double t = now_s();
		s->tokens += (t - s->last) * s->rate;
		if (s->tokens > s->burst)
			s->tokens = s->burst;
		s->last = t;
		if (s->tokens >= 1.0)
			break;
		int rc = flush(s);
		if (rc != 0)
			return rc;
		double wait = (1.0 - s->tokens) / s->rate;
		struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
		nanosleep(&ts, NULL);
	}
	s->tokens -= 1.0;
	return 0;
}

static int send_frame(struct sender *s, const uint8_t *data, size_t len)
{
	int rc = take_token(s);
	if (rc != 0)
		return rc;
	if (REPLAY_BUF - s->len < len + 4u && (rc = flush(s)) != 0)
		return rc;
	uint8_t hdr[4];
	tp_store_be32(hdr, (uint32_t)len);
	if (len + 4u > REPLAY_BUF) {
		if ((rc = send_all(s->fd, hdr, 4)) != 0 || (rc = send_all(s->fd, data, len)) != 0)
			return rc;
	} else {
		memcpy(s->buf + s->len, hdr, 4);
		memcpy(s->buf + s->len + 4, data, len);
		s->len += len + 4u;
	}
	s->frames++;
	s->bytes += len + 4u;
	return 0;
}

/* Send the data frames of one pass over the file. */
static int send_file(struct sender *s, const char *path)
{
	int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct tp_dt_reader *r;
	int rc = tp_dt_reader_new(fd, TP_FRAME_HARD_MAX, &r);
	if (rc != 0)
		return rc;
	for (;;) {
		const uint8_t *data;
		size_t len;
		rc = tp_dt_reader_next(r, &data, &len);
		if (rc == 1) {
			if ((rc = send_frame(s, data, len)) != 0)
				break;
			continue;
		}
		if (rc == TP_ETOOBIG || rc == TP_EPROTO) {
			s->skipped++;
			continue;
		}
		if (rc == -EINTR)
			continue;
		if (rc == TP_ETRUNC) {
			fprintf(stderr, "tapir replay: %s: ends inside a frame; sent what came before\n",
				path);
			rc = 0;
		}
		break;
	}
	tp_dt_reader_free(r);
	return rc;
}

int tp_replay_main(int argc, char **argv)
{
	const char *unix_path = NULL, *tcp = NULL, *file = NULL;
	uint64_t rate = 0, loops = 1;
	bool help = false;
	struct tp_opt opts[] = {
		{ "unix", TP_OPT_STRING, &unix_path, 0, 0, "connect to this unix socket (tapir edge --input-unix)", true, false, NULL },
		{ "tcp", TP_OPT_STRING, &tcp, 0, 0, "connect to HOST:PORT (tapir edge --input-tcp)", true, false, NULL },
		{ "rate", TP_OPT_UINT, &rate, 0, REPLAY_RATE_MAX, "frames per second (default 0 = as fast as the peer reads)", true, false, NULL },
		{ "loop", TP_OPT_UINT, &loops, 1, REPLAY_LOOP_MAX, "send the file this many times (default 1)", true, false, NULL },
		{ "help", TP_OPT_BOOL, &help, 0, 0, "show this help", true, false, NULL },
	};
	const size_t n_opts = sizeof(opts) / sizeof(opts[0]);
	const char *synopsis = "tapir replay FILE (--unix PATH | --tcp HOST:PORT) [--rate N] [--loop K]\n"
			       "  prints {\"frames\",\"bytes\" (data frames with their length prefix),\n"
			       "  \"seconds\" (START to FINISH),\"rate\" (frames/s),\"skipped\"} as one JSON line";
	if (argc >= 1 && strncmp(argv[0], "--", 2) != 0) {
		file = argv[0];
		argc--;
		argv++;
	}
	int bad = tp_opts_parse(opts, n_opts, argc, argv, NULL) != 0;
	if (help) {
		tp_opts_usage(opts, n_opts, synopsis);
		return 0;
	}
	if (file == NULL || (unix_path == NULL) == (tcp == NULL)) {
		fprintf(stderr, "tapir replay: a FILE and exactly one of --unix, --tcp are needed\n");
		bad = 1;
	}
	if (file != NULL && strcmp(file, "-") == 0 && loops > 1) {
		fprintf(stderr, "tapir replay: --loop needs a file, not stdin\n");
		bad = 1;
	}
	if (bad) {
		fprintf(stderr, "usage: %s\n", synopsis);
		return 2;
	}

	/* A missing file is reported before the edge sees a connection. */
	if (strcmp(file, "-") != 0 && access(file, R_OK) != 0) {
		fprintf(stderr, "tapir replay: %s: %s\n", file, strerror(errno));
		return 1;
	}
	struct sender s = { .fd = -1, .rate = (double)rate };
	s.burst = s.rate / REPLAY_BURST_DIV < 1.0 ? 1.0 : s.rate / REPLAY_BURST_DIV;
	s.tokens = 1.0;
	const char *target = unix_path ? unix_path : tcp;
	int rc = unix_path ? connect_unix(unix_path, &s.fd) : connect_tcp(tcp, &s.fd);
	if (rc != 0)
		goto out;
	/* The bidirectional handshake, as a resolver does it. */
	if ((rc = send_control(s.fd, TP_FSTRM_READY)) != 0 ||
	    (rc = expect_control(s.fd, TP_FSTRM_ACCEPT, TP_HANDSHAKE_TIMEOUT_MS)) != 0 ||
	    (rc = send_control(s.fd, TP_FSTRM_START)) != 0)
		goto out;
	s.buf = malloc(REPLAY_BUF);
	if (s.buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	double t0 = now_s();
	s.last = t0;
	for (uint64_t i = 0; i < loops && rc == 0; i++)
		rc = send_file(&s, file);
	if (rc != 0 || (rc = flush(&s)) != 0 || (rc = send_control(s.fd, TP_FSTRM_STOP)) != 0 ||
	    (rc = expect_control(s.fd, TP_FSTRM_FINISH, REPLAY_FINISH_TIMEOUT_MS)) != 0)
		goto out;
	double secs = now_s() - t0;
	printf("{\"frames\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"rate\":%.1f,"
	       "\"loops\":%" PRIu64 ",\"skipped\":%" PRIu64 "}\n",
	       s.frames, s.bytes, secs, secs > 0 ? (double)s.frames / secs : 0.0, loops, s.skipped);
	if (fflush(stdout) != 0)
		rc = -EIO;
out:
	if (rc != 0)
		fprintf(stderr, "tapir replay: %s to %s: %s (after %" PRIu64 " frames)\n",
			file, target, tp_strerror(rc), s.frames);
	if (s.fd >= 0)
		close(s.fd);
	free(s.buf);
	return rc == 0 ? 0 : 1;
}
