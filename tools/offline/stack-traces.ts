import { InputError } from "./stack-file";

interface ConfigProblems {
    readonly name: "ConfigError";
    readonly problems: readonly string[];
}

/** The program's ConfigError (config/errors.ts), recognised by shape: the program's bundle has its own class. */
export function isConfigError(error: unknown): error is ConfigProblems {
    return error instanceof Error && error.name === "ConfigError" && Array.isArray((error as Partial<ConfigProblems>).problems);
}

/**
 * Pulumi's SDK records a stack trace with every promise it creates (@pulumi/pulumi 3.270.0
 * runtime/debuggable.js debuggablePromise), for leak reports that only PULUMI_DEBUG_PROMISE_LEAKS
 * prints; that is a tenth of a plan's time. So the offline tools (the plan, and the SDK-alone
 * replay the bench compares it with) run without stack traces, and a run that fails is repeated
 * with them to say where it failed.
 */
export async function withStackTraceOnFailure<T>(run: () => Promise<T>): Promise<T> {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
        return await run();
    } catch (error) {
        Error.stackTraceLimit = limit;
        if (error instanceof InputError || isConfigError(error)) {
            throw error;
        }
        throw await run().then(() => error, (traced: unknown) => traced);
    } finally {
        Error.stackTraceLimit = limit;
    }
}
