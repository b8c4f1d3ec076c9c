/**
 * A load profile: steps of requests per second, each held for a number of seconds.
 */

export interface LoadStep {
    /** Requests per second during the step. */
    readonly rps: number;
    readonly seconds: number;
}

export type LoadProfile = readonly LoadStep[];

/** The seed design's table (3, 12, 25, 8, 2 req/s, one minute each), then `quietSeconds` without requests. */
export function seedProfile(quietSeconds: number): LoadProfile {
    return [...[3, 12, 25, 8, 2].map((rps) => ({ rps, seconds: 60 })), { rps: 0, seconds: quietSeconds }];
}

/** Parses `3x60,12x60,0x600` (req/s x seconds, comma-separated); throws a one-line Error naming the bad step. */
export function parseProfile(text: string): LoadProfile {
    return text.split(",").map((part) => {
        const match = /^\s*(\d+(?:\.\d+)?)x(\d+)\s*$/.exec(part);
        if (!match || Number(match[2]) <= 0) {
            throw new Error(`--profile: "${part}" is not <req/s>x<seconds> (like 12x60)`);
        }
        return { rps: Number(match[1]), seconds: Number(match[2]) };
    });
}

/** When each step starts (seconds since the profile's start). */
export function stepStarts(profile: LoadProfile): number[] {
    let at = 0;
    return profile.map((step) => {
        const start = at;
        at += step.seconds;
        return start;
    });
}

export function profileSeconds(profile: LoadProfile): number {
    return profile.reduce((sum, step) => sum + step.seconds, 0);
}

/** The load at `t` (0 after the profile ends). */
export function loadAt(profile: LoadProfile, t: number): number {
    const starts = stepStarts(profile);
    for (let i = profile.length - 1; i >= 0; i -= 1) {
        if (t >= starts[i]) {
            return t < starts[i] + profile[i].seconds ? profile[i].rps : 0;
        }
    }
    return 0;
}

/** Requests completed in [0, t]: the integral of the load, as a counter of requests counts them. */
export function requestsBy(profile: LoadProfile, t: number): number {
    let total = 0;
    let at = 0;
    for (const step of profile) {
        if (t <= at) {
            break;
        }
        total += step.rps * (Math.min(t, at + step.seconds) - at);
        at += step.seconds;
    }
    return total;
}
