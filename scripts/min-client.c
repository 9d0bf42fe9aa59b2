/* The least a bar's client can do to ask a running ocbar daemon: connect to its socket, send
 * `status tmux`, read the reply to the end, print it. No argument parsing, no configuration, no
 * timeout, no error message. scripts/bench-client.sh times it beside `ocbar status` to show
 * how much of the client's cost is the round trip itself (any client pays that) and how much is
 * ocbar's own start-up. Not a client to use: it is a measuring stick.
 *
 *   cc -O2 -o min-client scripts/min-client.c && ./min-client "$XDG_RUNTIME_DIR/ocbar.sock"
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2 || strlen(argv[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path)) return 2;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, argv[1]);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return 1;
    const char *request = "status tmux\n";
    if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) return 1;
    char buf[8192];
    ssize_t n = 0, k;
    while (n < (ssize_t)sizeof buf && (k = read(fd, buf + n, sizeof buf - n)) > 0) n += k;
    return write(1, buf, n) == n ? 0 : 1;
}
