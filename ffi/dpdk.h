/*
 * The DPDK surface v6fwd binds: bindgen reads this header, and the shim
 * declares here the out-of-line copies of DPDK's static inline functions.
 */
#ifndef V6FWD_DPDK_H
#define V6FWD_DPDK_H

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include <rte_bus_vdev.h>
#include <rte_version.h>

uint16_t v6fwd_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t v6fwd_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
struct rte_mbuf *v6fwd_pktmbuf_alloc(struct rte_mempool *mp);
void v6fwd_pktmbuf_free(struct rte_mbuf *m);
void v6fwd_pktmbuf_free_bulk(struct rte_mbuf **m, unsigned int n);
int v6fwd_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
char *v6fwd_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
int v6fwd_errno(void);
uint64_t v6fwd_rdtsc(void);
uint64_t v6fwd_tsc_hz(void);
unsigned int v6fwd_mempool_in_use(const struct rte_mempool *mp);

#endif
