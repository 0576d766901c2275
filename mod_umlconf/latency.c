/*
 * The latency histograms in the arena: how long admitted requests were
 * served (from admission to the end of the request) and how long they
 * waited for admission, in Prometheus's default buckets from 1 ms to 10 s.
 *
 * Written on the request path of every child with relaxed atomic adds and
 * no lock: a request pays two adds and a short scan, and a child killed
 * between them loses at most its own sample's sum. The buckets are kept
 * per bucket, not cumulative, so a sample is one add; readers sum them,
 * and take the count from that sum, so that the +Inf bucket and _count
 * always agree however the adds of other requests interleave.
 */
#include "umlconf.h"

const uint64_t umlconf_latency_le_us[UMLCONF_BUCKETS - 1] = {
    1000,   2500,   5000,    10000,   25000,   50000,	 100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

const char *const umlconf_latency_le[UMLCONF_BUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",  "0.5",    "1",	"2.5",	"5",	 "10",	 "+Inf",
};

void umlconf_latency_record(struct umlconf_histogram *h, uint64_t us)
{
	unsigned b = 0;

	while (b < UMLCONF_BUCKETS - 1 && us > umlconf_latency_le_us[b])
		b++;
	atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

uint64_t umlconf_latency_read(const struct umlconf_histogram *h,
			      uint64_t cumulative[UMLCONF_BUCKETS], uint64_t *sum_us)
{
	uint64_t n = 0;

	*sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
	for (unsigned b = 0; b < UMLCONF_BUCKETS; b++) {
		n += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
		cumulative[b] = n;
	}
	return n;
}
