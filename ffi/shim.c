/*
 * Out-of-line copies of DPDK's static inline fast-path functions, which
 * bindgen cannot bind. One function per inline call, nothing else: the
 * Rust side owns every decision.
 */
#include "dpdk.h"

uint16_t v6fwd_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t v6fwd_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port, queue, pkts, n);
}

struct rte_mbuf *v6fwd_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

void v6fwd_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

void v6fwd_pktmbuf_free_bulk(struct rte_mbuf **m, unsigned int n)
{
	rte_pktmbuf_free_bulk(m, n);
}

int v6fwd_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_trim(m, len);
}

char *v6fwd_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_append(m, len);
}

int v6fwd_errno(void)
{
	return rte_errno;
}

uint64_t v6fwd_rdtsc(void)
{
	return rte_rdtsc();
}

uint64_t v6fwd_tsc_hz(void)
{
	return rte_get_tsc_hz();
}

unsigned int v6fwd_mempool_in_use(const struct rte_mempool *mp)
{
	return rte_mempool_in_use_count(mp);
}
