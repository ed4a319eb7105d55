/*
 * real-agent-tool: the three things test/helpers/real-agent.ts needs from C to drive the real
 * wazuh-agentd, compiled with the same compiler as agentd (so it needs nothing agentd does not):
 *
 *   real-agent-tool send PATH   stdin: frames [u32 little-endian length][bytes]; each frame becomes
 *                               one datagram sent to the unix datagram socket PATH (agentd's local
 *                               queue, queue/sockets/queue). Blocks while the receiver's buffer is
 *                               full, as Wazuh's own modules do. Exit 0 when stdin ends.
 *   real-agent-tool recv PATH   binds a unix datagram socket at PATH (a fake execd queue) and
 *                               writes every datagram to stdout as [u32 LE length][bytes], after a
 *                               first frame of length 0xffffffff meaning "bound". Exits (and
 *                               unlinks PATH) when stdin closes, so it never outlives its parent.
 *   real-agent-tool exec PROG ARGS...
 *                               execs PROG with PR_SET_PDEATHSIG(SIGTERM): the agent is stopped by
 *                               the kernel if the test process dies without stopping it.
 *
 * Node.js has no unix datagram sockets in core; this avoids a native addon and any tool that a
 * Debian image with build-essential would not have.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_DGRAM (1 << 20)

static int read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r == 0) return got == 0 ? 0 : -1;
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 1;
}

static int write_full(int fd, const void *buf, size_t n) {
    size_t put = 0;
    while (put < n) {
        ssize_t w = write(fd, (const char *)buf + put, n - put);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        put += (size_t)w;
    }
    return 0;
}

/* A unix datagram socket and the address of PATH; returns the fd, or -1 (reported on stderr). */
static int dgram_socket(const char *path, struct sockaddr_un *addr) {
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr->sun_path) {
        fprintf(stderr, "real-agent-tool: socket path too long (%zu bytes, at most %zu): %s\n", strlen(path),
                sizeof addr->sun_path - 1, path);
        return -1;
    }
    strcpy(addr->sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) perror("real-agent-tool: socket");
    return fd;
}

static int do_send(const char *path) {
    struct sockaddr_un addr;
    int fd = dgram_socket(path, &addr);
    if (fd < 0) return 1;
    int sndbuf = MAX_DGRAM * 2;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    char *buf = malloc(MAX_DGRAM);
    if (buf == NULL) return 1;
    for (;;) {
        unsigned char len_le[4];
        int r = read_full(0, len_le, 4);
        if (r == 0) break;
        if (r < 0) {
            fprintf(stderr, "real-agent-tool: truncated frame header on stdin\n");
            return 2;
        }
        uint32_t len = (uint32_t)len_le[0] | (uint32_t)len_le[1] << 8 | (uint32_t)len_le[2] << 16 | (uint32_t)len_le[3] << 24;
        if (len > MAX_DGRAM) {
            fprintf(stderr, "real-agent-tool: datagram of %u bytes is larger than %d\n", len, MAX_DGRAM);
            return 2;
        }
        if (len > 0 && read_full(0, buf, len) != 1) {
            fprintf(stderr, "real-agent-tool: truncated frame on stdin\n");
            return 2;
        }
        while (sendto(fd, buf, len, 0, (struct sockaddr *)&addr, sizeof addr) < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "real-agent-tool: sendto %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    return 0;
}

static int do_recv(const char *path) {
    struct sockaddr_un addr;
    int fd = dgram_socket(path, &addr);
    if (fd < 0) return 1;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "real-agent-tool: bind %s: %s\n", path, strerror(errno));
        return 1;
    }
    unsigned char ready[4] = {0xff, 0xff, 0xff, 0xff};
    if (write_full(1, ready, 4) < 0) return 1;
    char *buf = malloc(MAX_DGRAM);
    if (buf == NULL) return 1;
    struct pollfd fds[2] = {{.fd = fd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents != 0) {
            char scratch[64];
            ssize_t r = read(0, scratch, sizeof scratch);
            if (r <= 0) break; /* the parent went away or closed our stdin */
        }
        if (fds[0].revents & POLLIN) {
            ssize_t n = recv(fd, buf, MAX_DGRAM, 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                break;
            }
            unsigned char len_le[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16), (unsigned char)(n >> 24)};
            if (write_full(1, len_le, 4) < 0 || write_full(1, buf, (size_t)n) < 0) break;
        }
    }
    unlink(path);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "send") == 0) return do_send(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "recv") == 0) return do_recv(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "exec") == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1) return 1; /* the parent died before prctl */
        execv(argv[2], argv + 2);
        fprintf(stderr, "real-agent-tool: exec %s: %s\n", argv[2], strerror(errno));
        return 127;
    }
    fprintf(stderr, "usage: real-agent-tool send PATH | recv PATH | exec PROG [ARGS...]\n");
    return 2;
}
