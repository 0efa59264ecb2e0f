/* The counters' hooks on the session path (see metrics.h): plain increments of the
 * calling worker's own srv.st, summed across workers only when read. */
#include "metrics.h"
#include "session.h"

/* Histogram bucket bounds in ms (the last one, +Inf, is implicit). */
const unsigned hist_le_ms[SRV_HIST_BUCKETS] = { 1,   2,    5,    10,   25,    50,   100,
						250, 500, 1000, 2500, 5000, 10000, 30000 };

void metrics_observe(struct srv_hist *h, uint64_t ms)
{
	unsigned i = 0;

	while (i < SRV_HIST_BUCKETS && ms > hist_le_ms[i])
		i++;
	h->bucket[i]++;
	h->sum_ms += ms;
	h->count++;
}

/* The command a session counts under: none until its request was dispatched (asked
 * is set there), and none for a command we do not know. */
static unsigned cmd_index(const struct session *s)
{
	return s->asked && s->cmd >= SOCKS_CMD_CONNECT && s->cmd <= SOCKS_CMD_UDP_ASSOCIATE
		       ? s->cmd
		       : 0;
}

void metrics_session_dispatched(const struct session *s)
{
	metrics_observe(&srv.st.handshake, ev_now(srv.loop) - s->start_ms);
	srv.st.dispatched[cmd_index(s)]++;
}

void metrics_session_ended(const struct session *s)
{
	enum sess_result r = !s->replied ? RESULT_NO_REPLY
			     : s->rep    ? RESULT_FAILED
					 : RESULT_SUCCEEDED;

	srv.st.ended[cmd_index(s)][r]++;
	if (!s->replied)
		return;
	if (s->ver == 4)
		srv.st.rep4[s->rep ? 1 : 0]++;
	else
		srv.st.rep5[s->rep < 9 ? s->rep : 9]++;
}

