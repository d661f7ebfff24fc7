/* SPDX-License-Identifier: MIT */
/*
 * How file bodies and connection sockets are sent with, where legato does
 * not do what libmicrohttpd 0.9.75 does by default and no option of the
 * library reaches: sockets stay uncorked, TCP_NODELAY is set once per
 * connection, a file body goes to sendfile(2) up to 2 MiB a call rather
 * than 128 KiB, and a server thread's event loop never sleeps on events it
 * already holds (and writes its held log lines before it may sleep). Each
 * is done by a definition here that takes the place of
 * libc's for the whole process (the library calls setsockopt, sendfile64 and
 * epoll_wait through its PLT, and the executable exports these); test_http
 * checks that the process resolves them here. bench/stream and
 * docs/benchmarks.md have the measurements.
 *
 * State is kept by descriptor, for descriptors under FD_SLOTS (others are
 * left as they are): what is known of a connection socket's TCP_NODELAY, and
 * where a file response's body ends.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "http/http_int.h"

enum { FD_SLOTS = 65536 };

/* --- TCP_CORK and TCP_NODELAY --- */

/* A socket is ours from MHD's "started" notice to its "closed" one, which
 * comes before the descriptor is closed. */
enum { SOCK_NOT_OURS, SOCK_NAGLE, SOCK_NODELAY };
static _Atomic unsigned char sock_state[FD_SLOTS];

/* Set on the threads that run libmicrohttpd's event loops (see epoll_wait
 * below); a connection's "started" notice comes on the thread that owns it,
 * before it can have an event. */
static _Thread_local bool loop_thread;

void lg_http_note_loop_thread(void)
{
    if (loop_thread)
        return;
    loop_thread = true;
    lg_log_hold(true); /* written before the thread waits: epoll_wait below */
}

void lg_http_note_socket(struct MHD_Connection *conn, bool open)
{
    if (open)
        lg_http_note_loop_thread();
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci && ci->connect_fd >= 0 && ci->connect_fd < FD_SLOTS)
        atomic_store(&sock_state[ci->connect_fd], open ? SOCK_NAGLE : SOCK_NOT_OURS);
}

/*
 * Sockets stay uncorked. libmicrohttpd sets TCP_CORK before it hands a file
 * body to sendfile(2) and pushes the last piece by setting TCP_NODELAY, so a
 * keep-alive connection stays corked for good. On one connection fetching
 * whole files that cost a quarter of the throughput (bench/stream, 5 MB
 * file: 632 requests/s corked, 794 to 944 uncorked, nginx 778 to 926 in the
 * same runs). nginx does not cork either unless told to (tcp_nopush off). A
 * request to cork a TCP socket reports success and does nothing. Headers
 * then leave in a packet of their own, which the measurements include.
 *
 * So uncorked, a socket with TCP_NODELAY on sends everything it is given at
 * once; libmicrohttpd still sets TCP_NODELAY after each response's headers
 * and after its last piece to push them, and takes the cork off before a
 * file body: system calls that find nothing to push. On a connection socket
 * (known to have TCP_NODELAY on already, for that option) such a call does
 * nothing. Every other call goes to the kernel unchanged.
 */
__attribute__((visibility("default"))) int setsockopt(int fd, int level, int name, const void *val,
                                                      socklen_t len)
{
    bool tcp_int = level == IPPROTO_TCP && val && len >= (socklen_t)sizeof(int);
    if (tcp_int && name == TCP_CORK && *(const int *)val != 0)
        return 0;
    bool ours = fd >= 0 && fd < FD_SLOTS && atomic_load(&sock_state[fd]) != SOCK_NOT_OURS;
    if (tcp_int && name == TCP_CORK && ours)
        return 0; /* uncorking a connection socket, which never was corked */
    if (!tcp_int || name != TCP_NODELAY || !ours)
        return (int)syscall(SYS_setsockopt, fd, level, name, val, len);
    bool on = *(const int *)val != 0;
    unsigned char state = atomic_load(&sock_state[fd]);
    if (on && state == SOCK_NODELAY)
        return 0;
    int rc = (int)syscall(SYS_setsockopt, fd, level, name, val, len);
    if (rc == 0 && state != SOCK_NOT_OURS)
        atomic_store(&sock_state[fd], on ? SOCK_NODELAY : SOCK_NAGLE);
    return rc;
}

/* --- sendfile --- */

/*
 * Larger sendfile calls. libmicrohttpd hands a file body to sendfile(2) at
 * most 128 KiB a call (MHD_PIECE) with a trip through its event loop in
 * between (2 MiB only with a thread per connection): 40 calls for a 5 MB
 * track, each paying the fixed cost of a splice. nginx sends up to 2 MiB a
 * call. lg_response_from_file records where each file body ends, by its
 * descriptor (a response owns its descriptor, so no two live responses share
 * a number, and the newest record of a number is its response's). A call of
 * exactly MHD_PIECE on a recorded descriptor may send up to SENDFILE_MAX,
 * stopping MHD_PIECE short of the end so that libmicrohttpd's own last call
 * (which pushes the data out) still comes; libmicrohttpd moves on by what
 * the call returns. A 5 MB track takes 4 calls instead of 40 (strace).
 */
enum { MHD_PIECE = 0x20000, SENDFILE_MAX = 2 * 1024 * 1024 };
static _Atomic int64_t body_end[FD_SLOTS];

struct MHD_Response *lg_response_from_file(int fd, uint64_t offset, uint64_t len)
{
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, fd, offset);
    if (r && fd >= 0 && fd < FD_SLOTS)
        atomic_store(&body_end[fd], (int64_t)(offset + len));
    return r;
}

/* libc's declaration needs _LARGEFILE64_SOURCE; off64_t is int64_t. */
ssize_t sendfile64(int out, int in, int64_t *off, size_t count);

__attribute__((visibility("default"))) ssize_t sendfile64(int out, int in, int64_t *off,
                                                          size_t count)
{
    if (count == MHD_PIECE && off && in >= 0 && in < FD_SLOTS) {
        int64_t left = atomic_load(&body_end[in]) - (int64_t)*off;
        if (left > 2 * MHD_PIECE)
            count = (size_t)(left - MHD_PIECE < SENDFILE_MAX ? left - MHD_PIECE : SENDFILE_MAX);
    }
    return syscall(SYS_sendfile, out, in, off, count);
}

/* --- epoll_wait --- */

/*
 * A server thread never sleeps on events it holds. libmicrohttpd 0.9.75
 * drains its epoll set in a loop: while a call returns as many events as it
 * asked for (128), it calls again, with the timeout it worked out before the
 * first call. The first batch is only recorded, not served, until the loop
 * ends. So when exactly 128 of a thread's connections turn readable at once
 * and then nothing else happens (every client waits for its answer), the
 * second call sleeps with all 128 requests in hand, until an unrelated event
 * or the next connection timeout (30 s by default). 256 players on a
 * two-thread server is 128 connections a thread: repeated 2 s wrk runs at
 * 256 connections saw all 256 requests sit unread for about 3 s (until a
 * retried connection came) in about one run in forty. On a loop thread, a
 * call that follows a full batch on the same epoll set is the loop going
 * on, and it does not wait (tests/e2e/http-loop.test.mjs).
 *
 * A loop thread holds its log lines (lg_log_hold: a request's line is
 * written with those of the requests served beside it, not by a write(2) of
 * its own); a call that may wait writes them first, so a thread that goes
 * idle holds nothing back. A busy thread writes them when its buffer is
 * full or when it next may wait; a handler that blocks (on SQLite's lock,
 * say) delays them by as long.
 */
static _Thread_local int full_epfd = -1;

__attribute__((visibility("default"))) int epoll_wait(int epfd, struct epoll_event *events,
                                                      int maxevents, int timeout)
{
    if (loop_thread && epfd == full_epfd)
        timeout = 0;
    if (loop_thread && timeout != 0)
        lg_log_flush(); /* the lines of the requests served so far */
    int n = epoll_pwait(epfd, events, maxevents, timeout, NULL);
    full_epfd = loop_thread && n == maxevents ? epfd : -1;
    return n;
}
