/* The datagram family of libsocksify.so (preload/dgram_*.c), as the rest of the shim
 * sees it: UDP sockets whose datagrams go through a SOCKS5 UDP ASSOCIATE, and the
 * bookkeeping hooks (connect, close, dup) that keep their state in step. */
#ifndef SOCKSIFY_DATAGRAM_H
#define SOCKSIFY_DATAGRAM_H

#include <stdbool.h>
#include <sys/socket.h>

/* connect() on a SOCK_DGRAM inet socket (connect.c hands every such call here).
 * Returns connect's result: the peer is recorded and the kernel socket connected to
 * the relay when the destination goes through the proxy, else libc's connect. */
int dgram_connect(int fd, const struct sockaddr *sa, socklen_t len);
/* connect() of a TCP socket to port 53 of a name server of resolv.conf, with
 * dns=remote: answered inside the library (dns53_sock.c). True when taken, *rc then
 * connect's result; false (cheaply, for every other port) when not. */
bool dgram_dns53_connect(int fd, const struct sockaddr *sa, socklen_t len, int *rc);
/* True when fd is a UDP socket the datagram family manages (one table load). */
bool dgram_known(int fd);
/* close()/close_range(): forget fd's association (its control connection closes
 * once no copy of the socket is left). Cheap for fds we do not know. */
void dgram_forget(int fd);
void dgram_forget_range(unsigned int first, unsigned int last);
/* dup/dup2/dup3: newfd is the same socket as oldfd. */
void dgram_copy(int oldfd, int newfd);

/* Port-53 answers held in memory (dgram_held.c). Any held at all (one load). */
bool dgram_held_any(void);
/* Every held answer sent to its socket: before a wait the library cannot answer
 * (select, epoll_wait), a fork, a dup, a raw syscall. */
void dgram_held_flush(void);
struct pollfd;
/* poll/ppoll: true when every fd of the set holds an answer and waits only to read
 * (revents set, *rc the count: no system call); false to ask the kernel (held
 * answers flushed first when the set names one). */
bool dgram_held_poll(struct pollfd *fds, unsigned long n, int *rc);

#endif
