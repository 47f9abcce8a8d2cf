/*
 * The bare connect/request/response/close loop the engine's CRR client is
 * held against (docs/engine.md, "At scale"): what an application does, with
 * nothing measured per connection.
 *
 *   crr_bare tcp|mptcp IPv4-ADDRESS PORT SECONDS
 *
 * prints "<connections> <seconds>" on stdout; exit 1 on any failed call.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: crr_bare tcp|mptcp ADDRESS PORT SECONDS\n");
        return 2;
    }
    int proto = strcmp(argv[1], "mptcp") == 0 ? IPPROTO_MPTCP : IPPROTO_TCP;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
    if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1)
        return 2;
    double t0 = now(), end = t0 + atof(argv[4]);
    long n = 0;
    char c = 'R';
    while (now() < end) {
        int fd = socket(AF_INET, SOCK_STREAM, proto);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            send(fd, &c, 1, MSG_NOSIGNAL) != 1 || recv(fd, &c, 1, 0) != 1 || recv(fd, &c, 1, 0) != 0) {
            perror("crr_bare");
            return 1;
        }
        close(fd);
        c = 'R';
        n++;
    }
    printf("%ld %.6f\n", n, now() - t0);
    return 0;
}
