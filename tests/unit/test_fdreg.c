/* Unit tests of the shim's fd registry (preload/fdreg.c, compiled in here with stubs
 * for the rest of the library): records, the stale-record check against the kernel's
 * peer, dup copies, close_range sweeps, and the internal fds the program must not
 * close or take over. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"

#include "../../preload/fdreg.c"

/* ---- stubs for what fdreg.c uses from the rest of the library ---- */
__thread int shim_inside;
struct real_syms real_table = { .close = close };
bool real_ready = true;
const struct real_syms *real_slow(void)
{
	return &real_table;
}
void shim_setup_begin(void)
{
}
void shim_setup_end(void)
{
}
void fdops_record_pid(void)
{
}

static struct sockaddr_in sin4(const char *ip, int port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, ip, &s.sin_addr);
	return s;
}

int main(void)
{
	struct sockaddr_in dst = sin4("198.18.2.2", 80), hop = sin4("198.18.1.2", 1080);
	struct sockaddr_in other = sin4("127.0.0.1", 1080);
	struct sockaddr_storage ss;
	socklen_t len = 0;

	ok(fdreg_kind(5) == FD_NONE, "nothing registered before the first record (no table yet)");
	fdreg_set_tunnel(5, (struct sockaddr *)&dst, sizeof(dst), (struct sockaddr *)&hop,
			 sizeof(hop));
	ok(fdreg_kind(5) == FD_TUNNEL, "a tunnel is recorded");
	ok(fdreg_peer(5, (struct sockaddr *)&hop, &ss, &len) && len == sizeof(dst) &&
		   memcmp(&ss, &dst, sizeof(dst)) == 0,
	   "the kernel naming our hop: the destination is reported");
	ok(!fdreg_peer(5, (struct sockaddr *)&other, &ss, &len), "another peer: a stale record");
	ok(fdreg_kind(5) == FD_NONE, "... which is dropped");

	fdreg_set_tunnel(6, (struct sockaddr *)&dst, sizeof(dst), (struct sockaddr *)&hop,
			 sizeof(hop));
	fdreg_copy(6, 9);
	ok(fdreg_kind(9) == FD_TUNNEL && fdreg_peer(9, (struct sockaddr *)&hop, &ss, &len),
	   "a dup copy carries the record");
	fdreg_copy(7, 9);
	ok(fdreg_kind(9) == FD_NONE, "a dup of an unknown fd over a tunnel clears it");

	fdreg_set_tunnel(10, (struct sockaddr *)&dst, sizeof(dst), (struct sockaddr *)&hop,
			 sizeof(hop));
	fdreg_set_tunnel(12, (struct sockaddr *)&dst, sizeof(dst), (struct sockaddr *)&hop,
			 sizeof(hop));
	fdreg_clear_range(10, 11);
	ok(fdreg_kind(10) == FD_NONE && fdreg_kind(12) == FD_TUNNEL,
	   "close_range forgets exactly its range");
	fdreg_clear_range(0, ~0U);
	ok(fdreg_kind(12) == FD_NONE && fdreg_kind(6) == FD_NONE, "close_range(0, ~0U) forgets all");

	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fdreg_set_internal(fd);
	ok(fdreg_kind(fd) == FD_INTERNAL && fdreg_internal_valid(fd), "an internal fd");
	ok(fdreg_internal_in(0, ~0U) == fd && fdreg_internal_in((unsigned)fd + 1, ~0U) == -1,
	   "found by a sweep over its range only");
	fdreg_clear_range(0, ~0U);
	ok(fdreg_kind(fd) == FD_INTERNAL, "close_range bookkeeping leaves internal fds alone");
	int moved = fdreg_relocate_internal(fd);
	ok(moved >= 0 && moved != fd && fdreg_kind(moved) == FD_INTERNAL &&
		   fdreg_kind(fd) == FD_NONE && fcntl(fd, F_GETFD) == -1,
	   "relocated: the old number is free for the program (%d -> %d)", fd, moved);
	ok(fcntl(moved, F_GETFD) == FD_CLOEXEC, "the moved fd is close-on-exec");
	/* Closed behind our back and the number reused: no longer ours. */
	close(moved);
	int reused = open("/dev/zero", O_RDONLY);
	if (reused != moved)
		reused = dup2(reused, moved);
	ok(!fdreg_internal_valid(moved), "an internal number reused by another file is not ours");
	close(reused);

	/* The datagram bit: beside the kind, kept by its changes, told by fdreg_known. */
	ok(!fdreg_known(40), "an fd never seen is not known");
	fdreg_set_dgram(40, true);
	ok(fdreg_known(40) && fdreg_kind(40) == FD_NONE, "a managed UDP socket: known, kind none");
	fdreg_set_tunnel(40, (struct sockaddr *)&dst, sizeof(dst), (struct sockaddr *)&hop,
			 sizeof(hop));
	ok(fdreg_kind(40) == FD_TUNNEL, "connected through the proxy: a tunnel too");
	fdreg_clear(40);
	ok(fdreg_kind(40) == FD_NONE && fdreg_known(40), "clearing the tunnel keeps the datagram bit");
	fdreg_set_tunnel(40, (struct sockaddr *)&dst, sizeof(dst), (struct sockaddr *)&hop,
			 sizeof(hop));
	fdreg_clear_range(40, 40);
	ok(fdreg_kind(40) == FD_NONE && fdreg_known(40), "so does a close_range sweep");
	fdreg_set_dgram(40, false);
	ok(!fdreg_known(40), "forgotten by the datagram family: none of ours");

	/* An asynchronous connect's handshake: known (close() must look), then a tunnel. */
	fdreg_set_connecting(41);
	ok(fdreg_known(41) && fdreg_kind(41) == FD_CONNECTING, "a pending handshake: known, pending");
	fdreg_set_tunnel(41, (struct sockaddr *)&dst, sizeof(dst), (struct sockaddr *)&hop,
			 sizeof(hop));
	ok(fdreg_kind(41) == FD_TUNNEL, "the tunnel up: a tunnel");
	fdreg_set_connecting(41);
	fdreg_clear(41);
	ok(!fdreg_known(41), "a failed handshake forgotten: none of ours");

	ok(fdreg_kind(-1) == FD_NONE && fdreg_kind(1 << 30) == FD_NONE, "out of range: none");
	ok(!fdreg_known(-1), "out of range: not known");
	fdreg_set_tunnel(1 << 30, (struct sockaddr *)&dst, sizeof(dst), (struct sockaddr *)&hop,
			 sizeof(hop));
	ok(fdreg_kind(1 << 30) == FD_NONE, "a record past the table is ignored, not a crash");

	/* The one record holds the datagram association and the pending handshake too. */
	static int a1, a2;
	ok(fdreg_assoc(41) == NULL, "no association before one is attached");
	ok(fdreg_assoc_attach(41, (struct dg_assoc *)&a1), "an association is attached");
	ok(!fdreg_assoc_attach(41, (struct dg_assoc *)&a2) &&
		   fdreg_assoc(41) == (struct dg_assoc *)&a1,
	   "a second attach loses to the first (a race between two threads)");
	fdreg_set_dgram(41, true);
	fdreg_set_tunnel(41, (struct sockaddr *)&dst, sizeof(dst), (struct sockaddr *)&hop,
			 sizeof(hop));
	fdreg_clear(41);
	ok(fdreg_assoc(41) == (struct dg_assoc *)&a1 && fdreg_is_dgram(41),
	   "recording and clearing a peer keeps the association");
	fdreg_copy(41, 42);
	ok(fdreg_assoc(42) == NULL, "a dup copies the peer, not the association");
	ok(!fdreg_assoc_attach(1 << 30, (struct dg_assoc *)&a2), "no association past the table");
	ok(fdreg_high_water() > 42, "the high-water mark covers every record");

	void *ctx = NULL;
	ok(fdreg_pending(43, &ctx) == FD_PENDING_NONE, "nothing pending by default");
	fdreg_set_pending(43, FD_PENDING_HANDSHAKE, &a2);
	ok(fdreg_pending(43, &ctx) == FD_PENDING_HANDSHAKE && ctx == &a2,
	   "a pending handshake and its context are kept");
	fdreg_set_pending(43, FD_PENDING_NONE, NULL);
	ok(fdreg_pending(43, NULL) == FD_PENDING_NONE, "and cleared");
	ok(fdreg_pending(-1, &ctx) == FD_PENDING_NONE, "out of range: nothing pending");
	return tap_done();
}
