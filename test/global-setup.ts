/**
 * Mocha's global setup, run once in the main process before any suite (and before the workers of
 * `--parallel` start): builds the commands (bin/) that the suites running them as a user does
 * need, unless bin/ is newer than its sources. Built per worker instead, one worker's build
 * would delete bin/ under a command another worker is running.
 */
import { buildTools } from "./mocks";

export function mochaGlobalSetup(): void {
    buildTools();
}
