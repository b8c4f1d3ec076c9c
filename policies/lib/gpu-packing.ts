/**
 * Replica-by-replica packing of GPU workloads onto GPU node groups at their max size, for
 * gpu-capacity-fit. A replica is one pod and a pod runs on one node, so its GPUs must all
 * be free on a single node: summing GPUs over the pool is not enough (4 replicas of 3 GPUs
 * ask for 12 GPUs, and 3 nodes of 4 GPUs hold 12, but each node holds only one of them).
 *
 * The packing is first-fit decreasing: replicas largest first (ties: the workload that may
 * use the fewest nodes first, then stack order), each onto the first node with room, nodes
 * largest first. How close that is to the truth:
 * - Exact when every workload may use the same nodes and there is one replica size (each
 *   node holds as many as fit in it), or the replica sizes divide each other and every
 *   node size they can use (1, 2, 4, 8 GPUs on 1-, 4- and 8-GPU nodes: every EC2 GPU size
 *   the table holds). Proof: when a replica of s GPUs is placed,
 *   every node of s GPUs or more has a multiple of s free (it only holds replicas of s or
 *   a multiple of s), so it fails only if all of them are full, and then no placement
 *   holds the replicas left (Coffman, Garey and Johnson, "Bin packing with divisible item
 *   sizes", J. Complexity 3, 1987, show the same for bin packing).
 * - Otherwise it can be pessimistic: two 8-GPU nodes hold replicas of 4, 3, 3, 2, 2 and 2
 *   GPUs (4+2+2 and 3+3+2), which first-fit decreasing does not find (4+3, 3+2+2, then 2
 *   is left). The message then says so. An exact search is exponential in the replicas.
 * - It is what the cluster at best achieves, not what it will do: kube-scheduler places
 *   pods one at a time as they come, by default preferring the least allocated node
 *   (NodeResourcesFit scoring strategy LeastAllocated), and nothing moves a running pod to
 *   make room. Mixed sizes can then strand GPUs (two 2-GPU replicas on two 4-GPU nodes
 *   leave no room for a 4-GPU one). With one replica size per pool, as in the shipped
 *   stacks, any placement that fills nodes before adding one is as good as this one, so
 *   the check is exact both ways there.
 */

/** One GPU node group at its max size: `nodes` nodes of `gpusPerNode` GPUs each. */
export interface GpuPool {
    readonly name: string;
    readonly nodes: number;
    readonly gpusPerNode: number;
}

/** The replicas of one workload, `gpus` GPUs each, that may run on the pools named in `pools`. */
export interface GpuDemand {
    readonly replicas: number;
    readonly gpus: number;
    readonly pools: readonly string[];
}

export interface Packing {
    /** Replicas of each demand (by index) that found no node. */
    readonly unplaced: readonly number[];
    /** Whether first-fit decreasing is exact for these pools and demands (see above). */
    readonly exact: boolean;
}

interface Node {
    readonly pool: string;
    free: number;
}

/** Packs every demand's replicas onto the pools' nodes, first-fit decreasing. */
export function packReplicas(pools: readonly GpuPool[], demands: readonly GpuDemand[]): Packing {
    const nodes: Node[] = [...pools].sort((a, b) => b.gpusPerNode - a.gpusPerNode)
        .flatMap((pool) => Array.from({ length: pool.nodes }, () => ({ pool: pool.name, free: pool.gpusPerNode })));
    const reach = demands.map((demand) => nodes.filter((node) => demand.pools.includes(node.pool)).length);
    const order = demands.map((_, index) => index)
        .sort((a, b) => demands[b].gpus - demands[a].gpus || reach[a] - reach[b] || a - b);
    const unplaced = demands.map(() => 0);
    for (const index of order) {
        const demand = demands[index];
        for (let replica = 0; replica < demand.replicas; replica++) {
            const node = nodes.find((candidate) => candidate.free >= demand.gpus && demand.pools.includes(candidate.pool));
            if (!node) {
                // The replicas left are the same size with the same nodes, and nodes only fill up: none fits.
                unplaced[index] = demand.replicas - replica;
                break;
            }
            node.free -= demand.gpus;
        }
    }
    return { unplaced, exact: isExact(pools, demands) };
}

/** All workloads on the same pools, and one replica size or sizes that divide each other and every node size they fit. */
function isExact(pools: readonly GpuPool[], demands: readonly GpuDemand[]): boolean {
    const sizes = [...new Set(demands.filter((demand) => demand.replicas > 0).map((demand) => demand.gpus))].sort((a, b) => a - b);
    const sameReach = demands.every((demand) => samePools(demand.pools, demands[0].pools));
    const chain = sizes.every((size, index) => Number.isInteger(size) && (index === 0 || size % sizes[index - 1] === 0));
    const nodeSizes = pools.map((pool) => pool.gpusPerNode);
    // One replica size: every node holds as many as fit in it, whatever the order.
    return sameReach && (sizes.length <= 1 || (chain && sizes.every((size) => nodeSizes.every((capacity) => capacity < size || capacity % size === 0))));
}

function samePools(a: readonly string[], b: readonly string[]): boolean {
    return a.length === b.length && a.every((name) => b.includes(name));
}

/** How many replicas of `gpus` GPUs one node of `gpusPerNode` GPUs holds. */
export function replicasPerNode(gpusPerNode: number, gpus: number): number {
    return Math.floor(gpusPerNode / gpus);
}
