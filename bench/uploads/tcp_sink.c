/* tcp_sink.c: the plain-TCP baseline of the upload benchmark (bench/uploads/run.sh).
 *
 *   tcp_sink PORTFILE FILE     accept one connection on 127.0.0.1 (port written to PORTFILE),
 *                              copy everything it sends into FILE ("-": discard), fdatasync FILE
 *                              at EOF, answer one byte, exit.
 *
 * What a plain copy of an upload costs: the same bytes, over the same loopback, to the same
 * filesystem, durable at the end; no framing, no hashing, no checks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (1u << 20)

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tcp_sink PORTFILE FILE|-\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
        perror("tcp_sink: listen");
        return 1;
    }
    FILE *pf = fopen(argv[1], "w");
    fprintf(pf, "%d\n", ntohs(a.sin_port));
    fclose(pf);
    int c = accept(ls, NULL, NULL);
    int out = strcmp(argv[2], "-") == 0 ? -1 : open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *buf = malloc(BUF);
    for (;;) {
        ssize_t n = read(c, buf, BUF);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t o = 0; out >= 0 && o < n;) {
            ssize_t k = write(out, buf + o, (size_t)(n - o));
            if (k < 0) {
                perror("tcp_sink: write");
                return 1;
            }
            o += k;
        }
    }
    if (out >= 0) {
        fdatasync(out);
        close(out);
    }
    if (write(c, "k", 1) != 1) perror("tcp_sink: answer");
    close(c);
    close(ls);
    free(buf);
    return 0;
}
