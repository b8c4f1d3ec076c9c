/**
 * The serving engine's queue, modelled from the load and the replicas Ready at each instant, for
 * the series whose value depends on the replicas (vLLM's vllm:num_requests_waiting and
 * vllm:num_requests_running, TGI's tgi_queue_size and tgi_batch_current_size), and the KEDA HTTP
 * add-on interceptor's in-flight count of the model's route.
 *
 * The model (a fluid queue, integrated in ENGINE_STEP_SECONDS steps):
 * - `inFlight` N counts the requests that have arrived and not finished. Requests arrive at the
 *   profile's rate λ(t) and all go through the interceptor (a model that scales to zero is called
 *   through it: components/model-server/request-routing.ts), so its in-flight count is N.
 * - Each Ready replica runs at most `maxNumSeqs` requests at once (vLLM --max-num-seqs, TGI
 *   --max-concurrent-requests, OLLAMA_NUM_PARALLEL: components/model-server/engines.ts sets all three from
 *   `vllm.maxNumSeqs`): running = min(N, maxNumSeqs x Ready), and the rest wait, in the engines'
 *   queues when a replica is Ready, held by the interceptor while none is (no engine, no series).
 * - A running request finishes at rate 1 / requestSeconds (a mean request time W): requests
 *   finish at running / W per second, so dN/dt = λ - running / W. With capacity to spare, N tends
 *   to λ x W (Little's law: in flight = arrival rate x time in the system) with time constant W;
 *   with λ above maxNumSeqs x Ready / W, the queue grows by the difference every second.
 * - The gauges report whole requests: N rounded to the nearest integer, running = min(that,
 *   maxNumSeqs x Ready), waiting = the rest. A Ready replica's batch is shared evenly: the sum over
 *   replicas (what every trigger query takes) is the same whatever the split, so the replay writes
 *   one series per metric for the model, present while at least one replica is Ready.
 * Not modelled: request timeouts at the interceptor or the client (held requests all wait), load
 * balancing imbalance, prefill versus decode, and a request time that grows with the batch.
 */

export interface EngineSpec {
    /** Requests one replica runs at once (`vllm.maxNumSeqs` in config). */
    readonly maxNumSeqs: number;
    /** Mean time a running request takes to finish (seconds). */
    readonly requestSeconds: number;
}

export interface EngineState {
    /** Requests arrived and not finished (fractional: the fluid model). */
    readonly inFlight: number;
    /** Requests finished since the start (the engines' finished-requests counter). */
    readonly finished: number;
}

/** What the engine and the interceptor report at an instant. */
export interface EngineReading {
    readonly inFlight: number;
    readonly running: number;
    readonly waiting: number;
    readonly finished: number;
}

/** The integration step (seconds): 1/10 of a second, against request times of seconds. */
export const ENGINE_STEP_SECONDS = 0.1;

export const IDLE_ENGINE: EngineState = { inFlight: 0, finished: 0 };

/**
 * The state at `to`, from the state at `from`: `load(t)` requests per second arrive, `ready(t)`
 * replicas serve. Euler steps of ENGINE_STEP_SECONDS (the last one shorter when `to - from` is not
 * a multiple), each with the load and replicas at its start.
 */
export function advanceEngine(
    state: EngineState, spec: EngineSpec, from: number, to: number, load: (at: number) => number, ready: (at: number) => number,
): EngineState {
    let { inFlight, finished } = state;
    const steps = Math.ceil((to - from) / ENGINE_STEP_SECONDS - 1e-9);
    for (let i = 0; i < steps; i += 1) {
        const at = from + i * ENGINE_STEP_SECONDS;
        const dt = Math.min(ENGINE_STEP_SECONDS, to - at);
        const running = Math.min(inFlight, spec.maxNumSeqs * ready(at));
        const done = Math.min(running, running * dt / spec.requestSeconds);
        inFlight = Math.max(0, inFlight + load(at) * dt - done);
        finished += done;
    }
    return { inFlight, finished };
}

/** The whole-request readings of a state with `ready` replicas Ready. */
export function engineReading(state: EngineState, spec: EngineSpec, ready: number): EngineReading {
    const inFlight = Math.round(state.inFlight);
    const running = Math.min(inFlight, spec.maxNumSeqs * ready);
    return { inFlight, running, waiting: inFlight - running, finished: Math.floor(state.finished) };
}
